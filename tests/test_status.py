"""``glassflow status`` on segmented production: fabricated run directories (fast), and a
real tiny segmented campaign checked while it runs, after a SIGKILL and when done."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, TINY_CONFIG, require_lmp

import glassflow.md.segments  # noqa: F401 - loaded up front: status reads segments fast
from glassflow.campaign.status import (
    RunKey,
    campaign_state,
    campaign_status,
    discover_runs,
    eta_seconds,
    final_error_line,
    format_status,
    production_clock_in_log,
    production_dir,
    segment_log,
    writer_of,
)
from glassflow.cli import main
from glassflow.md.processes import process_alive

HOUR = 3600.0
COMP = "x0.50_m2.00"
# the campaign's protocol: 4 ps always, 2 ps segments, up to 8 ps until D_Na is known to 10 %
PROTOCOL = {
    "production_ps": 4.0,
    "segment_ps": 2.0,
    "max_production_ps": 8.0,
    "target_rel_error": 0.1,
    "converge_species": None,
    "timestep_fs": 1.0,
    "dump_interval_fs": 10.0,
    "restart_interval_fs": 500.0,
}
HEADER = "Step Time Temp PotEng KinEng TotEng Press Volume CPU CPULeft"


def segment_log_text(start: int, end: int, upto: int, s_per_100: float = 1.0) -> str:
    """LAMMPS log of a segment resumed at ``start``: thermo every 100 steps up to ``end``
    (of ``upto``), ``s_per_100`` wall seconds per 100 steps (the ``CPU`` column)."""
    rows = []
    for step in range(start, end + 1, 100):
        cpu = (step - start) / 100 * s_per_100
        left = (upto - step) / 100 * s_per_100
        rows.append(
            f"{step:>8d} {step:g} 2400.1 -27000.5 900.2 -26100.3 1200.0 3516.2 {cpu:g} {left:g}"
        )
    return "\n".join(
        [
            "LAMMPS (22 Jul 2025 - Update 4)",
            "read_restart ../1/end.restart",
            'print           "GLASSFLOW_STAGE production"',
            "GLASSFLOW_STAGE production",
            "   " + HEADER,
            *rows,
            "",
        ]
    )


def in_production(upto: int) -> str:
    return f"timestep 1.0\nrestart 500 restart.*.bin\nrun {upto} upto\n"


def record(k: int, rel_error: float) -> dict:
    """segment.json of segment k (2 ps each): D_Na with ``rel_error``."""
    return {
        "segment": k,
        "start_ps": 2.0 * (k - 1),
        "total_ps": 2.0 * k,
        "wall_time_s": 20.0,
        "protocol": {"timestep_fs": 1.0, "dump_interval_fs": 10.0},
        "diffusion": {"Na": {"rel_error": rel_error}},
        "decision_when_written": {"stop": False, "reason": "written by the segment"},
    }


def age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def age_tree(path: Path, seconds: float) -> None:
    for p in [path, *path.rglob("*")]:
        age(p, seconds)


def dead_pid() -> int:
    """The pid of a process that has exited (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def lock(directory: Path, pid: int, host: str | None = None, **more) -> None:
    doc = {
        "host": host or platform.node(),
        "pid": pid,
        "started_utc": "2026-01-02T10:00:00Z",
        "slurm_job_id": None,
        "child_pgid": None,
        **more,
    }
    (directory / "writer.lock").write_text(json.dumps(doc))


class Campaign:
    """A fabricated segmented campaign ``results/camp`` at 2400 K."""

    def __init__(self, tmp_path: Path):
        self.results = tmp_path / "results" / "camp"
        glass = self.results / COMP / "rep01" / "glass"
        glass.mkdir(parents=True)
        (glass / "glass.data").write_text("glass\n")
        (self.results / COMP / "rep02" / "glass").mkdir(parents=True)
        (self.results / COMP / "rep02" / "glass" / "glass.data").write_text("glass\n")

    def key(self, rep: int) -> RunKey:
        return RunKey(COMP, 2400, rep)

    def segment(self, rep: int, k: int) -> Path:
        d = production_dir(self.results, self.key(rep)) / "segments" / str(k)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def done_segment(self, rep: int, k: int, rel_error: float = 0.3) -> Path:
        d = self.segment(rep, k)
        start, end = 2000 * (k - 1), 2000 * k
        (d / "in.production.lmp").write_text(in_production(end))
        (d / "log.lammps").write_text(
            segment_log_text(start, end, end) + "Total wall time: 0:00:20\n"
        )
        (d / "segment.json").write_text(json.dumps(record(k, rel_error)))
        log = segment_log(self.results, self.key(rep), k)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"INFO after segment {k}: go on (not converged: rel. error of D_Na 0.30)\n")
        return d

    def running_segment(self, rep: int, k: int, last_step: int) -> Path:
        """Segment k under way: thermo up to ``last_step``, a restart file 100 steps back."""
        d = self.segment(rep, k)
        start, end = 2000 * (k - 1), 2000 * k
        (d / "in.production.lmp").write_text(in_production(end))
        (d / "log.lammps").write_text(segment_log_text(start, last_step, end))
        (d / f"restart.{last_step - 100}.bin").write_bytes(b"\0" * 64)
        log = segment_log(self.results, self.key(rep), k)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("$ lmp -in in.production.lmp -log log.lammps\nLAMMPS (22 Jul 2025)\n")
        return d

    def finished_run(self, rep: int, wall_time_s: float) -> None:
        """A run stitched from two segments, 4 ps in ``wall_time_s``."""
        d = production_dir(self.results, self.key(rep))
        d.mkdir(parents=True, exist_ok=True)
        segments = [
            {
                "segment": k,
                "start_ps": 2.0 * (k - 1),
                "total_ps": 2.0 * k,
                "resumed_from_step": None,
            }
            for k in (1, 2)
        ]
        run = {
            "n_frames": 401,
            "n_segments": 2,
            "total_production_ps": 4.0,
            "wall_time_s": wall_time_s,
            "segments": segments,
            "stop_reason": "converged: rel. error of D_Na 0.08 <= 0.10",
            "protocol": PROTOCOL,
        }
        (d / "run.json").write_text(json.dumps(run))


