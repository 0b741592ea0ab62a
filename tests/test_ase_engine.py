"""The ASE engine (glassflow.md.engines.ase): stage plans, thermostat, checkpoints and
exact resume, segment continuation, and the CHGNet calculator on cases with known answers.

Most tests drive the engine's loop with ASE's Lennard-Jones calculator (milliseconds per
step), so the bookkeeping is tested without torch; the CHGNet tests use the pretrained
weights shipped in the chgnet wheel (the ``mlip`` extra) on cells of at most 48 atoms.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import require_chgnet

from glassflow.io.trajectory import open_trajectory
from glassflow.md.engines.ase import AseEngine, AseSettings
from glassflow.md.engines.ase_files import (
    CHECKPOINT,
    read_data_atoms,
    read_state,
    write_data_atoms,
)
from glassflow.md.engines.ase_md import ATM_PER_EV_A3, KCAL_MOL_PER_EV, thermo_row
from glassflow.md.engines.ase_stages import melt_quench_stages as mq_stages
from glassflow.md.engines.ase_stages import production_stages as prod_stages

SPECIES = ["Na", "Si", "S"]
CHARGES = {"Na": 1.0, "Si": 4.0, "S": -2.0}
MASSES = {"Na": 22.98977, "Si": 28.0855, "S": 32.065}
CONTEXT = dict(species=SPECIES, charges=CHARGES, masses=MASSES, seed=5, label="lj", replica=1)
PROTOCOL = dict(
    timestep_fs=2.0,
    thermostat_damping_fs=50.0,
    minimize=False,
    melt_T_K=2000.0,
    melt_ps=0.1,
    quench={"mode": "rate", "rate_K_ps": 20000.0},
    relax_T_K=300.0,
    relax_ps=0.04,
    production_start="reheat",
    ramp_rate_K_ps=20000.0,
    equilibration_ps=0.04,
    production_ps=0.2,
    dump_interval_fs=10.0,
    dump_velocities=True,
    restart_interval_fs=40.0,
    thermo_interval_fs=20.0,
)


@dataclass(frozen=True)
class LJEngine(AseEngine):
    """The ASE engine with a Lennard-Jones calculator; ``fail_after`` force calls raise."""

    fail_after: int | None = None

    def calculator(self):
        from ase.calculators.lj import LennardJones

        calc = LennardJones(sigma=2.6, epsilon=0.02, rc=6.0, smooth=True)
        if self.fail_after is None:
            return calc
        limit = self.fail_after

        class Failing(LennardJones):
            calls = 0

            def calculate(self, *args, **kwargs):
                Failing.calls += 1
                if Failing.calls > limit:
                    raise KeyboardInterrupt("simulated kill")
                return super().calculate(*args, **kwargs)

        return Failing(sigma=2.6, epsilon=0.02, rc=6.0, smooth=True)

    def version(self) -> str:
        return "lj-test"


def lj_cell(path: Path, n_side: int = 4, a: float = 3.1) -> Path:
    """A simple cubic lattice of 64 atoms (Na, Si, S mixed), written as LAMMPS data."""
    from ase import Atoms

    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    symbols = [SPECIES[i % 3] for i in range(len(grid))]
    atoms = Atoms(symbols, positions=grid * a + 0.1, cell=[n_side * a] * 3, pbc=True)
    atoms.set_initial_charges([CHARGES[s] for s in symbols])
    atoms.set_masses([MASSES[s] for s in symbols])
    write_data_atoms(atoms, path, SPECIES)
    return path


def segment(index: int, start: int, end: int, start_file: Path) -> SimpleNamespace:
    return SimpleNamespace(index=index, start_step=start, end_step=end, start_file=start_file)


def thermo_physics(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["cpu_s"])


# ----------------------------------------------------------------------------- plans


def test_unit_factors_from_codata():
    e, n_a, kcal = 1.602176634e-19, 6.02214076e23, 4184.0  # C, 1/mol, J (exact)
    assert pytest.approx(e * n_a / kcal, rel=1e-12) == KCAL_MOL_PER_EV
    assert pytest.approx(e / 1e-30 / 101325.0, rel=1e-12) == ATM_PER_EV_A3


def test_stage_plans_follow_the_protocol():
    p = dict(PROTOCOL, melt_ps=2.0, relax_ps=1.0, equilibration_ps=0.5)
    p.update(quench={"mode": "rate", "rate_K_ps": 1000.0}, ramp_rate_K_ps=1000.0)
    # dt 2 fs: melt 2 ps = 1000 steps, quench 2000 -> 300 K at 1000 K/ps = 1.7 ps = 850,
    # relax 1 ps = 500
    mq = mq_stages(p)
    assert [(s.name, s.n_steps) for s in mq] == [("melt", 1000), ("quench", 850), ("relax", 500)]
    assert (mq[0].write_after, mq[-1].write_after) == ("melt.data", "glass.data")
    assert (mq[1].T_start_K, mq[1].T_end_K) == (2000.0, 300.0)
    # production at 1500 K from the glass: ramp 1.2 ps = 600 steps, equilibration 250,
    # then production steps 0..400
    first = prod_stages(p, 1500.0, 0, 400)
    assert [(s.name, s.n_steps, s.clock) for s in first] == [
        ("ramp", 600, "global"),
        ("equilibration", 250, "global"),
        ("production", 400, "production"),
    ]
    assert [(s.name, s.n_steps) for s in prod_stages(p, 1500.0, 400, 700)] == [("production", 300)]


def test_ramp_target_is_linear_and_ends_at_the_end_temperature():
    ramp = prod_stages(PROTOCOL, 1300.0, 0, 10)[0]  # 300 -> 1300 K over 25 steps
    targets = np.array([ramp.target_K(j) for j in range(ramp.n_steps)])
    assert ramp.n_steps == 25
    assert targets[-1] == pytest.approx(1300.0)
    assert np.allclose(np.diff(targets), 1000.0 / 25)


def test_settings_errors_name_the_key():
    with pytest.raises(ValueError, match=r"engine\.ase\.model.*0\.3\.0"):
        AseSettings.from_config({"model": "9.9"})
    with pytest.raises(ValueError, match=r"engine\.ase\.calculator"):
        AseSettings.from_config({"calculator": "mace"})
    with pytest.raises(ValueError, match=r"engine\.ase.*unknown keys \['thermostst'\]"):
        AseSettings.from_config({"thermostst": "bussi"})


def test_data_file_round_trip_keeps_positions_and_velocities(tmp_path):
    from ase import units

    cell = read_data_atoms(lj_cell(tmp_path / "cell.data"), SPECIES, MASSES)
    rng = np.random.default_rng(1)
    cell.set_velocities(rng.normal(size=(len(cell), 3)) * 0.01)
    write_data_atoms(cell, tmp_path / "back.data", SPECIES)
    back = read_data_atoms(tmp_path / "back.data", SPECIES, MASSES)
    assert back.get_chemical_symbols() == cell.get_chemical_symbols()
    assert np.allclose(back.get_positions(), cell.get_positions(), atol=1e-6)
    # velocities pass through LAMMPS real units (Å/fs) and back
    v = cell.get_velocities() * units.fs
    assert np.allclose(back.get_velocities() * units.fs, v, rtol=1e-6, atol=1e-12)


# ----------------------------------------------------------------------------- the loop


def run_production(engine, workdir: Path, start: Path, end: int, k: int = 1, begin: int = 0):
    workdir.mkdir(parents=True, exist_ok=True)
    return engine.run_segment(
        workdir,
        segment(k, begin, end, start),
        CONTEXT,
        PROTOCOL,
        900.0,
        workdir / "job.log",
        workdir / "frames.gtrj",
        workdir / "end.state",
    )


def test_melt_quench_writes_the_lammps_engine_outputs(tmp_path):
    lj_cell(tmp_path / "cell.data")
    info = LJEngine().melt_quench(tmp_path, CONTEXT, PROTOCOL, tmp_path / "job.log")
    assert (tmp_path / "glass.data").is_file() and (tmp_path / "melt.data").is_file()
    assert info["n_steps"] == 50 + 42 + 20  # 0.1 ps; 1700 K at 20 K/fs = 42.5 steps; 0.04 ps
    thermo = LJEngine().melt_quench_thermo(tmp_path)
    assert list(thermo["stage"].unique()) == ["melt", "quench", "relax"]
    # global clock: rows every 10 steps and at each stage's ends, as LAMMPS prints them
    assert thermo["step"].iloc[-1] == 112
    assert set(range(0, 113, 10)) <= set(thermo["step"])
    # pe and ke are the calculator's, converted to kcal/mol
    glass = read_data_atoms(tmp_path / "glass.data", SPECIES, MASSES)
    assert len(glass) == 64 and not (tmp_path / CHECKPOINT).exists()


@pytest.mark.slow
def test_thermostat_holds_the_target_temperature(tmp_path):
    """Bussi NVT: the mean kinetic temperature of a long run is the target, within the
    canonical spread T sqrt(2 / N_dof) per sample (N_dof = 3N - 3 with FixCom)."""
    start = lj_cell(tmp_path / "cell.data")
    long = dict(PROTOCOL, production_ps=6.0, equilibration_ps=1.0, thermo_interval_fs=40.0)
    work = tmp_path / "run"
    work.mkdir()
    LJEngine().run_segment(
        work, segment(1, 0, 3000, start), CONTEXT, long, 900.0, work / "log", work / "f.gtrj"
    )
    prod = LJEngine().production_thermo(work, 2.0).query("stage == 'production'")
    n_dof = 3 * 64 - 3
    spread = 900.0 * np.sqrt(2.0 / n_dof)
    # 150 rows 80 fs apart, about 2 thermostat times: ~40 independent samples
    assert abs(prod["temp_K"].mean() - 900.0) < 4 * spread / np.sqrt(40)
    assert prod["temp_K"].std() == pytest.approx(spread, rel=0.35)


def test_production_frames_and_thermo_on_the_production_clock(tmp_path):
    start = lj_cell(tmp_path / "cell.data")
    info = run_production(LJEngine(), tmp_path / "run", start, 100)
    traj = open_trajectory(tmp_path / "run" / "frames.gtrj", verify=True)
    assert traj.n_frames == info["n_frames"] == 21  # steps 0, 5, ..., 100 (10 fs at 2 fs)
    assert np.array_equal(traj.steps, np.arange(0, 101, 5))
    assert traj.has_velocities and traj.timestep_fs == 2.0
    thermo = LJEngine().production_thermo(tmp_path / "run", 2.0)
    prod = thermo[thermo["stage"] == "production"]
    assert list(prod["step"]) == list(range(0, 101, 10))
    # the thermo temperature is 2 KE / ((3N - 3) k_B) of the stored velocities (Å/ps):
    # CODATA amu and k_B, N_dof = 3N - 3 with the centre of mass fixed, as in LAMMPS
    amu, k_b = 1.66053906660e-27, 1.380649e-23
    m = np.array([MASSES[SPECIES[t]] for t in traj.types]) * amu
    v = traj.velocities().astype(np.float64) * 100.0  # Å/ps -> m/s
    t_frames = (m[None, :, None] * v**2).sum(axis=(1, 2)) / ((3 * 64 - 3) * k_b)
    every_other = prod.set_index("step")["temp_K"].loc[traj.steps[::2]].to_numpy()
    assert np.allclose(t_frames[::2], every_other, rtol=1e-5)
    # unwrapped positions: consecutive frames move by far less than a box length
    pos = traj.positions()
    assert np.abs(np.diff(pos, axis=0)).max() < 2.0
    # velocities in Å/ps agree with the displacement between frames (10 fs apart)
    vel = traj.velocities()
    mid = 0.5 * (vel[1:] + vel[:-1]) * 0.010
    assert np.corrcoef(mid.ravel(), np.diff(pos, axis=0).ravel())[0, 1] > 0.99


def test_resume_after_a_kill_is_bit_for_bit(tmp_path):
    start = lj_cell(tmp_path / "cell.data")
    ref = tmp_path / "ref"
    run_production(LJEngine(), ref, start, 100)
    work = tmp_path / "killed"
    # 135 steps (ramp 15, equilibration 20, production 100), checkpoints every 20 steps:
    # killed at step 125, after the checkpoint at step 120
    with pytest.raises(KeyboardInterrupt):
        run_production(LJEngine(fail_after=126), work, start, 100)
    assert read_state(work / CHECKPOINT).global_step == 120
    assert not (work / "frames.gtrj").exists()
    info = run_production(LJEngine(), work, start, 100)
    assert info["resumed_from_step"] == 120 and info["n_attempts"] == 2
    assert (work / "frames.gtrj").read_bytes() == (ref / "frames.gtrj").read_bytes()
    pd.testing.assert_frame_equal(
        thermo_physics(LJEngine().production_thermo(work, 2.0)),
        thermo_physics(LJEngine().production_thermo(ref, 2.0)),
    )
    assert "resuming" in (work / "job.log").read_text()


def test_a_changed_protocol_does_not_resume(tmp_path):
    start = lj_cell(tmp_path / "cell.data")
    work = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_production(LJEngine(fail_after=126), work, start, 100)
    old = PROTOCOL["thermostat_damping_fs"]
    PROTOCOL["thermostat_damping_fs"] = 80.0
    try:
        info = run_production(LJEngine(), work, start, 100)
    finally:
        PROTOCOL["thermostat_damping_fs"] = old
    assert info["resumed_from_step"] is None and info["n_attempts"] == 1
    assert "new run" in (work / "job.log").read_text().splitlines()[-1]


def test_segments_continue_one_another_exactly(tmp_path):
    """Segment 2 from segment 1's end state = the same steps of one unsegmented run."""
    start = lj_cell(tmp_path / "cell.data")
    whole = tmp_path / "whole"
    run_production(LJEngine(), whole, start, 100)
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    run_production(LJEngine(), s1, start, 50)
    run_production(LJEngine(), s2, s1 / "end.state", 100, k=2, begin=50)
    a, b = open_trajectory(s1 / "frames.gtrj"), open_trajectory(s2 / "frames.gtrj")
    w = open_trajectory(whole / "frames.gtrj")
    assert np.array_equal(np.concatenate([a.steps, b.steps]), w.steps)
    assert np.array_equal(np.concatenate([a.positions(), b.positions()]), w.positions())
    assert np.array_equal(np.concatenate([a.velocities(), b.velocities()]), w.velocities())


