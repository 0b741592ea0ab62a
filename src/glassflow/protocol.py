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
from glassflow.lammps_io import dump_to_trajectory, parse_thermo
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

    The text dump is converted frame by frame to ``trajectory_out`` (via ``.part``),
    checked for the expected frame count, and deleted.
    """
    workdir = Path(workdir)
    rel_start = os.path.relpath(start_file, workdir)
    ctx = dict(context, rerun_command=rerun_hint(engine, "in.production.lmp"))
    (workdir / "in.production.lmp").write_text(render_production(ctx, protocol, T_K, rel_start))
    dump = workdir / "dump.lammpstrj"
    dump.unlink(missing_ok=True)
    t0 = time.perf_counter()
    run_lammps(
        lammps_command(engine, "in.production.lmp"), workdir, stdout_log, threads=engine.threads
    )
    wall = time.perf_counter() - t0
    species = tuple(context["species"])
    part = Path(str(trajectory_out) + ".part")
    n = dump_to_trajectory(
        dump,
        part,
        species,
        [context["charges"][el] for el in species],
        [context["masses"][el] for el in species],
        float(protocol["timestep_fs"]),
    )
    expected = expected_frames(protocol)
    if n != expected:
        raise RuntimeError(f"{dump}: {n} frames written, expected {expected}")
    open_trajectory(part, verify=True)
    os.replace(part, trajectory_out)
    dump.unlink()
    return {
        "wall_time_s": wall,
        "lammps_version": lammps_version(workdir / "log.lammps"),
        "n_frames": n,
    }


def expected_frames(protocol: Mapping[str, Any]) -> int:
    """Frames of a production run: step 0 and every dump interval up to the end."""
    dt = protocol["timestep_fs"]
    n_steps = round(protocol["production_ps"] * 1000.0 / dt)
    every = round(protocol["dump_interval_fs"] / dt)
    return n_steps // every + 1


def provenance() -> dict[str, Any]:
    """Host and Python facts recorded with each run."""
    return {"host": platform.node(), "python": platform.python_version()}
