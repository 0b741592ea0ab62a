"""Running the protocol stages (physics.md §3) in their run directories.

Each stage renders its LAMMPS input next to its outputs, runs LAMMPS there, and
writes its declared outputs last and atomically (``*.part`` then rename), so a job
killed half way never leaves a file that looks complete.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glassflow import __version__ as glassflow_version
from glassflow.io.atomic import write_json_atomic
from glassflow.io.trajectory import TrajectoryError, frame_dtype, open_trajectory
from glassflow.md.lammps import (
    Engine,
    lammps_command,
    render_melt_quench,
    render_production,
    render_production_resume,
    run_lammps,
)
from glassflow.md.lammps_io import dump_to_trajectory, parse_thermo_logs
from glassflow.md.run_lock import RunLock, run_lock


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
    text = render_melt_quench(ctx, protocol)
    t0 = time.perf_counter()
    with run_lock(workdir, say=lambda m: note(stdout_log, m, "melt-quench")) as lock:
        (workdir / "in.melt_quench.lmp").write_text(text)
        for stale in ("glass.data", "melt.data"):
            (workdir / stale).unlink(missing_ok=True)
        run_lammps(
            lammps_command(engine, "in.melt_quench.lmp"),
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


RESTART_GLOB = "restart.*.bin"
STATE_FILE = "production_state.json"
#: 3: a segment's LAMMPS runs are "pieces" (format 2 called them segments)
STATE_FORMAT = 3
#: the input of a production run or segment, as a person reruns it by hand
PRODUCTION_INPUT = "in.production.lmp"
#: end state of a segment (LAMMPS write_restart), renamed to the declared output
END_RESTART = "segment_end.restart"
KEY_FIELDS = ("input_sha256", "start_sha256", "seed", "lammps_version")
UNKNOWN_VERSION = "unknown"
_VERSION_PATTERNS = (
    re.compile(r"Large-scale Atomic/Molecular Massively Parallel Simulator - (.+)"),
    re.compile(r"^LAMMPS \((.+)\)\s*$", re.MULTILINE),
)


def restart_files(workdir: str | Path) -> list[tuple[int, Path]]:
    """Restart files ``restart.<step>.bin`` of a run directory, newest first."""
    found = []
    for p in Path(workdir).glob(RESTART_GLOB):
        step = p.name.split(".")[1]
        if step.isdigit() and p.stat().st_size > 0:
            found.append((int(step), p))
    return sorted(found, reverse=True)


def strip_lammps_comment(line: str) -> str:
    """One input line without its comment: ``#`` outside single or double quotes onwards."""
    quote = None
    for i, ch in enumerate(line):
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def physics_text(text: str) -> str:
    """The commands of a LAMMPS input: comments, blank lines and spacing removed.

    Comments never reach LAMMPS, so two inputs with the same commands give the same
    trajectory. They carry execution details (the rerun hint with ``engine.command``,
    launcher and threads), which therefore do not discard a half-finished run.
    """
    words = (" ".join(strip_lammps_comment(line).split()) for line in text.splitlines())
    return "".join(w + "\n" for w in words if w)


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (read in chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def parse_lammps_version(text: str) -> str:
    """Version from the banner of ``lmp -h`` (or a log's ``LAMMPS (...)`` line), else unknown."""
    for pattern in _VERSION_PATTERNS:
        m = pattern.search(text)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return UNKNOWN_VERSION


@functools.lru_cache(maxsize=16)
def _executable_version(words: tuple[str, ...], timeout_s: float) -> str:
    try:
        proc = subprocess.Popen(
            [*words, "-h"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, OMP_NUM_THREADS="1"),
            start_new_session=True,  # so a hanging executable and its children can be killed
        )
    except OSError:
        return UNKNOWN_VERSION
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return UNKNOWN_VERSION
    if proc.returncode != 0:
        return UNKNOWN_VERSION
    return parse_lammps_version(out.decode(errors="replace"))


def lammps_executable_version(engine: Engine, timeout_s: float = 60.0) -> str:
    """Version of the configured LAMMPS executable, asked once per process (``lmp -h``).

    The executable is run on its own (no MPI launcher, no accelerator switches) and
    resolved like ``lammps_command`` does. Anything that prevents reading the version
    (missing executable, non-zero exit, timeout, no banner) gives ``"unknown"``.
    """
    plain = replace(engine, launcher="none", mpi_ranks=1, accelerator="none")
    cmd = lammps_command(plain, "in.lmp")
    return _executable_version(tuple(cmd[: cmd.index("-in")]), timeout_s)


def production_key(
    input_text: str, start_file: str | Path, context: Mapping[str, Any], engine: Engine
) -> dict[str, Any]:
    """Everything that determines a production trajectory; a run resumes only if all match.

    - ``input_sha256``: SHA-256 of the input's commands (``physics_text``: no comments,
      so not the rerun hint or other execution details);
    - ``start_sha256``: SHA-256 of the starting structure file (the glass or the melt);
    - ``seed``: the seed of the run's context (``None`` if it has none). Production draws
      no random numbers today; any seed LAMMPS uses is in the input, hence in
      ``input_sha256`` too, and is named here so a changed seed is reported as such;
    - ``lammps_version``: of the configured executable (restart files and numerics
      depend on it), ``"unknown"`` when it cannot be determined.
    """
    return {
        "input_sha256": hashlib.sha256(physics_text(input_text).encode()).hexdigest(),
        "start_sha256": sha256_file(start_file),
        "seed": context.get("seed"),
        "lammps_version": lammps_executable_version(engine),
    }


def key_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable list of the key components that differ, with old and new values."""
    return [
        f"{name} changed from {old.get(name, '<not recorded>')!r} to {new[name]!r}"
        for name in KEY_FIELDS
        if old.get(name, "<not recorded>") != new[name]
    ]


def note(log_path: str | Path, message: str, stage: str = "production") -> None:
    """Append a timestamped glassflow line to the job log (the file LAMMPS' stdout goes to)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(log_path, "a") as fh:
        fh.write(f"{stamp} glassflow {stage}: {message}\n")


@dataclass(frozen=True)
class Segment:
    """One production segment: production steps ``start_step`` to ``end_step``.

    The first segment (``index`` 1) starts from a data file (the glass or the melt),
    ramps to T and equilibrates, then runs production steps ``0 .. end_step``; its
    trajectory holds step 0. Segment k >= 2 starts from the end state of segment
    k - 1 (``start_file``: its restart file, read with ``read_restart``, so positions,
    velocities, the timestep count and the Nose-Hoover thermostat state continue) and
    holds the frames after ``start_step`` (step ``start_step`` is the last frame of
    segment k - 1, not repeated).
    """

    index: int
    start_step: int
    end_step: int
    start_file: Path

    def __post_init__(self) -> None:
        if self.index < 1 or not 0 <= self.start_step < self.end_step:
            raise ValueError(f"not a production segment: {self}")
        if (self.index == 1) != (self.start_step == 0):
            raise ValueError(f"only the first segment starts at step 0: {self}")


def _clean_run_dir(workdir: Path) -> None:
    for pattern in (RESTART_GLOB, "dump.*.lammpstrj", "log.*.lammps", "in.resume.*.lmp"):
        for p in workdir.glob(pattern):
            p.unlink()
    for name in ("log.lammps", "final.data", END_RESTART, STATE_FILE):
        (workdir / name).unlink(missing_ok=True)


def _read_state(path: Path) -> dict[str, Any]:
    """The state document; ValueError when it is not JSON of the expected shape."""
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path.name} is unreadable ({err})") from err
    if isinstance(state, dict) and state.get("format") != STATE_FORMAT:
        raise ValueError(f"{path.name} was written by an older glassflow (format)")
    ok = (
        isinstance(state, dict)
        and isinstance(state.get("key"), dict)
        and isinstance(state.get("pieces"), list)
        and all(
            isinstance(s, dict)
            and isinstance(s.get("dump"), str)
            and isinstance(s.get("log"), str)
            and isinstance(s.get("start_step"), int)
            for s in state["pieces"]
        )
    )
    if not ok:
        raise ValueError(f"{path.name} is unreadable (not a glassflow production state)")
    return state


def _previous_attempt(
    workdir: Path, key: Mapping[str, Any], end_files: tuple[str, ...]
) -> tuple[dict[str, Any] | None, str, bool]:
    """``(state, reason, finished)`` of an earlier attempt in ``workdir``.

    ``state`` is None when the run must start clean, ``reason`` then says why (for the
    log). ``finished`` is True when LAMMPS completed, wrote ``end_files`` and every dump
    piece is there, so only the conversion is left.
    """
    path = workdir / STATE_FILE
    if not path.is_file():
        return None, "no earlier attempt", False
    try:
        state = _read_state(path)
    except ValueError as err:
        return None, str(err), False
    changes = key_changes(state["key"], key)
    if changes:
        return None, "; ".join(changes), False
    pieces = state["pieces"]
    if not pieces:
        return None, "the earlier attempt recorded no LAMMPS run", False
    if _finished(workdir / pieces[-1]["log"]) and all((workdir / f).is_file() for f in end_files):
        missing = [s["dump"] for s in pieces if not (workdir / s["dump"]).is_file()]
        if missing:
            why = "its dumps were converted and removed" if state.get("converted") else "missing"
            return None, f"LAMMPS finished earlier but dump {missing[0]} is gone ({why})", False
        return state, "", True
    if not restart_files(workdir):
        return None, "the earlier attempt stopped before writing a restart file", False
    return state, "", False


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
    no end state kept): see there for restarts and reruns.
    """
    dt = protocol["timestep_fs"]
    end = round(protocol["production_ps"] * 1000.0 / dt)
    segment = Segment(1, 0, end, Path(start_file))
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


def _piece_wall_s(workdir: Path, piece: Mapping[str, Any]) -> float:
    """Wall time of one LAMMPS run of a segment: recorded, or (for a run that was killed)
    from its start to the last write of its log; 0 when unknown."""
    if piece.get("wall_s") is not None:
        return float(piece["wall_s"])
    started, log = piece.get("started_unix"), workdir / piece["log"]
    if started is None or not log.is_file():
        return 0.0
    return max(0.0, log.stat().st_mtime - float(started))


def attempts_wall_s(workdir: str | Path, state: Mapping[str, Any]) -> float:
    """Wall time of every LAMMPS run of a segment so far, superseded ones included (s)."""
    return float(state.get("superseded_wall_s", 0.0)) + sum(
        _piece_wall_s(Path(workdir), p) for p in state["pieces"]
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
    state, reason, finished = _previous_attempt(workdir, key, end_files)
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
            note(stdout_log, f"new run in {workdir}: " + _describe(key))
        else:
            note(stdout_log, f"starting clean in {workdir}: {reason}; now " + _describe(key))
        _clean_run_dir(workdir)
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
        "n_attempts": _attempts(state) + (1 if finished else 0),
        "lammps_version": lammps_version(workdir / "log.lammps"),
        "n_frames": n,
        "n_lammps_runs": len(state["pieces"]),
        "resumed_from_step": resumed_from,
        "start_step": segment.start_step,
        "end_step": segment.end_step,
        "start_file": segment.start_file.name,
        "start_sha256": key["start_sha256"],
    }


def _attempts(state: Mapping[str, Any]) -> int:
    """LAMMPS runs started for this segment, superseded ones included."""
    return len(state["pieces"]) + int(state.get("superseded_pieces", 0))


def _describe(key: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={key[name]!r}" for name in KEY_FIELDS)


def segment_steps(segment: Segment, protocol: Mapping[str, Any]) -> np.ndarray:
    """Steps of the frames a segment stores (step 0 only in the first segment)."""
    every = round(protocol["dump_interval_fs"] / protocol["timestep_fs"])
    first = 0 if segment.index == 1 else segment.start_step + every
    return np.arange(first, segment.end_step + 1, every, dtype=np.int64)


def _convert(workdir: Path, pieces, segment: Segment, context, protocol, part: Path) -> int:
    """Stitch the dump pieces into ``part`` and check frame count and time stamps."""
    first_kept = -1 if segment.index == 1 else segment.start_step
    n = _stitch(workdir, pieces, context, protocol, part, first_kept)
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


def _finished(log_path: Path) -> bool:
    """True when a LAMMPS log ends with its 'Total wall time' line."""
    if not log_path.is_file():
        return False
    with open(log_path, "rb") as fh:
        fh.seek(max(0, log_path.stat().st_size - 4096))
        return b"Total wall time" in fh.read()


def _production_started(log_path: Path) -> bool:
    """True when a resumed piece got past reading its restart file."""
    return log_path.is_file() and b"GLASSFLOW_STAGE production" in log_path.read_bytes()


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
            piece["wall_s"] = _piece_wall_s(workdir, piece)
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
        except RuntimeError:
            if _production_started(workdir / log_name):
                raise
            note(stdout_log, f"LAMMPS could not resume from {path.name}; trying an older one")
            state["pieces"] = kept
            write_json_atomic(workdir / STATE_FILE, state)
            (workdir / ctx["dump_file"]).unlink(missing_ok=True)
            path.unlink()  # unreadable restart file: fall back to an older one
    return None


def _stitch(workdir, pieces, context, protocol, part: Path, first_kept: int = -1) -> int:
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


def production_logs(workdir: str | Path) -> list[Path]:
    """LAMMPS logs of a production run or segment in order (first run, then resumes)."""
    workdir = Path(workdir)
    try:
        return [workdir / s["log"] for s in _read_state(workdir / STATE_FILE)["pieces"]]
    except ValueError:
        return [workdir / "log.lammps"]


def production_thermo(workdir: str | Path, timestep_fs: float) -> pd.DataFrame:
    """Thermo table of a production run or segment from its LAMMPS logs, in order.

    ``time_ps`` is ``step x timestep``: the production template starts the production
    stage at step 0 (``reset_timestep 0``), and the ramp and equilibration before it
    also start at step 0, so this is the time LAMMPS prints in a run that was never
    interrupted. LAMMPS itself restarts ``time`` from 0 when it reads a periodic
    restart file (its ``restart`` command does not store the elapsed time), so a
    resumed log cannot be trusted for it.
    """
    df = parse_thermo_logs(production_logs(workdir))
    df["time_ps"] = df["step"].to_numpy(dtype=np.float64) * (float(timestep_fs) / 1000.0)
    return df


def stitch_thermo(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Thermo of consecutive segments: a segment's first row repeats the step where
    the previous one ended; the earlier (uninterrupted) row is kept."""
    df = pd.concat(list(tables), ignore_index=True)
    return df.drop_duplicates(subset=["stage", "step"], keep="first").reset_index(drop=True)