# ----------------------------------------------------------------------------- CHGNet


@pytest.fixture(scope="module")
def chgnet_calc():
    require_chgnet()
    return AseEngine().calculator()


def test_chgnet_binds_s2_near_its_known_bond_length(chgnet_calc):
    """CHGNet (trained on Materials Project PBE) puts the S2 minimum near 1.9 Å (the
    experimental S2 bond length is 1.889 Å; NIST CCCBDB) and binds it by eV."""
    from ase import Atoms

    r = np.arange(1.6, 3.01, 0.05)
    energy = []
    for d in r:
        s2 = Atoms("S2", positions=[[0, 0, 0], [d, 0, 0]], cell=[15.0] * 3, pbc=True)
        s2.calc = chgnet_calc
        energy.append(s2.get_potential_energy())
    energy = np.array(energy)
    assert 1.8 <= r[np.argmin(energy)] <= 2.0
    assert energy[-1] - energy.min() > 1.0


def small_glass(seed: int = 3):
    from glassflow.md.cell import build_random_cell
    from glassflow.md.composition import Composition

    comp = Composition("Na", "Si", "S", 16, 8, 24, 0.5, 2.0)
    return build_random_cell(comp, CHARGES, MASSES, 11.0, 2.0, seed)


def test_chgnet_forces_are_minus_the_energy_gradient(chgnet_calc):
    atoms = small_glass()
    atoms.calc = chgnet_calc
    forces = atoms.get_forces()
    h = 1e-3
    for i, axis in [(0, 0), (17, 1), (40, 2)]:
        e = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.positions[i, axis] += sign * h
            moved.calc = chgnet_calc
            e.append(moved.get_potential_energy())
        # float32 model: compare to 2 % of the force or 0.05 eV/Å
        assert forces[i, axis] == pytest.approx(-(e[0] - e[1]) / (2 * h), rel=0.02, abs=0.05)