# --- pure pieces -------------------------------------------------------------------------------
def test_error_lines_of_a_job_log():
    assert final_error_line("INFO D_Na after 2 ps: 0.1 +- 0.02 (rel. error 0.200)\n") is None
    assert final_error_line("after segment 1: go on (not converged: rel. error of D_Na)") is None
    lost = "ERROR: Lost atoms: original 150 current 149 (src/thermo.cpp:494)"
    assert final_error_line(f"LAMMPS\n{lost}\nTotal wall time: 0:00:01\n") == lost
    tb = "Traceback (most recent call last):\n  File x\nRuntimeError: LAMMPS exited with code 1\n"
    assert final_error_line(tb) == "RuntimeError: LAMMPS exited with code 1"
    # an unreadable restart file, then LAMMPS started again from an older one: handled
    retried = "ERROR: Invalid restart file\n$ lmp -in in.resume.1.lmp\nLAMMPS (22 Jul 2025)\n"
    assert final_error_line(retried) is None


def test_thermo_clock_and_eta_arithmetic():
    # 600 steps of 1 fs in 6 wall seconds: 0.1 ps/s
    assert production_clock_in_log(segment_log_text(2000, 2600, 4000)) == (600, 6.0)
    assert production_clock_in_log(segment_log_text(2000, 2000, 4000)) is None  # one row
    assert production_clock_in_log("GLASSFLOW_STAGE production\nStep Temp\n0 1\n100 2\n") is None
    assert eta_seconds(1.4, 0.1) == pytest.approx(14.0)
    assert eta_seconds(-1.0, 0.1) == 0.0
    assert eta_seconds(1.0, None) is None and eta_seconds(None, 0.1) is None
    assert eta_seconds(1.0, 0.0) is None


def test_campaign_state_puts_failed_before_running():
    assert campaign_state(["done", "running", "failed", "pending"]) == "failed"
    assert campaign_state(["done", "running", "stalled"]) == "running"
    assert campaign_state(["done", "stalled", "pending"]) == "stalled"
    assert campaign_state(["done", "done"]) == "done"
    assert campaign_state([]) == "empty"


