"""The LAMMPS version: from the executable (``lmp -h``) or from a run's log.

The executable's version enters the key of a production run (restart files and numerics
depend on it) and ``md_engine.version``; a log's version says which LAMMPS wrote it
(``lammps_version`` of glass.json, run.json, segment.json). Both read the same banner
text and give ``"unknown"`` when it cannot be read.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

from glassflow.md.lammps import Engine, lammps_command

UNKNOWN_VERSION = "unknown"
_VERSION_PATTERNS = (
    re.compile(r"Large-scale Atomic/Molecular Massively Parallel Simulator - (.+)"),
    re.compile(r"^LAMMPS \((.+)\)\s*$", re.MULTILINE),
)


def lammps_version(log_path: str | Path) -> str:
    """Version string from the first line of a LAMMPS log, e.g. ``22 Jul 2025 - Update 4``.

    Parameters
    ----------
    log_path
        A LAMMPS log (``log.lammps``).

    Returns
    -------
    str
        The version, ``"unknown"`` when the log cannot be read or has no first line.
    """
    try:
        with open(log_path) as fh:
            first = fh.readline().strip()
    except OSError:
        return UNKNOWN_VERSION
    return first.removeprefix("LAMMPS (").removesuffix(")") or UNKNOWN_VERSION


def parse_lammps_version(text: str) -> str:
    """Version from the banner of ``lmp -h`` (or a log's ``LAMMPS (...)`` line).

    Parameters
    ----------
    text
        The output of ``lmp -h`` or a log's text.

    Returns
    -------
    str
        The version, else ``"unknown"``.
    """
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
    resolved like ``lammps_command`` does.

    Parameters
    ----------
    engine
        How LAMMPS is launched.
    timeout_s
        Longest wait for ``lmp -h``.

    Returns
    -------
    str
        The version; ``"unknown"`` when anything prevents reading it (missing
        executable, non-zero exit, timeout, no banner).
    """
    plain = replace(engine, launcher="none", mpi_ranks=1, accelerator="none")
    cmd = lammps_command(plain, "in.lmp")
    return _executable_version(tuple(cmd[: cmd.index("-in")]), timeout_s)
