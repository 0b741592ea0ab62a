"""MD engines as interchangeable parts (glassflow.md.engines) and the MD jobs that use
them (glassflow.md.jobs), without Snakemake and without LAMMPS.

- ``engine_from_config`` picks the engine by ``engine.kind`` and refuses unknown kinds;
- the LAMMPS engine has the shape of ``MDEngine`` and forwards to the LAMMPS code;
- the production segment job, with a fake engine that writes a random walk: it refuses a
  segment the previous one did not ask for, runs and records a segment (D per species
  over segments 1..k, the decision, the engine), and a segmented run is stitched and
  recorded in run.json.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glassflow.io.trajectory import open_trajectory, write_trajectory
from glassflow.md.engines import (
    ENGINE_KINDS,
    MDEngine,
    engine_from_config,
    engine_record,
    lammps_run,
)
from glassflow.md.engines.lammps import LammpsEngine
from glassflow.md.jobs import run_production_segment, stitched_production, write_run_json
from glassflow.md.lammps import Engine, lammps_command
from glassflow.md.processes import SupervisorLost
from glassflow.md.segments import Segment, SegmentPlan, segment_steps

# --- choosing the engine -------------------------------------------------------------------------


def test_lammps_is_the_default_engine_with_the_launch_settings_of_the_block():
    engine = engine_from_config({"command": ["lmp_mpi"], "threads": 2, "kspace_style": "ewald"})
    assert isinstance(engine, LammpsEngine) and engine.kind == "lammps"
    assert engine.settings == Engine(command=("lmp_mpi",), threads=2)
    assert engine_from_config({"kind": "lammps"}) == LammpsEngine(Engine())


def test_ase_kind_builds_the_ase_engine_from_the_block(monkeypatch):
    seen = []

    class FakeAse:
        kind = "ase"

        @classmethod
        def from_config(cls, settings):
            seen.append(dict(settings))
            return cls()

    module = types.ModuleType("glassflow.md.engines.ase")
    module.AseEngine = FakeAse
    monkeypatch.setitem(sys.modules, "glassflow.md.engines.ase", module)
    engine = engine_from_config({"kind": "ase", "ase": {"model": "m"}})
    assert isinstance(engine, FakeAse)
    assert seen == [{"kind": "ase", "ase": {"model": "m"}}]


@pytest.mark.parametrize("kind", ["gromacs", "LAMMPS", ""])
def test_unknown_engine_kind_is_refused_naming_the_accepted_ones(kind):
    with pytest.raises(ValueError) as err:
        engine_from_config({"kind": kind})
    message = str(err.value)
    assert "engine.kind" in message and repr(kind) in message
    assert all(repr(k) in message for k in ENGINE_KINDS)


# --- the LAMMPS engine ---------------------------------------------------------------------------


def test_lammps_engine_is_an_md_engine_and_a_partial_one_is_not():
    engine = LammpsEngine.from_config({"command": ["lmp"]})
    assert isinstance(engine, MDEngine)

    class NoSegments:  # everything but run_segment
        kind = "x"

        def version(self):
            return "1"

        def command(self, input_name):
            return []

        def melt_quench(self, workdir, context, protocol, stdout_log):
            return {}

        def melt_quench_thermo(self, workdir):
            return pd.DataFrame()

        def production_thermo(self, workdir, timestep_fs):
            return pd.DataFrame()

    assert not isinstance(NoSegments(), MDEngine)


def test_lammps_engine_command_and_version_are_those_of_the_configured_executable(tmp_path):
    banner = "\nLarge-scale Atomic/Molecular Massively Parallel Simulator - 4 Feb 2025\n"
    exe = tmp_path / "lmp_engines_test"
    exe.write_text(f"#!/bin/sh\nprintf '{banner}'\n")
    exe.chmod(0o755)
    engine = LammpsEngine.from_config({"command": [str(exe)], "accelerator": "omp", "threads": 2})
    assert engine.version() == "4 Feb 2025"
    assert engine_record(engine) == {"kind": "lammps", "version": "4 Feb 2025"}
    command = engine.command("in.production.lmp")
    assert command == lammps_command(engine.settings, "in.production.lmp")
    assert command[0] == str(exe) and "omp" in command
    assert command[-5:] == ["-in", "in.production.lmp", "-log", "log.lammps", "-nocite"]


@pytest.mark.parametrize(
    ("error", "restart_kept"), [(RuntimeError("exit 1"), False), (SupervisorLost("gone"), True)]
)
def test_resume_drops_a_restart_file_only_when_lammps_cannot_read_it(
    tmp_path, monkeypatch, error, restart_kept
):
    """LAMMPS failing before the production stage: the restart file is unreadable and is
    deleted; the job's Snakemake gone: the checkpoint stays and the error propagates."""
    (tmp_path / "dump.0.lammpstrj").write_text("")
    restart = tmp_path / "restart.100.bin"
    restart.write_bytes(b"checkpoint")
    state = {"pieces": [{"dump": "dump.0.lammpstrj", "log": "log.lammps", "start_step": 0}]}

    def lammps_fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(lammps_run, "render_production_resume", lambda *a: "run 0\n")
    monkeypatch.setattr(lammps_run, "run_lammps", lammps_fails)
    args = (tmp_path, {}, {"timestep_fs": 1.0}, Engine(), 300.0, tmp_path / "job.log", state)
    segment = Segment(1, 0, 200, tmp_path / "glass.data")
    if restart_kept:
        with pytest.raises(SupervisorLost):
            lammps_run._resume(*args, segment, False)
    else:
        assert lammps_run._resume(*args, segment, False) is None
        assert "trying an older one" in (tmp_path / "job.log").read_text()
    assert restart.exists() == restart_kept


