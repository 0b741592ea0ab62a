"""One writer per run directory, whatever starts it.

Snakemake's own lock is per working directory (``.snakemake/``): two Snakemake
processes started with different ``-d`` on one ``results_dir``, or a new Snakemake
beside the orphans of a killed one, would both run LAMMPS in the same run directory and
delete each other's dumps and restart files. Every job that writes a run directory
(melt-quench, a production run or segment, the stitching of segments) therefore holds
:data:`LOCK_NAME` in that directory for as long as it, or the LAMMPS it started, lives:

- taken atomically with ``flock(2)`` on the file, so the kernel (or the NFS lock
  manager) releases it when the holder dies, SIGKILL included; the file says who holds
  it (host, pid and start time, the job's Snakemake processes, Slurm job id, LAMMPS pid);
- the LAMMPS process inherits the locked descriptor, so the lock is held until LAMMPS
  too is gone;
- a second writer fails at once with :class:`RunLockedError`, naming the holder and the
  run, and deletes nothing;
- except when the holder is provably an orphan on this host (every Snakemake process
  that started it is gone): then it is stopped (SIGTERM, like the watchdog of
  :mod:`glassflow.md.processes` would), and the new writer waits for the lock.

The file is removed when the writer releases it; a file left by a killed writer is
stale and is simply taken over (the lock on it is free).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import platform
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from glassflow.md.processes import (
    ProcessId,
    group_alive,
    process_alive,
    signal_group,
    snakemake_ancestors,
    this_process,
)

LOCK_NAME = "writer.lock"
#: how long a new writer waits for a stopped orphan to release the lock (s)
ORPHAN_WAIT_S = 60.0
_POLL_S = 0.2


class RunLockedError(RuntimeError):
    """Another live process writes this run directory."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a run directory's lock, as written in the lock file."""

    host: str
    process: ProcessId
    started_utc: str
    supervisors: tuple[ProcessId, ...] = ()
    slurm_job_id: str | None = None
    child: ProcessId | None = None
    child_group: int | None = None
    run: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pid": self.process.pid,
            "pid_start": self.process.start,
            "started_utc": self.started_utc,
            "supervisors": [s.to_dict() for s in self.supervisors],
            "slurm_job_id": self.slurm_job_id,
            "child_pid": None if self.child is None else self.child.pid,
            "child_start": None if self.child is None else self.child.start,
            "child_pgid": self.child_group,
            "run": self.run,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Holder:
        child = doc.get("child_pid")
        return cls(
            host=str(doc["host"]),
            process=ProcessId.from_dict({"pid": doc["pid"], "start": doc.get("pid_start")}),
            started_utc=str(doc.get("started_utc", "")),
            supervisors=tuple(ProcessId.from_dict(s) for s in doc.get("supervisors", [])),
            slurm_job_id=doc.get("slurm_job_id"),
            child=None
            if child is None
            else ProcessId.from_dict({"pid": child, "start": doc.get("child_start")}),
            child_group=doc.get("child_pgid"),
            run=str(doc.get("run", "")),
        )

    def describe(self) -> str:
        """e.g. ``pid 4242 on node17 (Slurm job 991, LAMMPS pid 4250) since 2026-...``"""
        extra = []
        if self.slurm_job_id:
            extra.append(f"Slurm job {self.slurm_job_id}")
        if self.child is not None:
            extra.append(f"LAMMPS pid {self.child.pid}")
        more = f" ({', '.join(extra)})" if extra else ""
        return f"pid {self.process.pid} on {self.host}{more} since {self.started_utc}"

    @property
    def local(self) -> bool:
        return self.host == platform.node()

    def orphaned(self) -> bool:
        """True when the holder runs on this host and every Snakemake that started it is gone.

        A holder started outside Snakemake (no supervisors) is never called an orphan.
        """
        return (
            self.local
            and bool(self.supervisors)
            and not any(s.alive() for s in self.supervisors)
            and (self.process.alive() or self.lammps_alive())
        )

    def lammps_alive(self) -> bool:
        """True while the LAMMPS it started (any process of its group) runs, on this host."""
        if not self.local:
            return False
        if self.child_group is not None and group_alive(self.child_group):
            return True
        return self.child is not None and self.child.alive()


