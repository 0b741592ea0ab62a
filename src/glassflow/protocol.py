"""Running the protocol stages (physics.md §3) in their run directories.

Each stage renders its LAMMPS input next to its outputs, runs LAMMPS there, and
writes its declared outputs last and atomically (``*.part`` then rename), so a job
killed half way never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from glassflow.lammps import (
    Engine,
    lammps_command,
    render_melt_quench,
    render_production,
    run_lammps,
)
from glassflow.lammps_io import dump_to_trajectory
from glassflow.trajectory import open_trajectory


def write_json_atomic(path: str | Path, doc: Mapping[str, Any]) -> None:
    """Write JSON via a temporary file and rename (atomic on POSIX)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def write_parquet_atomic(df, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def lammps_version(log_path: str | Path) -> str:
    """Version string from the first line of a LAMMPS log, e.g. ``22 Jul 2025 - Update 4``."""
    try:
        with open(log_path) as fh:
            first = fh.readline().strip()
    except OSError:
        return "unknown"
    return first.removeprefix("LAMMPS (").removesuffix(")") or "unknown"


def rerun_hint(engine: Engine, input_name: str) -> str:
    return " ".join(lammps_command(engine, input_name, resolve=False))


def run_melt_quench(
    workdir: str | Path,
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    engine: Engine,
    stdout_log: str | Path,
) -> dict[str, Any]:
    """Melt, quench and relax ``cell.data`` in ``workdir``; writes glass.data, melt.data.

    Returns wall time and LAMMPS version; the thermo table is written by the caller.
    """
    workdir = Path(workdir)
    ctx = dict(context, rerun_command=rerun_hint(engine, "in.melt_quench.lmp"))
    (workdir / "in.melt_quench.lmp").write_text(render_melt_quench(ctx, protocol))
    for stale in ("glass.data", "melt.data"):
        (workdir / stale).unlink(missing_ok=True)
    t0 = time.perf_counter()
    run_lammps(
        lammps_command(engine, "in.melt_quench.lmp"), workdir, stdout_log, threads=engine.threads
    )
    wall = time.perf_counter() - t0
    for out in ("glass.data", "melt.data"):
        if not (workdir / out).is_file():
            raise RuntimeError(f"LAMMPS finished without writing {workdir / out}")
    return {"wall_time_s": wall, "lammps_version": lammps_version(workdir / "log.lammps")}


RESTART_GLOB = "restart.*.bin"
STATE_FILE = "production_state.json"


def restart_files(workdir: str | Path) -> list[tuple[int, Path]]:
    """Restart files ``restart.<step>.bin`` of a run directory, newest first."""
    found = []
    for p in Path(workdir).glob(RESTART_GLOB):
        step = p.name.split(".")[1]
        if step.isdigit() and p.stat().st_size > 0:
            found.append((int(step), p))
    return sorted(found, reverse=True)


def _input_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _clean_run_dir(workdir: Path) -> None:
    for pattern in (RESTART_GLOB, "dump.*.lammpstrj", "log.*.lammps", "in.resume.*.lmp"):
        for p in workdir.glob(pattern):
            p.unlink()
    for name in ("log.lammps", "final.data", STATE_FILE):
        (workdir / name).unlink(missing_ok=True)


def run_production(
    workdir: str | Path,
    start_file: str | Path,
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    engine: Engine,
    T_K: float,
    stdout_log: str | Path,
    trajectory_out: str | Path,
) -> dict[str, Any]:
    """Ramp to ``T_K``, equilibrate and run production; writes the compact trajectory.

    Restartable: LAMMPS writes ``restart.<step>.bin`` every ``restart_interval_fs``
    during production. If a previous attempt with the same input stopped (wall-time
    kill, node failure), the run resumes from the newest restart file that LAMMPS
    can read, writing a new dump segment; segments are stitched so the trajectory
    holds every configured frame exactly once. Checkpoints are not workflow outputs.
    """
    workdir = Path(workdir)
    rel_start = os.path.relpath(start_file, workdir)
    ctx = dict(
        context, rerun_command=rerun_hint(engine, "in.production.lmp"), dump_file="dump.0.lammpstrj"
    )
    text = render_production(ctx, protocol, T_K, rel_start)
    state_path = workdir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    if state.get("input_hash") != _input_hash(text):
        _clean_run_dir(workdir)
        state = {"input_hash": _input_hash(text), "segments": []}
    n_steps = round(protocol["production_ps"] * 1000.0 / protocol["timestep_fs"])
    t0 = time.perf_counter()
    segments: list[dict[str, Any]] = state["segments"]
    resumed_from = None
    if segments and _finished(workdir / segments[-1]["log"]) and (workdir / "final.data").is_file():
        pass  # LAMMPS finished in an earlier attempt; only the conversion is left
    elif not segments or not restart_files(workdir):
        _clean_run_dir(workdir)
        segments = state["segments"] = [
            {"dump": "dump.0.lammpstrj", "log": "log.lammps", "start_step": 0}
        ]
        (workdir / "in.production.lmp").write_text(text)
        write_json_atomic(state_path, state)
        run_lammps(
            lammps_command(engine, "in.production.lmp"), workdir, stdout_log, threads=engine.threads
        )
    else:
        resumed_from = _resume(workdir, context, protocol, engine, T_K, stdout_log, state, n_steps)
    wall = time.perf_counter() - t0
    n = _stitch(workdir, state["segments"], context, protocol, Path(str(trajectory_out) + ".part"))
    expected = expected_frames(protocol)
    part = Path(str(trajectory_out) + ".part")
    if n != expected:
        raise RuntimeError(f"{workdir}: {n} frames stitched, expected {expected}")
    traj = open_trajectory(part, verify=True)
    dump_steps = round(protocol["dump_interval_fs"] / protocol["timestep_fs"])
    if not np.array_equal(traj.steps, np.arange(expected) * dump_steps):
        raise RuntimeError(f"{part}: time stamps are not 0, {dump_steps}, ... as configured")
    os.replace(part, trajectory_out)
    for pattern in (RESTART_GLOB, "dump.*.lammpstrj"):
        for p in workdir.glob(pattern):
            p.unlink()
    return {
        "wall_time_s": wall,
        "lammps_version": lammps_version(workdir / "log.lammps"),
        "n_frames": n,
        "n_segments": len(state["segments"]),
        "resumed_from_step": resumed_from,
    }


def _finished(log_path: Path) -> bool:
    """True when a LAMMPS log ends with its 'Total wall time' line."""
    if not log_path.is_file():
        return False
    with open(log_path, "rb") as fh:
        fh.seek(max(0, log_path.stat().st_size - 4096))
        return b"Total wall time" in fh.read()


def _resume(workdir, context, protocol, engine, T_K, stdout_log, state, n_steps) -> int:
    """Continue production from the newest readable restart file; returns its step."""
    from glassflow.lammps import render_production_resume

    errors = []
    for step, path in restart_files(workdir):
        k = len(state["segments"])
        name = f"in.resume.{k}.lmp"
        ctx = dict(
            context,
            rerun_command=rerun_hint(engine, name),
            dump_file=f"dump.{k}.lammpstrj",
            restart_file=path.name,
            restart_step=step,
        )
        (workdir / name).write_text(render_production_resume(ctx, protocol, T_K))
        log_name = f"log.{k}.lammps"
        state["segments"].append({"dump": ctx["dump_file"], "log": log_name, "start_step": step})
        write_json_atomic(workdir / STATE_FILE, state)
        try:
            run_lammps(
                lammps_command(engine, name, log_file=log_name),
                workdir,
                stdout_log,
                threads=engine.threads,
            )
            return step
        except RuntimeError as err:
            errors.append(f"{path.name}: {err}")
            state["segments"].pop()
            (workdir / ctx["dump_file"]).unlink(missing_ok=True)
            path.unlink()  # unreadable or failing restart: fall back to an older one
    raise RuntimeError(f"{workdir}: no restart file could be resumed:\n" + "\n".join(errors))


def _stitch(workdir, segments, context, protocol, part: Path) -> int:
    """Convert dump segments in order; frames of a segment stop where the next one starts."""
    species = tuple(context["species"])
    part.unlink(missing_ok=True)
    total = 0
    for i, seg in enumerate(segments):
        stop = segments[i + 1]["start_step"] if i + 1 < len(segments) else None
        total += dump_to_trajectory(
            workdir / seg["dump"],
            part,
            species,
            [context["charges"][el] for el in species],
            [context["masses"][el] for el in species],
            float(protocol["timestep_fs"]),
            append=i > 0,
            min_step=-1,
            max_step=None if stop is None else stop - 1,
        )
    return total


def production_logs(workdir: str | Path) -> list[Path]:
    """LAMMPS logs of a production run in segment order (first run, then resumes)."""
    workdir = Path(workdir)
    state_path = workdir / STATE_FILE
    if state_path.is_file():
        return [workdir / s["log"] for s in json.loads(state_path.read_text())["segments"]]
    return [workdir / "log.lammps"]


def expected_frames(protocol: Mapping[str, Any]) -> int:
    """Frames of a production run: step 0 and every dump interval up to the end."""
    dt = protocol["timestep_fs"]
    n_steps = round(protocol["production_ps"] * 1000.0 / dt)
    every = round(protocol["dump_interval_fs"] / dt)
    return n_steps // every + 1


def provenance() -> dict[str, Any]:
    """Host and Python facts recorded with each run."""
    return {"host": platform.node(), "python": platform.python_version()}