def stitch_trajectories(paths: Sequence[str | Path], out: str | Path) -> int:
    """Concatenate the frame files of consecutive segments into ``out`` (atomically).

    Every file's checksums are verified first; the headers (atoms, species, charges,
    masses, timestep, velocities) must be equal and the steps must continue with the
    same spacing. Frame records are copied byte for byte. Returns the frame count.
    """
    out = Path(out)
    part = out.with_name(out.name + ".part")
    trajs = [open_trajectory(p, verify=True) for p in paths]
    if not trajs:
        raise ValueError("stitch_trajectories needs at least one segment")
    first = trajs[0]
    ref = first.header.to_bytes()
    for t in trajs[1:]:
        if t.header.to_bytes() != ref:
            raise TrajectoryError(f"{t.path}: header differs from {first.path}; not one run")
    steps = np.concatenate([t.steps for t in trajs])
    if steps.size > 1 and np.unique(np.diff(steps)).size != 1:
        raise TrajectoryError(
            f"{[str(p) for p in paths]}: segments do not continue one another "
            "(steps missing, repeated or unevenly spaced)"
        )
    record = frame_dtype(first.n_atoms, first.has_velocities).itemsize
    with open(part, "wb") as dst:
        for i, t in enumerate(trajs):
            size = t.path.stat().st_size
            offset = size - t.n_frames * record  # the header's length
            with open(t.path, "rb") as src:
                src.seek(0 if i == 0 else offset)
                shutil.copyfileobj(src, dst, 1 << 22)
        dst.flush()
        os.fsync(dst.fileno())
    stitched = open_trajectory(part, verify="off")
    if stitched.n_frames != steps.size or not np.array_equal(stitched.steps, steps):
        raise TrajectoryError(f"{part}: stitched frames do not match the segments")
    os.replace(part, out)
    return int(steps.size)