def read_holder(directory: str | Path) -> Holder | None:
    """The holder written in ``directory``'s lock file; None when absent or unreadable.

    The file may be stale (its writer was killed); :func:`lock_is_held` tells.
    """
    try:
        return Holder.from_dict(json.loads((Path(directory) / LOCK_NAME).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def lock_is_held(directory: str | Path) -> bool:
    """True when some live process holds ``directory``'s lock (a probe, takes nothing)."""
    path = Path(directory) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def stop_orphan(holder: Holder) -> None:
    """SIGTERM to an orphaned holder and to its LAMMPS process group (on this host)."""
    if holder.process.alive():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(holder.process.pid, signal.SIGTERM)
    if holder.child_group is not None:
        signal_group(holder.child_group, signal.SIGTERM)
    elif holder.child is not None and holder.child.alive():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(holder.child.pid, signal.SIGTERM)


@dataclass
class RunLock:
    """The lock of one run directory, held by this process (see the module docstring).

    Use as a context manager; :meth:`set_child` records the LAMMPS process.
    """

    directory: Path
    supervisors: tuple[ProcessId, ...] = ()
    say: Any = None
    orphan_wait_s: float = ORPHAN_WAIT_S
    fd: int | None = field(default=None, init=False)
    holder: Holder | None = field(default=None, init=False)
    previous: Holder | None = field(default=None, init=False)

    @property
    def path(self) -> Path:
        return Path(self.directory) / LOCK_NAME

    def _note(self, message: str) -> None:
        if self.say is not None:
            self.say(message)

    def _open_locked(self) -> int | None:
        """Open the lock file and try to lock it; the descriptor, or None when held."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            # e.g. a Lustre mount without the flock option: write the holder anyway
            self._note(
                f"{self.path}: this file system does not support file locks ({err}); "
                "one writer per run directory is not enforced here"
            )
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        # the file may have been removed by the previous holder between open and flock
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return self._open_locked()
        return fd

    def acquire(self) -> RunLock:
        Path(self.directory).mkdir(parents=True, exist_ok=True)
        deadline = None
        while True:
            fd = self._open_locked()
            if fd is not None:
                break
            holder = read_holder(self.directory)
            if holder is not None and holder.orphaned():
                if deadline is None:
                    self._note(
                        f"{self.directory} is held by an orphan ({holder.describe()}): every "
                        "Snakemake process that started it is gone; stopping it"
                    )
                    stop_orphan(holder)
                    deadline = time.monotonic() + self.orphan_wait_s
                if time.monotonic() < deadline:
                    time.sleep(_POLL_S)
                    continue
            raise RunLockedError(self._locked_message(holder))
        self.fd = fd
        self.previous = read_holder(self.directory)
        self.holder = Holder(
            host=platform.node(),
            process=this_process(),
            started_utc=_utc_now(),
            supervisors=tuple(self.supervisors),
            slurm_job_id=os.environ.get("SLURM_JOB_ID"),
            run=str(Path(self.directory).resolve()),
        )
        self._write()
        if self.previous is not None and self.previous.process != self.holder.process:
            self._note(
                f"took over the lock of {self.directory} left by {self.previous.describe()} "
                "(that writer is gone)"
            )
        return self

    def _locked_message(self, holder: Holder | None) -> str:
        who = holder.describe() if holder is not None else "a process that did not say who it is"
        lines = [f"run directory {self.directory} is being written by {who}; not starting a "
                 "second writer (nothing was deleted)."]  # fmt: skip
        if holder is not None and holder.local and holder.orphaned():
            lines.append(
                f"It is an orphan of a killed Snakemake and did not stop within "
                f"{self.orphan_wait_s:g} s of SIGTERM: `kill -KILL {holder.process.pid}`"
                + (f" {holder.child.pid}" if holder.child else "")
                + ", then rerun."
            )
        elif holder is not None and holder.slurm_job_id:
            lines.append(
                f"Wait for Slurm job {holder.slurm_job_id} to end, or cancel it with "
                f"`scancel {holder.slurm_job_id}`, then rerun."
            )
        else:
            lines.append(
                "Wait for it to finish (another Snakemake on the same results_dir?), or stop "
                "that Snakemake and rerun; the run resumes from its restart files."
            )
        return "\n".join(lines)

    def _write(self) -> None:
        assert self.fd is not None and self.holder is not None
        data = (json.dumps(self.holder.to_dict(), indent=1) + "\n").encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        os.fsync(self.fd)

    def set_child(self, pid: int, start: int | None, group: int | None = None) -> None:
        """Record the LAMMPS process (and its process group) this writer started, so that
        a successor can find it."""
        if self.holder is not None:
            self.holder = replace(self.holder, child=ProcessId(pid, start), child_group=group)
            self._write()

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(OSError):  # a file system without locks
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def run_lock(
    directory: str | Path, say=None, supervisors: Sequence[ProcessId] | None = None
) -> Iterator[RunLock]:
    """Hold ``directory``'s lock; the job's Snakemake processes are watched by default."""
    lock = RunLock(
        Path(directory),
        supervisors=tuple(snakemake_ancestors() if supervisors is None else supervisors),
        say=say,
    )
    with lock:
        yield lock


__all__ = [
    "LOCK_NAME",
    "Holder",
    "RunLock",
    "RunLockedError",
    "lock_is_held",
    "process_alive",
    "read_holder",
    "run_lock",
    "stop_orphan",
]