# --- the production segment job with a fake engine ---------------------------------------------

PROTOCOL = {"timestep_fs": 2.0, "dump_interval_fs": 100.0, "production_ps": 10.0}
SPECIES = ("Na", "Si")
TYPES = np.repeat([0, 1], [60, 20]).astype(np.int32)
D_TRUE = {"Na": 0.5, "Si": 0.05}  # A^2/ps
DYNAMICS = {"min_fit_time_ps": 0.5, "vanhove_lags_ps": [1.0], "fast_slow_lag_ps": 1.0}
KEYS = {"campaign": "t", "comp": "x0.50_m2.00", "T_K": 1500.0, "replica": 1}


class WalkEngine:
    """An MD engine whose atoms random-walk with D_TRUE; one walk across all segments."""

    kind = "walk"

    def __init__(self, n_steps: int = 20_000):
        rng = np.random.default_rng(11)
        every = round(PROTOCOL["dump_interval_fs"] / PROTOCOL["timestep_fs"])
        dt_ps = PROTOCOL["dump_interval_fs"] / 1000.0
        d = np.where(TYPES == 0, D_TRUE["Na"], D_TRUE["Si"])
        n = n_steps // every + 1
        moves = rng.normal(size=(n, TYPES.size, 3)) * np.sqrt(2 * d * dt_ps)[:, None]
        moves[0] = rng.uniform(0, 20, size=(TYPES.size, 3))
        self.positions = np.cumsum(moves, axis=0)
        self.every = every
        self.calls: list[tuple] = []

    def version(self) -> str:
        return "walk 1.0"

    def command(self, input_name: str) -> list[str]:
        return ["walk", input_name]

    def melt_quench(self, workdir, context, protocol, stdout_log):
        raise AssertionError("not used")

    def melt_quench_thermo(self, workdir):
        raise AssertionError("not used")

    def run_segment(
        self, workdir, segment, context, protocol, T_K, stdout_log, trajectory_out,
        end_state_out=None,
    ):  # fmt: skip
        self.calls.append((segment, T_K, Path(trajectory_out), end_state_out))
        steps = segment_steps(segment, protocol)
        dt = protocol["timestep_fs"]
        write_trajectory(
            trajectory_out, SPECIES, TYPES, self.positions[steps // self.every], [20.0] * 3,
            steps * dt / 1000.0, steps=steps, timestep_fs=dt,
        )  # fmt: skip
        if end_state_out is not None:
            Path(end_state_out).write_text(f"state at {segment.end_step}\n")
        pd.DataFrame(
            {"stage": "production", "step": steps, "temp_K": T_K, "etotal_kcal_mol": -1.0,
             "press_atm": 1.0}
        ).to_parquet(Path(workdir) / "walk_thermo.parquet")  # fmt: skip
        return {
            "wall_time_s": 1.5, "wall_time_s_last_attempt": 1.5, "n_attempts": 1,
            "lammps_version": self.version(), "n_frames": int(steps.size), "n_lammps_runs": 1,
            "resumed_from_step": None, "start_step": segment.start_step,
            "end_step": segment.end_step, "start_file": Path(segment.start_file).name,
            "start_sha256": "0" * 64,
        }  # fmt: skip

    def production_thermo(self, workdir, timestep_fs):
        return pd.read_parquet(Path(workdir) / "walk_thermo.parquet")


def _plan(**kw) -> SegmentPlan:
    base = dict(
        production_ps=10.0,
        segment_ps=10.0,
        max_production_ps=30.0,
        target_rel_error=0.1,
        converge_species=("Na",),
    )
    return SegmentPlan(**(base | kw))


def _segment(engine, tmp_path: Path, k: int, plan: SegmentPlan, previous: list[Path]):
    """Run segment k in tmp_path/seg<k>; its outputs are named like the workflow's."""
    d = tmp_path / f"seg{k}"
    d.mkdir(exist_ok=True)
    start_ps, end_ps = plan.bounds_ps(k)
    start = tmp_path / "glass.data" if k == 1 else tmp_path / f"seg{k - 1}" / "end.restart"
    start.touch()
    record = run_production_segment(
        engine,
        k,
        workdir=d,
        start_file=start,
        previous_record=None if k == 1 else tmp_path / f"seg{k - 1}" / "segment.json",
        previous_frames=previous,
        context={"species": list(SPECIES)},
        protocol=dict(PROTOCOL, segment_start_ps=start_ps, segment_end_ps=end_ps),
        run_keys=KEYS,
        engine_settings={"kind": "walk", "threads": 1},
        plan=plan,
        dynamics=DYNAMICS,
        stdout_log=d / "job.log",
        frames_out=d / "frames.gtrj",
        end_state_out=d / "end.restart",
        thermo_out=d / "thermo.parquet",
        record_out=d / "segment.json",
    )
    return d, record


def test_segment_job_refuses_a_segment_the_previous_one_did_not_ask_for(tmp_path):
    engine = WalkEngine()
    (tmp_path / "seg1").mkdir()
    previous = {"segment": 1, "total_ps": 10.0, "diffusion": {"Na": {"rel_error": 0.05}}}
    (tmp_path / "seg1" / "segment.json").write_text(json.dumps(previous))
    with pytest.raises(RuntimeError) as err:
        _segment(engine, tmp_path, 2, _plan(), [])
    assert str(err.value) == (
        "segment 2 is not needed: the run stopped after segment 1 "
        "(converged: rel. error of D_Na 0.05 <= 0.1)"
    )
    assert engine.calls == [] and not (tmp_path / "seg2" / "segment.json").exists()
    # with a tighter target the same record asks for segment 2, which then runs
    _, record = _segment(engine, tmp_path, 2, _plan(target_rel_error=0.01), [])
    assert [c[0] for c in engine.calls] == [
        Segment(2, 5000, 10000, tmp_path / "seg1" / "end.restart")
    ]
    assert record["segment"] == 2


def test_segment_job_records_d_over_the_run_so_far_and_the_engine(tmp_path):
    engine = WalkEngine()
    plan = _plan(target_rel_error=1e-6)  # never converged: stops at max_production_ps
    d1, rec1 = _segment(engine, tmp_path, 1, plan, [])
    d2, rec2 = _segment(engine, tmp_path, 2, plan, [d1 / "frames.gtrj"])
    seg, T_K, frames, end_state = engine.calls[0]
    assert seg == Segment(1, 0, 5000, tmp_path / "glass.data") and T_K == 1500.0
    assert (frames, end_state) == (d1 / "frames.gtrj", d1 / "end.restart")
    on_disk = json.loads((d2 / "segment.json").read_text())
    assert on_disk == json.loads(json.dumps(rec2))
    assert rec2["md_engine"] == {"kind": "walk", "version": "walk 1.0"}
    assert rec2["lammps_command"] == ["walk", "in.production.lmp"]
    assert rec2["lammps_version"] == "walk 1.0" and rec2["engine"] == {"kind": "walk", "threads": 1}
    assert (rec2["segment"], rec2["start_ps"], rec2["total_ps"]) == (2, 10.0, 20.0)
    assert rec2["n_frames"] == 100 and rec1["n_frames"] == 101
    assert rec2["mean_temp_K"] == 1500.0
    assert rec1["decision_when_written"]["stop"] is False
    assert rec2["decision_when_written"]["reason"].startswith("not converged")
    for el, d_true in D_TRUE.items():
        one, two = rec1["diffusion"][el], rec2["diffusion"][el]
        assert two["D_err_A2_ps"] < one["D_err_A2_ps"]  # fitted on segments 1 and 2
        assert abs(two["D_A2_ps"] - d_true) < 4 * two["D_err_A2_ps"], (el, two)
    assert pd.read_parquet(d2 / "thermo.parquet")["step"].iloc[0] == 5050

    # the run: frames and thermo stitched, run.json with the segments and the engine
    _, rec3 = _segment(engine, tmp_path, 3, plan, [d1 / "frames.gtrj", d2 / "frames.gtrj"])
    assert rec3["decision_when_written"]["reason"].startswith("max_production_ps reached")
    dirs = [tmp_path / f"seg{k}" for k in (1, 2, 3)]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    info, thermo = stitched_production(
        engine,
        run_dir,
        [d / "segment.json" for d in dirs],
        [d / "frames.gtrj" for d in dirs],
        [d / "thermo.parquet" for d in dirs],
        plan,
        run_dir / "trajectory.gtrj",
    )
    traj = open_trajectory(run_dir / "trajectory.gtrj", verify=True)
    assert traj.n_frames == info["n_frames"] == 301
    np.testing.assert_array_equal(traj.steps, np.arange(0, 15001, 50))
    assert len(thermo) == 301 and info["n_segments"] == 3
    assert info["stop_reason"].startswith("max_production_ps reached")
    assert info["md_engine"] == rec3["md_engine"] and info["wall_time_s"] == 4.5
    cell = {
        "seed": 7, "glass_wall_time_s": 2.0, "counts": {"Na": 60, "Si": 20}, "x_achieved": 0.5,
        "m_achieved": 2.0, "charges": {}, "potential_charges": {}, "net_charge_e": 0.0,
        "neutrality": "exact", "potential": "p", "box_A": 20.0, "density_g_cm3": 2.0,
    }  # fmt: skip
    (tmp_path / "glass.json").write_text(json.dumps(cell))
    run = write_run_json(
        engine, info, thermo, KEYS, tmp_path / "glass.json", PROTOCOL,
        {"kind": "walk"}, run_dir / "thermo.parquet", run_dir / "run.json",
    )  # fmt: skip
    assert json.loads((run_dir / "run.json").read_text()) == json.loads(json.dumps(run))
    assert run["md_engine"] == {"kind": "walk", "version": "walk 1.0"}
    assert run["lammps_version"] == "walk 1.0" and run["lammps_command"][-1] == "in.production.lmp"
    assert run["seed"] == 7 and run["T_K"] == 1500.0 and len(run["segments"]) == 3
