"""Running the LAMMPS stages (physics.md §3) in their run directories.

Each stage renders its LAMMPS input next to its outputs, runs LAMMPS there, and
writes its declared outputs last and atomically (``*.part`` then rename), so a job
killed half way never leaves a file that looks complete. A production segment resumes
from its newest restart file (bookkeeping in :mod:`.lammps_restart`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from glassflow.io.atomic import write_json_atomic
from glassflow.io.trajectory import TrajectoryError, open_trajectory
from glassflow.md.engines import MELT_QUENCH_INPUT, PRODUCTION_INPUT
from glassflow.md.engines.lammps_restart import (
    END_RESTART,
    RESTART_GLOB,
    STATE_FILE,
    STATE_FORMAT,
    attempts_wall_s,
    clean_run_dir,
    describe_key,
    n_attempts,
    piece_wall_s,
    previous_attempt,
    production_key,
    production_started,
    restart_files,
)
from glassflow.md.engines.lammps_version import lammps_version
from glassflow.md.lammps import (
    Engine,
    lammps_command,
    render_melt_quench,
    render_production,
    render_production_resume,
    run_lammps,
)
from glassflow.md.lammps_io import dump_to_trajectory
from glassflow.md.processes import SupervisorLost
from glassflow.md.run_lock import RunLock, run_lock
from glassflow.md.segments import Segment, segment_steps
from glassflow.runlog import note


def rerun_hint(engine: Engine, input_name: str) -> str:
    """The command line that reruns ``input_name`` by hand (a comment in the input)."""
    return " ".join(lammps_command(engine, input_name, resolve=False))


def run_melt_quench(
    workdir: str | Path,
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    engine: Engine,
    stdout_log: str | Path,
) -> dict[str, Any]:
    """Melt, quench and relax ``cell.data`` in ``workdir``; writes glass.data, melt.data.

    Parameters
    ----------
    workdir
        The glass directory (holds ``cell.data``).
    context
        Template context: force field, label, replica, seed.
    protocol
        The melt-quench protocol.
    engine
        How LAMMPS is launched.
    stdout_log
        The job log LAMMPS' stdout is appended to.

    Returns
    -------
    dict
        ``wall_time_s`` and ``lammps_version`` (from the run's log); the thermo table is
        written by the caller.
    """
    workdir = Path(workdir)
    ctx = dict(context, rerun_command=rerun_hint(engine, MELT_QUENCH_INPUT))
    text = render_melt_quench(ctx, protocol)
    t0 = time.perf_counter()
    with run_lock(workdir, say=lambda m: note(stdout_log, m, "melt-quench")) as lock:
        (workdir / MELT_QUENCH_INPUT).write_text(text)
        for stale in ("glass.data", "melt.data"):
            (workdir / stale).unlink(missing_ok=True)
        run_lammps(
            lammps_command(engine, MELT_QUENCH_INPUT),
            workdir,
            stdout_log,
            threads=engine.threads,
            lock=lock,
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
    """Ramp to ``T_K``, equilibrate and run the whole production in one go.

    The single-segment case of :func:`run_segment` (``protocol.production_ps`` long,
    no end state kept): see there for the parameters, restarts and reruns.
    """
    segment = Segment.whole_run(protocol, start_file)
    return run_segment(workdir, segment, context, protocol, engine, T_K, stdout_log, trajectory_out)


def render_segment_input(
    workdir: Path,
    segment: Segment,
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    T_K: float,
    keep_end_state: bool,
) -> str:
    """The LAMMPS input of a segment, run in ``workdir`` (paths relative to it).

    First segment: ``production.lmp.j2`` (ramp, equilibration, production up to
    ``end_step``). Later segments: ``production_resume.lmp.j2`` from the previous
    segment's restart file, up to ``end_step``. With ``keep_end_state`` the input ends
    with ``write_restart`` of :data:`END_RESTART`.
    """
    dt = protocol["timestep_fs"]
    to_end = dict(protocol, production_ps=segment.end_step * dt / 1000.0)
    start = os.path.relpath(segment.start_file, workdir)
    ctx = dict(context, dump_file="dump.0.lammpstrj")
    if keep_end_state:
        ctx["end_restart_file"] = END_RESTART
    if segment.index == 1:
        return render_production(ctx, to_end, T_K, start)
    ctx.update(restart_file=start, restart_step=segment.start_step)
    return render_production_resume(ctx, to_end, T_K)


def run_segment(
    workdir: str | Path,
    segment: Segment,
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    engine: Engine,
    T_K: float,
    stdout_log: str | Path,
    trajectory_out: str | Path,
    end_restart_out: str | Path | None = None,
) -> dict[str, Any]:
    """Run one production segment in ``workdir``; writes its frames to ``trajectory_out``.

    With ``end_restart_out``, LAMMPS writes the end state with ``write_restart`` and it
    is moved there (the start of the next segment).

    Restartable: LAMMPS writes ``restart.<step>.bin`` every ``restart_interval_fs``
    during production. An earlier attempt is continued only if its key
    (``production_key``: input commands, starting structure or restart file, seed,
    LAMMPS version) equals this one's:

    - LAMMPS had finished and its dumps are there: they are only converted;
    - it stopped half way (wall-time kill, node failure, Ctrl-C): the segment resumes
      from the newest restart file LAMMPS can read, writing a new dump piece; pieces are
      stitched so the trajectory holds every configured frame exactly once.

    Anything else (no earlier attempt, a changed key, an unreadable state file, a
    missing dump, no usable restart file, dumps that do not convert) starts the segment
    clean, and the reason is written to ``stdout_log``. So a segment can always be
    rerun. Checkpoints and dumps are not workflow outputs and are removed at the end.

    Parameters
    ----------
    workdir
        The run directory.
    segment
        Which production steps to run, and the file to start from.
    context
        Template context: force field, label, replica.
    protocol
        The run's protocol.
    engine
        How LAMMPS is launched.
    T_K
        Production temperature.
    stdout_log
        The job log LAMMPS' stdout is appended to.
    trajectory_out
        The segment's frame file.
    end_restart_out
        Where the end state goes (None: not kept).

    Returns
    -------
    dict
        ``wall_time_s`` (all attempts), ``wall_time_s_last_attempt``, ``n_attempts``,
        ``lammps_version`` (from the log), ``n_frames``, ``n_lammps_runs``,
        ``resumed_from_step``, ``start_step``, ``end_step``, ``start_file`` (its name)
        and ``start_sha256``.
    """
    workdir = Path(workdir)
    with run_lock(workdir, say=lambda m: note(stdout_log, m)) as lock:
        return _run_segment_locked(
            workdir,
            segment,
            context,
            protocol,
            engine,
            T_K,
            stdout_log,
            trajectory_out,
            end_restart_out,
            lock,
        )


def _run_segment_locked(
    workdir: Path,
    segment: Segment,
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    engine: Engine,
    T_K: float,
    stdout_log: str | Path,
    trajectory_out: str | Path,
    end_restart_out: str | Path | None,
    lock: RunLock,
) -> dict[str, Any]:
    keep = end_restart_out is not None
    hinted = dict(context, rerun_command=rerun_hint(engine, PRODUCTION_INPUT))
    text = render_segment_input(workdir, segment, hinted, protocol, T_K, keep)
    key = production_key(text, segment.start_file, context, engine)
    end_files = ("final.data", END_RESTART) if keep else ("final.data",)
    part = Path(str(trajectory_out) + ".part")
    state, reason, finished = previous_attempt(workdir, key, end_files)
    t0 = time.perf_counter()
    # wall time of the earlier attempts at this run (a killed one: up to its log's last write)
    earlier_wall = 0.0 if state is None else attempts_wall_s(workdir, state)
    resumed_from = None
    n = None
    if state is not None and finished:
        note(
            stdout_log, f"LAMMPS finished in an earlier attempt in {workdir}; converting its dumps"
        )
        try:
            n = _convert(workdir, state["pieces"], segment, context, protocol, part)
        except (OSError, ValueError, RuntimeError, TrajectoryError) as err:
            # stale dumps that do not convert: redo the run from scratch
            state, reason = None, f"the dumps of the earlier attempt do not convert ({err})"
    elif state is not None:
        resumed_from = _resume(
            workdir, context, protocol, engine, T_K, stdout_log, state, segment, keep, lock
        )
        if resumed_from is None:
            state, reason = None, "no restart file could be resumed (see above)"
    if state is None:
        earlier_wall = 0.0  # a new run: the files of earlier attempts are removed
        if reason == "no earlier attempt":
            note(stdout_log, f"new run in {workdir}: " + describe_key(key))
        else:
            note(stdout_log, f"starting clean in {workdir}: {reason}; now " + describe_key(key))
        clean_run_dir(workdir)
        state = {
            "format": STATE_FORMAT,
            "key": key,
            "segment": {
                "index": segment.index,
                "start_step": segment.start_step,
                "end_step": segment.end_step,
            },
            "pieces": [
                {
                    "dump": "dump.0.lammpstrj",
                    "log": "log.lammps",
                    "start_step": segment.start_step,
                    "started_unix": time.time(),
                }
            ],
        }
        (workdir / PRODUCTION_INPUT).write_text(text)
        write_json_atomic(workdir / STATE_FILE, state)
        t_run = time.perf_counter()
        run_lammps(
            lammps_command(engine, PRODUCTION_INPUT),
            workdir,
            stdout_log,
            threads=engine.threads,
            lock=lock,
        )
        state["pieces"][-1]["wall_s"] = time.perf_counter() - t_run
    if n is None:
        n = _convert(workdir, state["pieces"], segment, context, protocol, part)
    wall = time.perf_counter() - t0
    os.replace(part, trajectory_out)
    if keep:
        os.replace(workdir / END_RESTART, end_restart_out)
    write_json_atomic(workdir / STATE_FILE, dict(state, converted=True))
    for pattern in (RESTART_GLOB, "dump.*.lammpstrj"):
        for p in workdir.glob(pattern):
            p.unlink()
    return {
        "wall_time_s": earlier_wall + wall,
        "wall_time_s_last_attempt": wall,
        "n_attempts": n_attempts(state) + (1 if finished else 0),
        "lammps_version": lammps_version(workdir / "log.lammps"),
        "n_frames": n,
        "n_lammps_runs": len(state["pieces"]),
        "resumed_from_step": resumed_from,
        "start_step": segment.start_step,
        "end_step": segment.end_step,
        "start_file": segment.start_file.name,
        "start_sha256": key["start_sha256"],
    }


def _convert(workdir: Path, pieces, segment: Segment, context, protocol, part: Path) -> int:
    """Stitch the dump pieces into ``part`` and check frame count and time stamps."""
    first_kept = -1 if segment.index == 1 else segment.start_step
    n = _stitch_dumps(workdir, pieces, context, protocol, part, first_kept)
    expected = segment_steps(segment, protocol)
    if n != expected.size:
        raise RuntimeError(f"{workdir}: {n} frames stitched, expected {expected.size}")
    traj = open_trajectory(part, verify=True)
    if not np.array_equal(traj.steps, expected):
        raise RuntimeError(
            f"{part}: time stamps are not {expected[0]}, {expected[1] if n > 1 else ''}, ... "
            "as configured"
        )
    return n


def _resume(
    workdir,
    context,
    protocol,
    engine,
    T_K,
    stdout_log,
    state,
    segment: Segment,
    keep: bool,
    lock: RunLock | None = None,
) -> int | None:
    """Continue a segment from the newest readable restart file; returns its step.

    Pieces that start at or after the chosen restart step are superseded and dropped,
    so stitching stays exact even when newer restart files are unusable. A restart
    file that LAMMPS cannot read is deleted and the next older one is tried; a failure
    after the restart file was read is raised (the checkpoints stay for the next
    attempt). None when no restart file could be resumed.
    """
    for step, path in restart_files(workdir):
        kept = [s for s in state["pieces"] if s["start_step"] < step]
        missing = [s["dump"] for s in kept if not (workdir / s["dump"]).is_file()]
        if not kept or missing or step > segment.end_step:
            why = f"dump {missing[0]} is missing" if missing else "it is outside the segment"
            note(stdout_log, f"cannot resume from {path.name}: {why}")
            continue
        for piece in state["pieces"]:  # a killed run's wall time, while its log is there
            piece["wall_s"] = piece_wall_s(workdir, piece)
        for s in state["pieces"][len(kept) :]:  # superseded by this restart
            (workdir / s["dump"]).unlink(missing_ok=True)
            state["superseded_wall_s"] = state.get("superseded_wall_s", 0.0) + s["wall_s"]
            state["superseded_pieces"] = state.get("superseded_pieces", 0) + 1
        k = len(kept)
        name = f"in.resume.{k}.lmp"
        ctx = dict(
            context,
            rerun_command=rerun_hint(engine, name),
            dump_file=f"dump.{k}.lammpstrj",
            restart_file=path.name,
            restart_step=step,
        )
        if keep:
            ctx["end_restart_file"] = END_RESTART
        dt = protocol["timestep_fs"]
        to_end = dict(protocol, production_ps=segment.end_step * dt / 1000.0)
        (workdir / name).write_text(render_production_resume(ctx, to_end, T_K))
        log_name = f"log.{k}.lammps"
        piece = {
            "dump": ctx["dump_file"],
            "log": log_name,
            "start_step": step,
            "started_unix": time.time(),
        }
        state["pieces"] = [*kept, piece]
        write_json_atomic(workdir / STATE_FILE, state)
        note(stdout_log, f"resuming {workdir} from {path.name} (step {step}), piece {k}")
        t_run = time.perf_counter()
        try:
            run_lammps(
                lammps_command(engine, name, log_file=log_name),
                workdir,
                stdout_log,
                threads=engine.threads,
                lock=lock,
            )
            piece["wall_s"] = time.perf_counter() - t_run
            return step
        except SupervisorLost:
            # the job is being given up (its Snakemake is gone), not the restart file:
            # keep every checkpoint for the next attempt
            raise
        except RuntimeError:
            # run_lammps raises RuntimeError when LAMMPS exits non-zero; before the
            # production stage started that means it could not read this restart file
            if production_started(workdir / log_name):
                raise
            note(stdout_log, f"LAMMPS could not resume from {path.name}; trying an older one")
            state["pieces"] = kept
            write_json_atomic(workdir / STATE_FILE, state)
            (workdir / ctx["dump_file"]).unlink(missing_ok=True)
            path.unlink()  # unreadable restart file: fall back to an older one
    return None


def _stitch_dumps(workdir, pieces, context, protocol, part: Path, first_kept: int = -1) -> int:
    """Convert dump pieces in order; frames of a piece stop where the next one starts.

    Frames at or before step ``first_kept`` are skipped (a later segment's dump starts
    with the previous segment's last frame).
    """
    species = tuple(context["species"])
    part.unlink(missing_ok=True)
    total = 0
    for i, seg in enumerate(pieces):
        stop = pieces[i + 1]["start_step"] if i + 1 < len(pieces) else None
        total += dump_to_trajectory(
            workdir / seg["dump"],
            part,
            species,
            [context["charges"][el] for el in species],
            [context["masses"][el] for el in species],
            float(protocol["timestep_fs"]),
            append=total > 0,
            min_step=first_kept,
            max_step=None if stop is None else stop - 1,
        )
    return total