def test_writer_lock_documents_garbage_and_hosts():
    me = platform.node()
    alive = writer_of({"host": me, "pid": os.getpid(), "slurm_job_id": "991"}, ".", me)
    assert alive is not None and alive.alive is True and alive.slurm_job_id == "991"
    assert "Slurm job 991" in alive.describe()
    gone = writer_of({"host": me, "pid": dead_pid(), "child_pgid": dead_pid()}, ".", me)
    assert gone is not None and gone.alive is False
    # the LAMMPS it started still runs: the writer is not gone
    child = writer_of({"host": me, "pid": dead_pid(), "child_pid": os.getpid()}, ".", me)
    assert child is not None and child.alive is True
    # a recycled pid (another start time) is not the writer
    reused = writer_of({"host": me, "pid": os.getpid(), "pid_start": -5}, ".", me)
    assert reused is not None and reused.alive is False
    elsewhere = writer_of({"host": "node17", "pid": 12}, ".", me)
    assert elsewhere is not None and elsewhere.alive is None
    for garbage in (None, "text", [1, 2], {}, {"pid": "x", "host": 3}):
        assert writer_of(garbage, ".", me) is None


# --- fabricated campaigns -----------------------------------------------------------------------
def test_failed_segment_beside_a_live_run_outranks_it(tmp_path, capsys):
    """rep01: segment 1 done, segment 2 logged a LAMMPS error a moment ago (its files are
    fresh); rep02: segment 2 running, held by this (live) process."""
    camp = Campaign(tmp_path)
    for rep in (1, 2):
        camp.done_segment(rep, 1)
        seg2 = camp.running_segment(rep, 2, last_step=2600)
    lock(seg2, os.getpid())
    bad = segment_log(camp.results, camp.key(1), 2)
    bad.write_text(bad.read_text() + "ERROR: Lost atoms: original 150 current 149\n")

    st = campaign_status(camp.results, protocol=PROTOCOL, modifier="Na")
    failed, running = (next(r for r in st.runs if r.replica == rep) for rep in (1, 2))
    assert failed.state == "failed" and failed.detail == (
        "segment 2: ERROR: Lost atoms: original 150 current 149"
    )
    assert (failed.segments_done, failed.segments_failed, failed.segments_running) == ([1], [2], [])
    assert running.state == "running"
    assert (running.segments_done, running.segments_running, running.segments_failed) == (
        [1],
        [2],
        [],
    )
    assert running.writer is not None and running.writer.alive is True
    assert running.writer.directory == "segments/2" and running.writer.pid == os.getpid()
    assert st.state == "failed" and st.counts["failed"] == 1 and st.counts["running"] == 1

    assert main(["status", str(camp.results)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].endswith("2 production runs, failed")
    assert "x0.50_m2.00_T2400_rep01  failed   1 done, #2 failed" in text
    assert "x0.50_m2.00_T2400_rep02  running  1 done, #2 running" in text
    assert main(["status", str(camp.results), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["state"] == "failed"
    assert [r["segments_failed"] for r in doc["runs"]] == [[2], []]


def test_run_that_failed_a_moment_ago_after_its_last_step_is_failed(tmp_path):
    """Unsegmented: LAMMPS reached the last step, then the job failed (its files are
    fresh); beside it a live run. Not "running 100 %"."""
    camp = Campaign(tmp_path)
    protocol = dict(PROTOCOL, segment_ps=None, max_production_ps=None, target_rel_error=None)
    for rep in (1, 2):
        d = production_dir(camp.results, camp.key(rep))
        d.mkdir(parents=True)
        (d / "in.production.lmp").write_text(in_production(4000))
        (d / "log.lammps").write_text(segment_log_text(0, 4000 if rep == 1 else 1000, 4000))
    log = camp.results / "logs/production/x0.50_m2.00_T2400_rep01.log"
    log.parent.mkdir(parents=True)
    log.write_text("$ lmp -in in.production.lmp\nTraceback (most recent call last):\n"
                   "RuntimeError: 401 frames stitched, expected 400\n")  # fmt: skip
    st = campaign_status(camp.results, protocol=protocol)
    failed, live = st.runs
    assert failed.state == "failed" and failed.ps_done == 4.0 and not failed.segmented
    assert failed.detail == "production: RuntimeError: 401 frames stitched, expected 400"
    assert live.state == "running" and live.ps_done == 1.0 and live.eta_s == pytest.approx(30.0)
    assert st.state == "failed"


def test_stalled_by_the_age_of_its_last_thermo_step_or_a_dead_writer(tmp_path):
    camp = Campaign(tmp_path)
    camp.done_segment(1, 1)
    seg2 = camp.running_segment(1, 2, last_step=2600)
    run_dir = production_dir(camp.results, camp.key(1))
    logs = camp.results / "logs"

    def status():
        return campaign_status(camp.results, protocol=PROTOCOL, modifier="Na").runs[0]

    fresh = status()
    assert fresh.state == "running" and fresh.last_step == 2600
    assert fresh.last_step_age_s is not None and fresh.last_step_age_s < 60

    # nothing written for an hour, no error: stalled, resumable from its restart file
    age_tree(run_dir, HOUR)
    age_tree(logs, HOUR)
    quiet = status()
    assert quiet.state == "stalled" and quiet.last_step == 2600
    assert (quiet.segments_done, quiet.segments_running, quiet.segments_stalled) == ([1], [], [2])
    assert quiet.last_step_age_s == pytest.approx(HOUR, abs=60)
    assert "a rerun resumes from restart.2500.bin" in quiet.detail
    assert quiet.ps_done == pytest.approx(2.6)

    # ... its writer on this host still lives: stalled, and the detail says it may hang
    lock(seg2, os.getpid())
    age(seg2 / "writer.lock", HOUR)  # written when the writer started
    hung = status()
    assert hung.state == "stalled" and "is alive: hung?" in hung.detail

    # files written a moment ago, but the writer recorded on this host is gone (killed)
    age_tree(run_dir, 0)
    lock(seg2, dead_pid())
    killed = status()
    assert killed.state == "stalled" and killed.writer is not None
    assert killed.writer.alive is False and "is gone" in killed.detail

    # a writer on another host cannot be checked from here: the files decide
    lock(seg2, 4242, host="node17-not-this-host", slurm_job_id="991")
    remote = status()
    assert remote.state == "running" and "Slurm job 991" in remote.detail
    (seg2 / "writer.lock").write_text("{garbage")  # half-written lock: ignored
    assert status().state == "running" and status().writer is None


def test_progress_and_eta_of_a_segmented_run(tmp_path):
    """Own speed 0.1 ps/s from the thermo CPU column; a finished run took 20 s for 4 ps
    (0.2 ps/s), which a pending run inherits."""
    camp = Campaign(tmp_path)
    camp.done_segment(1, 1)
    camp.running_segment(1, 2, last_step=2600)
    camp.finished_run(2, wall_time_s=20.0)
    (camp.results / COMP / "rep03").mkdir()  # rep03: pending, nothing on disk

    st = campaign_status(camp.results, protocol=PROTOCOL, modifier="Na")
    run, finished, pending = st.runs
    assert (run.state, finished.state, pending.state) == ("running", "done", "pending")
    assert run.ps_done == pytest.approx(2.6)
    assert (run.ps_planned, run.ps_committed, run.ps_max) == (4.0, 4.0, 8.0)
    assert run.speed_ps_per_s == pytest.approx(0.1) and run.speed_source == "own thermo"
    assert run.eta_s == pytest.approx((4.0 - 2.6) / 0.1)
    assert run.eta_max_s == pytest.approx((8.0 - 2.6) / 0.1)
    assert run.remaining_s == pytest.approx(14.0)  # LAMMPS's estimate for segment 2
    assert finished.segments_done == [1, 2] and finished.ps_done == 4.0
    assert st.wall_s_per_ns == pytest.approx(20.0 / 0.004)
    assert pending.speed_ps_per_s == pytest.approx(0.2) and pending.speed_source == "finished runs"
    assert (pending.ps_done, pending.ps_committed, pending.ps_max) == (0.0, 4.0, 8.0)
    assert pending.eta_s == pytest.approx(20.0) and pending.eta_max_s == pytest.approx(40.0)
    assert st.jobs == 1
    assert st.eta_s == pytest.approx(14.0 + 20.0)
    assert st.eta_max_s == pytest.approx(54.0 + 40.0)
    assert st.ps_done == pytest.approx(2.6 + 4.0)
    assert st.ps_target == pytest.approx(4.0 + 4.0 + 4.0)
    assert st.ps_max == pytest.approx(8.0 + 4.0 + 8.0)
    assert campaign_status(camp.results, protocol=PROTOCOL, jobs=2).eta_s == pytest.approx(17.0)
    text = format_status(st)
    assert "production simulated: 6.6 ps of 12 ps (55.0 %), at most 20 ps" in text
    assert "remaining: 5.4 ps (up to 13.4 ps), about 34 s-94 s with 1 run at a time" in text

    # without a finished run, a pending run gets the speed measured on the others' thermo
    (production_dir(camp.results, camp.key(2)) / "run.json").unlink()
    alone = campaign_status(camp.results, protocol=PROTOCOL).runs[2]
    assert alone.speed_source == "other runs" and alone.eta_s == pytest.approx(40.0)


def test_lengths_past_production_ps_follow_the_stop_rule(tmp_path):
    """Segments 1 and 2 done (D_Na 30 %: go on), segment 3 under way: committed to 6 ps.
    Then segment 3 done with D_Na at 8 %: the run stops at 6 ps (stitching)."""
    camp = Campaign(tmp_path)
    camp.done_segment(1, 1)
    camp.done_segment(1, 2, rel_error=0.3)
    seg3 = camp.running_segment(1, 3, last_step=5000)
    r = campaign_status(camp.results, protocol=PROTOCOL, modifier="Na").runs[0]
    assert (r.ps_done, r.ps_planned, r.ps_committed, r.ps_max) == (5.0, 4.0, 6.0, 8.0)
    assert r.segments_done == [1, 2] and r.segments_running == [3]
    assert "after segment 2: go on (not converged: rel. error of D_Na 0.30" in r.detail

    (seg3 / "segment.json").write_text(json.dumps(record(3, 0.08)))
    r = campaign_status(camp.results, protocol=PROTOCOL, modifier="Na").runs[0]
    assert r.state == "running" and r.segments_done == [1, 2, 3] and r.segments_running == []
    assert (r.ps_done, r.ps_committed) == (6.0, 6.0) and r.eta_s == 0.0
    assert "after segment 3: stop (converged" in r.detail and "stitching" in r.detail
    # without the campaign's config: the decision the segment recorded, lengths unknown
    r = campaign_status(camp.results).runs[0]
    assert r.segmented and r.segments_done == [1, 2, 3] and r.ps_done == 6.0
    assert "after segment 3: go on (written by the segment)" in r.detail


def test_runs_known_only_from_segment_logs_are_discovered(tmp_path, capsys):
    results = tmp_path / "results" / "camp"
    log = segment_log(results, RunKey(COMP, 1600, 3), 1)
    log.parent.mkdir(parents=True)
    log.write_text("Traceback (most recent call last):\nMemoryError: cannot allocate\n")
    assert discover_runs(results) == {RunKey(COMP, 1600, 3)}
    assert main(["status", str(results.parent)]) == 0  # results/ holding the campaign
    out = capsys.readouterr().out
    assert "x0.50_m2.00_T1600_rep03  failed" in out and "MemoryError" in out


# --- a real segmented campaign ------------------------------------------------------------------
TARGET = f"results/tiny/{COMP}/T2400/rep01/production/run.json"


def _status_json(tmp_path: Path, config: Path, capsys, *more: str) -> dict:
    results = tmp_path / "results" / "tiny"
    capsys.readouterr()
    assert main(["status", str(results), "--configfile", str(config), "--json", *more]) == 0
    return json.loads(capsys.readouterr().out)


def wait_for_exit(lock_file: Path, timeout_s: float = 120.0) -> None:
    """Wait until the processes a ``writer.lock`` names (writer, LAMMPS) have exited."""
    try:
        doc = json.loads(lock_file.read_text())
    except (OSError, ValueError):
        return
    pids = [doc.get(k) for k in ("pid", "child_pid", "child_pgid") if isinstance(doc.get(k), int)]
    deadline = time.time() + timeout_s
    while any(process_alive(p) for p in pids):
        assert time.time() < deadline, f"{pids} still alive after SIGKILL"
        time.sleep(0.05)


@pytest.mark.lammps
@pytest.mark.slow
def test_status_of_a_real_segmented_campaign_running_killed_and_done(tmp_path, capsys):
    """4 ps in 2 ps segments, target 0.1 % (unreachable) up to 6 ps: three segments.
    Status is read while segment 2 runs, after SIGKILL of Snakemake's process group in
    segment 2, and after the rerun completes."""
    from test_workflow import SNAKEMAKE, snakemake

    require_lmp()
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    cfg["compositions"]["grid"]["m"] = [2.0]
    cfg["temperatures_K"] = [2400]
    cfg["replicas"] = 1
    cfg["protocol"].update(
        production_ps=4, segment_ps=2, max_production_ps=6, target_rel_error=0.001,
        restart_interval_fs=200,
    )  # fmt: skip
    config = tmp_path / "segmented.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--cores", "1", "--configfile",
           str(config), "-d", str(tmp_path), TARGET]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    run_dir = tmp_path / TARGET.removesuffix("/run.json")
    seg2 = run_dir / "segments" / "2"
    try:
        # while it runs: segment 1 done, segment 2 past its first restart file (2.2 ps)
        while not (seg2 / "restart.2200.bin").exists():
            assert proc.poll() is None, "the workflow ended before segment 2 could be read"
            time.sleep(0.02)
        t1 = time.perf_counter()
        running = campaign_status(
            tmp_path / "results" / "tiny", protocol=dict(PROTOCOL, max_production_ps=6.0),
            modifier="Na",
        )  # fmt: skip
        t_status = time.perf_counter() - t1
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # Snakemake, the job script and LAMMPS
        proc.wait()
    t_first = time.perf_counter() - t0
    assert not (seg2 / "segment.json").exists(), "segment 2 finished before it was killed"
    r = running.runs[0]
    with capsys.disabled():
        print(format_status(running, all_runs=True))
        print(f"status read in {t_status * 1000:.0f} ms")
    assert running.state == "running" and r.state == "running", r.detail
    assert (r.segments_done, r.segments_running, r.segments_failed) == ([1], [2], [])
    assert 2.2 <= r.ps_done < 4.0
    assert (r.ps_planned, r.ps_committed, r.ps_max) == (4.0, 4.0, 6.0)
    assert r.last_step is not None and 2000 <= r.last_step < 4000
    assert r.last_step_age_s is not None and r.last_step_age_s < 60
    assert r.speed_ps_per_s is not None and r.speed_ps_per_s > 0
    assert r.speed_source == "own thermo"
    assert r.eta_s == pytest.approx((4.0 - r.ps_done) / r.speed_ps_per_s)
    if r.writer is not None:  # the workflow records its writers (writer.lock)
        assert r.writer.alive is True and r.writer.directory == "segments/2"

    # killed: nothing runs any more once the writer and its LAMMPS have exited
    wait_for_exit(seg2 / "writer.lock")
    killed = _status_json(tmp_path, config, capsys)
    k = killed["runs"][0]
    assert k["segments_done"] == [1] and k["segments_failed"] == [] and k["ps_done"] >= 2.2
    assert (k["ps_planned"], k["ps_max"]) == (4.0, 6.0)
    if (seg2 / "writer.lock").exists():  # left by the killed writer: stalled at once
        assert k["state"] == "stalled" and "is gone" in k["detail"], k
    else:  # no writer recorded: the run is stalled once nothing was written for a while
        assert k["state"] == "running", k
    later = campaign_status(
        tmp_path / "results" / "tiny", protocol=dict(PROTOCOL, max_production_ps=6.0),
        now=time.time() + 11 * 60,
    ).runs[0]  # fmt: skip
    assert later.state == "stalled" and later.segments_running == []
    assert later.segments_stalled == [2]
    assert "a rerun resumes from restart." in later.detail

    # the rerun resumes segment 2, runs segment 3 and stitches: done at the maximum
    t2 = time.perf_counter()
    snakemake("--configfile", str(config), "-d", str(tmp_path), "--unlock")
    snakemake("--configfile", str(config), "-d", str(tmp_path), "--cores", "1", TARGET)
    t_rerun = time.perf_counter() - t2
    done = _status_json(tmp_path, config, capsys)
    d = done["runs"][0]
    assert done["state"] == "done" and d["state"] == "done"
    assert d["segments_done"] == [1, 2, 3] and d["ps_done"] == pytest.approx(6.0)
    assert (d["ps_planned"], d["ps_max"]) == (4.0, 6.0)
    assert d["detail"].startswith("max_production_ps reached")
    assert done["wall_s_per_ns"] > 0 and done["eta_s"] == 0.0
    assert main(["status", str(tmp_path / "results" / "tiny"), "--all"]) == 0
    with capsys.disabled():
        print(capsys.readouterr().out)
        print(f"first run to the kill: {t_first:.1f} s; rerun to the end: {t_rerun:.1f} s")