def test_chgnet_energy_does_not_depend_on_unwrapping(chgnet_calc):
    atoms = small_glass()
    atoms.calc = chgnet_calc
    e0 = atoms.get_potential_energy()
    moved = atoms.copy()
    moved.positions[:5] += np.array([11.0, -22.0, 33.0])  # whole box vectors
    moved.calc = chgnet_calc
    assert moved.get_potential_energy() == pytest.approx(e0, abs=1e-4 * len(atoms))


def test_chgnet_pressure_rises_on_compression(chgnet_calc):
    """The thermo pressure (virial from the calculator's stress, ASE sign: P = -tr/3)."""
    out = []
    for scale in (1.0, 0.95):
        atoms = small_glass()
        atoms.set_cell(atoms.cell * scale, scale_atoms=True)
        atoms.calc = chgnet_calc
        out.append(thermo_row(atoms, "x", 0, 1.0, 0.0)["press_atm"])
    assert out[1] > out[0] + 1000.0  # atm: 5 % linear compression of a solid-like cell


SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from types import SimpleNamespace
    from glassflow.md.engines.ase import AseEngine
    work, start = Path(sys.argv[1]), Path(sys.argv[2])
    ctx = {ctx}
    proto = {proto}
    seg = SimpleNamespace(index=1, start_step=0, end_step=60, start_file=start)
    AseEngine().run_segment(work, seg, ctx, proto, 1200.0, work / "job.log",
                            work / "frames.gtrj", work / "end.state")
    """
)


@pytest.mark.slow
def test_chgnet_run_resumes_exactly_after_sigkill(tmp_path):
    """A CHGNet production killed with SIGKILL after a checkpoint resumes to the same
    frames, bit for bit, as the run that was never interrupted."""
    require_chgnet()
    from glassflow.md.cell import write_lammps_data

    start = write_lammps_data(small_glass(), tmp_path / "glass.data", tuple(SPECIES))
    proto = dict(PROTOCOL, timestep_fs=1.0, equilibration_ps=0.0, restart_interval_fs=20.0)
    proto.update(relax_T_K=1200.0, production_ps=0.06)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(ctx=repr(CONTEXT), proto=repr(proto)))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    runs = {}
    for name in ("ref", "killed"):
        work = tmp_path / name
        work.mkdir()
        proc = subprocess.Popen([sys.executable, str(script), str(work), str(start)], env=env)
        if name == "killed":  # wait for the checkpoint at step 40 (files, not time)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None:
                ck = work / CHECKPOINT
                if ck.is_file() and read_state(ck).global_step >= 40:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, "the run ended before its second checkpoint"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            assert not (work / "frames.gtrj").exists()
            proc = subprocess.Popen([sys.executable, str(script), str(work), str(start)], env=env)
        assert proc.wait(timeout=600) == 0
        runs[name] = work
    state = json.loads((runs["killed"] / "ase_state.json").read_text())
    assert len(state["attempts"]) == 2 and state["attempts"][1]["from_step"] >= 40
    ref, got = runs["ref"] / "frames.gtrj", runs["killed"] / "frames.gtrj"
    assert open_trajectory(got).n_frames == 7
    assert got.read_bytes() == ref.read_bytes()
    assert (runs["killed"] / "end.state").read_bytes() == (runs["ref"] / "end.state").read_bytes()


def test_a_velocity_seed_draws_new_velocities_reproducibly(tmp_path):
    """A replica that reheats another's glass gets new Maxwell-Boltzmann velocities: the
    same velocity seed gives the same run, another seed or none a different one."""
    start = lj_cell(tmp_path / "cell.data")

    def first_velocities(name, **extra):
        workdir = tmp_path / name
        workdir.mkdir()
        LJEngine().run_segment(
            workdir, segment(1, 0, 10, start), {**CONTEXT, **extra}, PROTOCOL, 900.0,
            workdir / "job.log", workdir / "frames.gtrj", workdir / "end.state",
        )  # fmt: skip
        return open_trajectory(workdir / "frames.gtrj").velocities()[0]

    plain = first_velocities("plain")
    a = first_velocities("a", velocity_seed=5)
    again = first_velocities("again", velocity_seed=5)
    other = first_velocities("other", velocity_seed=6)
    assert np.array_equal(a, again)
    assert np.abs(a - plain).max() > 0.1 and np.abs(a - other).max() > 0.1
