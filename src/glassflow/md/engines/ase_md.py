"""The MD loop of the ASE engine: stages of Bussi NVT with checkpoints and exact resume.

See :mod:`glassflow.md.engines.ase` for the engine and docs/physics.md §2 for the
thermostat, units and degrees of freedom.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from glassflow.io.atomic import write_json_atomic
from glassflow.io.trajectory import (
    TrajectoryHeader,
    TrajectoryWriter,
    open_trajectory,
)
from glassflow.md.engines.ase_files import (
    CHECKPOINT,
    STATE_FILE,
    STATE_FORMAT,
    THERMO_COLUMNS,
    THERMO_FILE,
    DynamicalState,
    previous_state,
    read_data_atoms,
    read_state,
    state_symbols,
    truncate_frames,
    truncate_thermo,
    write_data_atoms,
    write_state,
)
from glassflow.md.engines.ase_stages import Stage
from glassflow.runlog import note

#: checkpoint interval of stages whose protocol names none (the melt-quench), fs
MELT_QUENCH_CHECKPOINT_FS = 200.0
#: 1 eV in kcal/mol (CODATA via ASE's units: N_A e / 4184 J)
KCAL_MOL_PER_EV = 23.060547830619026
#: 1 eV/Å^3 in atm (1.602176634e11 Pa / 101325 Pa)
ATM_PER_EV_A3 = 1.602176634e11 / 101325.0


class AseEngineError(RuntimeError):
    """The ASE engine cannot run (calculator missing, bad state file, ...)."""


@dataclass(frozen=True)
class FramePlan:
    """Production frames to store: their steps, velocities or not, the output file."""

    steps: npt.NDArray[np.int64]
    velocities: bool
    out: Path


def thermo_row(atoms, stage: str, step: int, dt_fs: float, cpu_s: float) -> dict[str, Any]:
    from ase import units

    pe = float(atoms.get_potential_energy())
    ke = float(atoms.get_kinetic_energy())
    vol = float(atoms.get_volume())
    ndof = atoms.get_number_of_degrees_of_freedom()
    temp = 2.0 * ke / (ndof * units.kB)
    stress = atoms.get_stress(voigt=True, include_ideal_gas=False)
    virial_p = -float(np.sum(stress[:3])) / 3.0
    press = (ndof / 3.0 * units.kB * temp / vol + virial_p) * ATM_PER_EV_A3
    return {
        "stage": stage,
        "step": int(step),
        "time_ps": step * dt_fs / 1000.0,
        "temp_K": temp,
        "pe_kcal_mol": pe * KCAL_MOL_PER_EV,
        "ke_kcal_mol": ke * KCAL_MOL_PER_EV,
        "etotal_kcal_mol": (pe + ke) * KCAL_MOL_PER_EV,
        "press_atm": press,
        "vol_A3": vol,
        "cpu_s": cpu_s,
    }


def _stage_offsets(stages: Sequence[Stage]) -> list[int]:
    out, g = [], 0
    for s in stages:
        out.append(g)
        g += s.n_steps
    return out


def _position(stages: Sequence[Stage], g: int) -> tuple[int, int]:
    """(stage index, local step) of global step ``g`` (the step about to be made)."""
    for i, (s, g0) in enumerate(zip(stages, _stage_offsets(stages), strict=True)):
        if g < g0 + s.n_steps:
            return i, g - g0
    return len(stages), 0


def _header(atoms, species: Sequence[str], context, dt_fs: float, velocities: bool):
    symbols = atoms.get_chemical_symbols()
    return TrajectoryHeader(
        species=tuple(species),
        types=np.array([species.index(s) for s in symbols], dtype=np.int32),
        charges=np.array([context["charges"][s] for s in symbols], dtype=np.float64),
        masses=np.array([context["masses"][s] for s in symbols], dtype=np.float64),
        timestep_fs=float(dt_fs),
        has_velocities=velocities,
    )


def run_stages(
    engine: Any,  # glassflow.md.engines.ase.AseEngine (its calculator and settings)
    workdir: Path,
    start: Path,
    stages: Sequence[Stage],
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    key: Mapping[str, Any],
    *,
    seed: int,
    stdout_log: str | Path,
    minimize: bool,
    frames: FramePlan | None,
    end_state_out: Path | None = None,
    production_start: int = 0,
) -> dict[str, Any]:
    """Run ``stages`` from ``start`` (data file or state), resuming a matching checkpoint."""
    from ase import units
    from ase.constraints import FixCom
    from ase.md.bussi import Bussi
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    species = list(context["species"])
    dt_fs = float(protocol["timestep_fs"])
    thermo_every = max(1, round(protocol["thermo_interval_fs"] / dt_fs))
    # the melt-quench protocol has no restart interval (LAMMPS writes no restart there)
    ckpt_fs = float(protocol.get("restart_interval_fs", MELT_QUENCH_CHECKPOINT_FS))
    ckpt_every = max(1, round(ckpt_fs / dt_fs))
    total = sum(s.n_steps for s in stages)
    offsets = _stage_offsets(stages)
    t0 = time.perf_counter()

    state_doc = previous_state(workdir, key)
    resumed: DynamicalState | None = None
    if state_doc is not None:
        try:
            resumed = read_state(workdir / CHECKPOINT)
            truncate_thermo(workdir / THERMO_FILE, resumed.global_step)
            if frames is not None:
                n_keep = int(np.count_nonzero(frames.steps <= resumed.production_step))
                part = Path(str(frames.out) + ".part")
                if n_keep:
                    truncate_frames(part, n_keep, frames.velocities, resumed.positions.shape[0])
                else:
                    part.unlink(missing_ok=True)
        except (ValueError, OSError) as err:
            note(stdout_log, f"cannot resume from {CHECKPOINT} ({err}); starting clean")
            resumed, state_doc = None, None
    if state_doc is None:
        for name in (CHECKPOINT, THERMO_FILE, STATE_FILE):
            (workdir / name).unlink(missing_ok=True)
        if frames is not None:
            Path(str(frames.out) + ".part").unlink(missing_ok=True)
        state_doc = {"format": STATE_FORMAT, "key": dict(key), "attempts": []}
        note(
            stdout_log, f"new run in {workdir}: " + ", ".join(f"{k}={v!r}" for k, v in key.items())
        )
    state_doc["attempts"].append({"started_unix": time.time(), "from_step": 0})
    write_json_atomic(workdir / STATE_FILE, state_doc)

    calc = engine.calculator()
    # a data file (cell, glass or melt), else a segment's end state (positions, momenta,
    # generator and step)
    from_data = start.suffix == ".data"
    atoms = read_data_atoms(start, species, context["masses"]) if from_data else None
    rng = np.random.default_rng(seed)
    g = 0
    if resumed is not None or atoms is None:
        src = resumed if resumed is not None else read_state(start)
        if atoms is None:
            from ase import Atoms

            ref = state_symbols(src.meta, species)
            atoms = Atoms(symbols=ref, cell=src.cell, pbc=True)
            atoms.set_masses([context["masses"][s] for s in ref])
        atoms.set_cell(src.cell)
        atoms.set_positions(src.positions, apply_constraint=False)
        atoms.set_momenta(src.momenta, apply_constraint=False)
        rng.bit_generator.state = src.rng_state
        if resumed is not None:
            g = resumed.global_step
            state_doc["attempts"][-1]["from_step"] = g
            note(stdout_log, f"resuming {workdir} from {CHECKPOINT} at step {g} of {total}")
    atoms.set_initial_charges([context["charges"][s] for s in atoms.get_chemical_symbols()])
    atoms.calc = calc

    if g == 0 and resumed is None and from_data:
        if minimize:
            from ase.optimize import FIRE

            s = engine.settings
            FIRE(atoms, logfile=None).run(fmax=s.minimize_fmax_eV_A, steps=s.minimize_max_steps)
        if context.get("velocity_seed"):  # a replica that shares its glass: new velocities
            thermalize_momenta(
                atoms, stages[0].T_start_K, rng=np.random.default_rng(int(context["velocity_seed"]))
            )
        elif not np.any(atoms.get_momenta()):
            thermalize_momenta(atoms, stages[0].T_start_K, rng=rng)
        Stationary(atoms)
    atoms.set_constraint(FixCom())

    dyn = Bussi(
        atoms,
        timestep=dt_fs * units.fs,
        temperature_K=max(stages[0].T_start_K, 1e-3),
        taut=float(protocol["thermostat_damping_fs"]) * units.fs,
        rng=rng,
        logfile=None,
    )
    writer = None
    if frames is not None:
        part = Path(str(frames.out) + ".part")
        header = _header(atoms, species, context, dt_fs, frames.velocities)
        writer = TrajectoryWriter(part, header, append=part.is_file())
    thermo_path = workdir / THERMO_FILE
    new_thermo = not thermo_path.is_file()
    thermo_fh = open(thermo_path, "a")  # noqa: SIM115 - closed below
    if new_thermo:
        thermo_fh.write(",".join([*THERMO_COLUMNS, "global_step"]) + "\n")
        thermo_fh.flush()
    t_stage = time.perf_counter()

    def clock(i: int, local: int) -> int:
        gg = offsets[i] + local
        if stages[i].clock == "production":
            return production_start + local
        return gg

    def emit_thermo(i: int, local: int) -> None:
        row = thermo_row(
            atoms, stages[i].name, clock(i, local), dt_fs, time.perf_counter() - t_stage
        )
        values = [row[c] for c in THERMO_COLUMNS]
        thermo_fh.write(",".join(str(v) for v in values) + f",{offsets[i] + local}\n")
        thermo_fh.flush()

    def emit_frame(p: int) -> None:
        pos = atoms.get_positions()
        vel = atoms.get_velocities() * (units.fs * 1000.0) if frames.velocities else None
        box = np.diag(atoms.cell.array)
        writer.write(
            [p], [p * dt_fs / 1000.0], box[None, :], pos[None], None if vel is None else vel[None]
        )
        writer.flush()

    def snapshot(step_g: int, prod_step: int) -> DynamicalState:
        return DynamicalState(
            positions=atoms.get_positions().copy(),
            momenta=atoms.get_momenta().copy(),
            cell=np.array(atoms.cell.array),
            global_step=step_g,
            production_step=prod_step,
            rng_state=rng.bit_generator.state,
            meta={"symbols": atoms.get_chemical_symbols()},
        )

    frame_set = set(frames.steps.tolist()) if frames is not None else set()
    try:
        i, local = _position(stages, g)
        if g == 0:  # the state before the first step
            emit_thermo(0, 0)
            if stages[0].clock == "production" and production_start in frame_set:
                emit_frame(production_start)
        while i < len(stages):
            stage = stages[i]
            if local == 0 and g > 0:
                emit_thermo(i, 0)  # LAMMPS prints the first line of every run
                if stage.clock == "production" and production_start in frame_set:
                    emit_frame(production_start)
            for j in range(local, stage.n_steps):
                dyn.temp = stage.target_K(j) * units.kB
                dyn.target_kinetic_energy = 0.5 * dyn.temp * dyn.ndof
                dyn.step()
                g += 1
                done = j + 1
                # on the stage's own clock: production rows at production steps
                # 0, every, 2 every, ... as LAMMPS prints them after reset_timestep 0
                if clock(i, done) % thermo_every == 0 or done == stage.n_steps:
                    emit_thermo(i, done)
                if stage.clock == "production" and (production_start + done) in frame_set:
                    emit_frame(production_start + done)
                # never at the end of a stage: a resume then always lands inside a
                # stage, after that stage's start row, first frame and data file
                if g % ckpt_every == 0 and done < stage.n_steps:
                    prod = production_start + done if stage.clock == "production" else -1
                    write_state(workdir / CHECKPOINT, snapshot(g, prod))
            if stage.write_after:
                write_data_atoms(atoms, workdir / stage.write_after, species)
            i, local = i + 1, 0
            t_stage = time.perf_counter()
    finally:
        thermo_fh.close()
        if writer is not None:
            writer.close()

    n_frames = 0
    if frames is not None:
        part = Path(str(frames.out) + ".part")
        traj = open_trajectory(part, verify=True)
        if not np.array_equal(traj.steps, frames.steps):
            raise AseEngineError(f"{part}: frames at steps other than the planned ones")
        n_frames = traj.n_frames
        os.replace(part, frames.out)
    end_prod = production_start + (stages[-1].n_steps if stages[-1].clock == "production" else 0)
    if end_state_out is not None:
        write_state(end_state_out, snapshot(g, end_prod))
    wall = time.perf_counter() - t0
    state_doc["attempts"][-1]["wall_s"] = wall
    state_doc["finished"] = True
    write_json_atomic(workdir / STATE_FILE, state_doc)
    (workdir / CHECKPOINT).unlink(missing_ok=True)
    attempts = state_doc["attempts"]
    return {
        "wall_time_s": float(sum(a.get("wall_s", 0.0) for a in attempts)),
        "wall_time_s_last_attempt": wall,
        "n_attempts": len(attempts),
        "n_frames": n_frames,
        "n_steps": total,
        "resumed_from_step": None if resumed is None else resumed.global_step,
    }