def expected_frames(protocol: Mapping[str, Any]) -> int:
    """Frames of a production run: step 0 and every dump interval up to the end."""
    dt = protocol["timestep_fs"]
    n_steps = round(protocol["production_ps"] * 1000.0 / dt)
    every = round(protocol["dump_interval_fs"] / dt)
    return n_steps // every + 1


#: Distributions whose installed versions every glass.json / run.json records (the LAMMPS
#: that ran is recorded apart, as ``lammps_version``, from its own log).
RECORDED_DISTRIBUTIONS: tuple[str, ...] = ("numpy", "scipy", "pandas", "pyarrow", "snakemake")


def package_versions(
    distributions: Sequence[str] = RECORDED_DISTRIBUTIONS,
) -> dict[str, str | None]:
    """Versions of the Python, of glassflow and of ``distributions`` in this interpreter.

    ``glassflow`` is the version of the package actually imported (``__version__``);
    the others come from the installed distribution metadata (:mod:`importlib.metadata`),
    ``None`` when a distribution is not installed (e.g. no snakemake inside a job's own
    environment).
    """
    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "glassflow": glassflow_version,
    }
    for name in distributions:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance() -> dict[str, Any]:
    """Host, Python and package versions recorded with each run (glass.json, run.json).

    ``versions`` is an output only: no rule params depend on it, so a new numpy or
    glassflow version reruns nothing by itself.
    """
    return {
        "host": platform.node(),
        "python": platform.python_version(),
        "versions": package_versions(),
    }
