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
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from glassflow.lammps import (
    Engine,
    lammps_command,
    render_melt_quench,
    render_production,
    render_production_resume,
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
STATE_FORMAT = 2
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


def note(log_path: str | Path, message: str) -> None:
    """Append a timestamped glassflow line to the job log (the file LAMMPS' stdout goes to)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(log_path, "a") as fh:
        fh.write(f"{stamp} glassflow production: {message}\n")


def _clean_run_dir(workdir: Path) -> None:
    for pattern in (RESTART_GLOB, "dump.*.lammpstrj", "log.*.lammps", "in.resume.*.lmp"):
        for p in workdir.glob(pattern):
            p.unlink()
    for name in ("log.lammps", "final.data", STATE_FILE):
        (workdir / name).unlink(missing_ok=True)


def _read_state(path: Path) -> dict[str, Any]:
    """The state document; ValueError when it is not JSON of the expected shape."""
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path.name} is unreadable ({err})") from err
    ok = (
        isinstance(state, dict)
        and isinstance(state.get("segments"), list)
        and all(
            isinstance(s, dict)
            and isinstance(s.get("dump"), str)
            and isinstance(s.get("log"), str)
            and isinstance(s.get("start_step"), int)
            for s in state["segments"]
        )
    )
    if not ok:
        raise ValueError(f"{path.name} is unreadable (not a glassflow production state)")
    return state


def _previous_attempt(
    workdir: Path, key: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str, bool]:
    """``(state, reason, finished)`` of an earlier attempt in ``workdir``.

    ``state`` is None when the run must start clean, ``reason`` then says why (for the
    log). ``finished`` is True when LAMMPS completed and every dump segment is there,
    so only the conversion is left.
    """
    path = workdir / STATE_FILE
    if not path.is_file():
        return None, "no earlier attempt", False
    try:
        state = _read_state(path)
    except ValueError as err:
        return None, str(err), False
    if state.get("format") != STATE_FORMAT or not isinstance(state.get("key"), dict):
        return None, f"{STATE_FILE} was written by an older glassflow (no run key)", False
    changes = key_changes(state["key"], key)
    if changes:
        return None, "; ".join(changes), False
    segments = state["segments"]
    if not segments:
        return None, "the earlier attempt recorded no LAMMPS run", False
    if _finished(workdir / segments[-1]["log"]) and (workdir / "final.data").is_file():
        missing = [s["dump"] for s in segments if not (workdir / s["dump"]).is_file()]
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
    """Ramp to ``T_K``, equilibrate and run production; writes the compact trajectory.

    Restartable: LAMMPS writes ``restart.<step>.bin`` every ``restart_interval_fs``
    during production. An earlier attempt is continued only if its key
    (``production_key``: input commands, starting structure, seed, LAMMPS version)
    equals this one's:

    - LAMMPS had finished and its dumps are there: they are only converted;
    - it stopped half way (wall-time kill, node failure, Ctrl-C): the run resumes from
      the newest restart file LAMMPS can read, writing a new dump segment; segments
      are stitched so the trajectory holds every configured frame exactly once.

    Anything else (no earlier attempt, a changed key, an unreadable state file, a
    missing dump, no usable restart file, dumps that do not convert) starts the run
    clean, and the reason is written to ``stdout_log``. So a run can always be rerun.
    Checkpoints and dumps are not workflow outputs and are removed at the end.
    """
    workdir = Path(workdir)
    rel_start = os.path.relpath(start_file, workdir)
    ctx = dict(
        context, rerun_command=rerun_hint(engine, "in.production.lmp"), dump_file="dump.0.lammpstrj"
    )
    text = render_production(ctx, protocol, T_K, rel_start)
    key = production_key(text, start_file, context, engine)
    part = Path(str(trajectory_out) + ".part")
    state, reason, finished = _previous_attempt(workdir, key)
    t0 = time.perf_counter()
    resumed_from = None
    n = None
    if state is not None and finished:
        note(
            stdout_log, f"LAMMPS finished in an earlier attempt in {workdir}; converting its dumps"
        )
        try:
            n = _convert(workdir, state["segments"], context, protocol, part)
        except Exception as err:  # any failure of stale dumps: redo the run from scratch
            state, reason = None, f"the dumps of the earlier attempt do not convert ({err})"
    elif state is not None:
        resumed_from = _resume(workdir, context, protocol, engine, T_K, stdout_log, state)
        if resumed_from is None:
            state, reason = None, "no restart file could be resumed (see above)"
    if state is None:
        if reason == "no earlier attempt":
            note(stdout_log, f"new run in {workdir}: " + _describe(key))
        else:
            note(stdout_log, f"starting clean in {workdir}: {reason}; now " + _describe(key))
        _clean_run_dir(workdir)
        state = {
            "format": STATE_FORMAT,
            "key": key,
            "segments": [{"dump": "dump.0.lammpstrj", "log": "log.lammps", "start_step": 0}],
        }
        (workdir / "in.production.lmp").write_text(text)
        write_json_atomic(workdir / STATE_FILE, state)
        run_lammps(
            lammps_command(engine, "in.production.lmp"), workdir, stdout_log, threads=engine.threads
        )
    wall = time.perf_counter() - t0
    if n is None:
        n = _convert(workdir, state["segments"], context, protocol, part)
    os.replace(part, trajectory_out)
    write_json_atomic(workdir / STATE_FILE, dict(state, converted=True))
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


def _describe(key: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={key[name]!r}" for name in KEY_FIELDS)


def _convert(workdir: Path, segments, context, protocol, part: Path) -> int:
    """Stitch the dump segments into ``part`` and check frame count and time stamps."""
    n = _stitch(workdir, segments, context, protocol, part)
    expected = expected_frames(protocol)
    if n != expected:
        raise RuntimeError(f"{workdir}: {n} frames stitched, expected {expected}")
    traj = open_trajectory(part, verify=True)
    dump_steps = round(protocol["dump_interval_fs"] / protocol["timestep_fs"])
    if not np.array_equal(traj.steps, np.arange(expected) * dump_steps):
        raise RuntimeError(f"{part}: time stamps are not 0, {dump_steps}, ... as configured")
    return n


def _finished(log_path: Path) -> bool:
    """True when a LAMMPS log ends with its 'Total wall time' line."""
    if not log_path.is_file():
        return False
    with open(log_path, "rb") as fh:
        fh.seek(max(0, log_path.stat().st_size - 4096))
        return b"Total wall time" in fh.read()


def _production_started(log_path: Path) -> bool:
    """True when a resumed segment got past reading its restart file."""
    return log_path.is_file() and b"GLASSFLOW_STAGE production" in log_path.read_bytes()


def _resume(workdir, context, protocol, engine, T_K, stdout_log, state) -> int | None:
    """Continue production from the newest readable restart file; returns its step.

    Segments that start at or after the chosen restart step are superseded and dropped,
    so stitching stays exact even when newer restart files are unusable. A restart
    file that LAMMPS cannot read is deleted and the next older one is tried; a failure
    after the restart file was read is raised (the checkpoints stay for the next
    attempt). None when no restart file could be resumed.
    """
    for step, path in restart_files(workdir):
        kept = [s for s in state["segments"] if s["start_step"] < step]
        missing = [s["dump"] for s in kept if not (workdir / s["dump"]).is_file()]
        if not kept or missing:
            why = f"dump {missing[0]} is missing" if missing else "it precedes the run"
            note(stdout_log, f"cannot resume from {path.name}: {why}")
            continue
        for s in state["segments"][len(kept) :]:  # superseded by this restart
            (workdir / s["dump"]).unlink(missing_ok=True)
        k = len(kept)
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
        state["segments"] = [*kept, {"dump": ctx["dump_file"], "log": log_name, "start_step": step}]
        write_json_atomic(workdir / STATE_FILE, state)
        note(stdout_log, f"resuming {workdir} from {path.name} (step {step}), segment {k}")
        try:
            run_lammps(
                lammps_command(engine, name, log_file=log_name),
                workdir,
                stdout_log,
                threads=engine.threads,
            )
            return step
        except RuntimeError:
            if _production_started(workdir / log_name):
                raise
            note(stdout_log, f"LAMMPS could not resume from {path.name}; trying an older one")
            state["segments"] = kept
            write_json_atomic(workdir / STATE_FILE, state)
            (workdir / ctx["dump_file"]).unlink(missing_ok=True)
            path.unlink()  # unreadable restart file: fall back to an older one
    return None


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
    try:
        return [workdir / s["log"] for s in _read_state(workdir / STATE_FILE)["segments"]]
    except ValueError:
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
