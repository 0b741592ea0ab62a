"""Restart bookkeeping of a LAMMPS production segment (``production_state.json``).

A segment is one or more LAMMPS runs ("pieces"): the first from the segment's start,
each later one resumed from a periodic restart file ``restart.<step>.bin`` after the
job was killed. The state file records the segment's key (what determines its
trajectory) and its pieces (dump, log, start step, wall time), so that a rerun of the
job continues the same run, or starts clean and says why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glassflow.md.checksums import physics_text, sha256_file
from glassflow.md.engines.lammps_version import lammps_executable_version
from glassflow.md.lammps import Engine
from glassflow.md.lammps_io import parse_thermo_logs

RESTART_GLOB = "restart.*.bin"
STATE_FILE = "production_state.json"
#: 3: a segment's LAMMPS runs are "pieces" (format 2 called them segments)
STATE_FORMAT = 3
#: end state of a segment (LAMMPS write_restart), renamed to the declared output
END_RESTART = "segment_end.restart"
KEY_FIELDS = ("input_sha256", "start_sha256", "seed", "lammps_version")


def restart_files(workdir: str | Path) -> list[tuple[int, Path]]:
    """Restart files ``restart.<step>.bin`` of a run directory, newest first.

    Parameters
    ----------
    workdir
        The run directory.

    Returns
    -------
    list of (int, Path)
        ``(step, path)`` of every non-empty restart file, highest step first.
    """
    found = []
    for p in Path(workdir).glob(RESTART_GLOB):
        step = p.name.split(".")[1]
        if step.isdigit() and p.stat().st_size > 0:
            found.append((int(step), p))
    return sorted(found, reverse=True)


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

    Parameters
    ----------
    input_text
        The rendered LAMMPS input.
    start_file
        The data or restart file the segment starts from.
    context
        The run's template context (its ``seed``, if any).
    engine
        How LAMMPS is launched (for its version).

    Returns
    -------
    dict
        The :data:`KEY_FIELDS`.
    """
    return {
        "input_sha256": hashlib.sha256(physics_text(input_text).encode()).hexdigest(),
        "start_sha256": sha256_file(start_file),
        "seed": context.get("seed"),
        "lammps_version": lammps_executable_version(engine),
    }


def key_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable list of the key components that differ, with old and new values.

    Parameters
    ----------
    old
        The key recorded by an earlier attempt.
    new
        This attempt's key.

    Returns
    -------
    list of str
        One line per changed component, empty when the keys match.
    """
    return [
        f"{name} changed from {old.get(name, '<not recorded>')!r} to {new[name]!r}"
        for name in KEY_FIELDS
        if old.get(name, "<not recorded>") != new[name]
    ]


def describe_key(key: Mapping[str, Any]) -> str:
    """A key as ``name=value, ...`` for the job log."""
    return ", ".join(f"{name}={key[name]!r}" for name in KEY_FIELDS)


def clean_run_dir(workdir: Path) -> None:
    """Remove the files of earlier attempts (restarts, dumps, logs, inputs, state)."""
    for pattern in (RESTART_GLOB, "dump.*.lammpstrj", "log.*.lammps", "in.resume.*.lmp"):
        for p in workdir.glob(pattern):
            p.unlink()
    for name in ("log.lammps", "final.data", END_RESTART, STATE_FILE):
        (workdir / name).unlink(missing_ok=True)


def read_state(path: Path) -> dict[str, Any]:
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


def log_finished(log_path: Path) -> bool:
    """True when a LAMMPS log ends with its 'Total wall time' line."""
    if not log_path.is_file():
        return False
    with open(log_path, "rb") as fh:
        fh.seek(max(0, log_path.stat().st_size - 4096))
        return b"Total wall time" in fh.read()


def production_started(log_path: Path) -> bool:
    """True when a resumed piece got past reading its restart file."""
    return log_path.is_file() and b"GLASSFLOW_STAGE production" in log_path.read_bytes()


def previous_attempt(
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
        state = read_state(path)
    except ValueError as err:
        return None, str(err), False
    changes = key_changes(state["key"], key)
    if changes:
        return None, "; ".join(changes), False
    pieces = state["pieces"]
    if not pieces:
        return None, "the earlier attempt recorded no LAMMPS run", False
    if log_finished(workdir / pieces[-1]["log"]) and all(
        (workdir / f).is_file() for f in end_files
    ):
        missing = [s["dump"] for s in pieces if not (workdir / s["dump"]).is_file()]
        if missing:
            why = "its dumps were converted and removed" if state.get("converted") else "missing"
            return None, f"LAMMPS finished earlier but dump {missing[0]} is gone ({why})", False
        return state, "", True
    if not restart_files(workdir):
        return None, "the earlier attempt stopped before writing a restart file", False
    return state, "", False


def piece_wall_s(workdir: Path, piece: Mapping[str, Any]) -> float:
    """Wall time of one LAMMPS run of a segment: recorded, or (for a run that was killed)
    from its start to the last write of its log; 0 when unknown."""
    if piece.get("wall_s") is not None:
        return float(piece["wall_s"])
    started, log = piece.get("started_unix"), workdir / piece["log"]
    if started is None or not log.is_file():
        return 0.0
    return max(0.0, log.stat().st_mtime - float(started))


def attempts_wall_s(workdir: str | Path, state: Mapping[str, Any]) -> float:
    """Wall time of every LAMMPS run of a segment so far, superseded ones included (s).

    Parameters
    ----------
    workdir
        The run directory (for the logs of killed runs).
    state
        The state document.

    Returns
    -------
    float
        Seconds.
    """
    return float(state.get("superseded_wall_s", 0.0)) + sum(
        piece_wall_s(Path(workdir), p) for p in state["pieces"]
    )


def n_attempts(state: Mapping[str, Any]) -> int:
    """LAMMPS runs started for this segment, superseded ones included."""
    return len(state["pieces"]) + int(state.get("superseded_pieces", 0))


def production_logs(workdir: str | Path) -> list[Path]:
    """LAMMPS logs of a production run or segment in order (first run, then resumes).

    Parameters
    ----------
    workdir
        The run directory.

    Returns
    -------
    list of Path
        The logs of the pieces in the state file; ``log.lammps`` when there is none.
    """
    workdir = Path(workdir)
    try:
        return [workdir / s["log"] for s in read_state(workdir / STATE_FILE)["pieces"]]
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

    Parameters
    ----------
    workdir
        The run directory.
    timestep_fs
        The MD timestep.

    Returns
    -------
    pandas.DataFrame
        The rows of every log (:func:`glassflow.md.lammps_io.parse_thermo_logs`), with
        ``time_ps``.
    """
    df = parse_thermo_logs(production_logs(workdir))
    df["time_ps"] = df["step"].to_numpy(dtype=np.float64) * (float(timestep_fs) / 1000.0)
    return df
