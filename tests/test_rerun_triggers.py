"""A finished or interrupted production job can always be rerun through Snakemake, by
the recipes the README and docs/reruns.md give, and nothing reports done what is gone.

One tiny campaign (1 composition, 1 temperature, 1 replica of tests/data/tiny.yaml) is run
clean once through its default target, in one module-scoped directory; its trajectory and
thermo are the reference. Each test first makes sure the run is complete, so the tests
pass in any order, then reruns the production job the way a user
would trigger it, and checks that the job completes:

- reruns that are not interrupted (``--forcerun production``, ``--forcerun melt_quench``,
  a deleted or a corrupted trajectory) must reproduce the reference bit for bit: same seed,
  the serial run is deterministic;
- interrupted runs (SIGKILL of everything, then ``--unlock`` and ``--rerun-incomplete``;
  SIGKILL of Snakemake alone, whose orphans must stop; SIGINT, then a plain rerun) resume
  from a LAMMPS restart file. Restarts are not bitwise reproducible (neighbour lists are
  rebuilt, so rounding differs and the chaotic trajectory departs from the reference
  after a while). So we require: the frames before the restart step bit-identical to the
  reference, the same frame count and time stamps, and the mean temperature and
  potential energy after the restart step equal to the reference's within 4 combined
  standard errors (means of 1 ps blocks);
- two Snakemake processes on one results directory: the second writer is refused, the
  first completes untouched.

Interruptions wait for files (a restart file followed by the next one, so the first is
complete), never for time windows.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, TINY_CONFIG, require_lmp
from test_workflow import SNAKEMAKE, job_counts, snakemake

from glassflow.io.trajectory import TrajectoryError, open_trajectory
from glassflow.md.lammps_io import TIMING_COLUMNS
from glassflow.md.run_lock import lock_is_held, read_holder

pytestmark = [pytest.mark.lammps, pytest.mark.slow]

PRODUCTION_PS = 6  # restart files every 1 ps; interrupted once the one at 3 ps exists
RESULTS = "results/tiny"
RUN_DIR = f"{RESULTS}/x0.50_m2.00/T1600/rep01/production"
TABLE = f"{RESULTS}/x0.50_m2.00/T1600/tables/dynamics_summary.parquet"
# the files of the run itself; the default target asks for them too
TARGETS = (f"{RUN_DIR}/run.json", f"{RUN_DIR}/trajectory.gtrj")
DUMP_STEPS = 10  # tiny.yaml: dump every 10 fs at 1 fs


class Campaign:
    def __init__(self, root: Path):
        self.root = root
        self.config = root / "rerun.yaml"
        self.run_dir = root / RUN_DIR
        self.trajectory = self.run_dir / "trajectory.gtrj"

    def smk(self, *args, check=True, timeout=600):
        return snakemake(
            "--cores", "1", "--configfile", str(self.config), "-d", str(self.root), *args,
            check=check, timeout=timeout,
        )  # fmt: skip

    def run_json(self) -> dict:
        return json.loads((self.run_dir / "run.json").read_text())

    def thermo(self) -> pd.DataFrame:
        """Production thermo rows without the wall-clock columns (cpu_s, cpuremain_s)."""
        th = pd.read_parquet(self.run_dir / "thermo.parquet")
        th = th.drop(columns=[c for c in TIMING_COLUMNS if c in th.columns])
        return th[th["stage"] == "production"].reset_index(drop=True)

    def job_log(self) -> str:
        return "".join(
            p.read_text() for p in (self.root / "results/tiny/logs/production").iterdir()
        )

    def complete(self, *targets: str) -> None:
        """Whatever an earlier test left, finish the run (or ``targets``)."""
        self.smk("--unlock")
        self.smk(*(targets or TARGETS))
        assert self.trajectory.is_file() and (self.run_dir / "run.json").is_file()


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    require_lmp()
    root = tmp_path_factory.mktemp("rerun_triggers")
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    cfg["compositions"]["grid"]["m"] = [2.0]
    cfg["temperatures_K"] = [1600]
    cfg["replicas"] = 1
    cfg["protocol"]["production_ps"] = PRODUCTION_PS
    c = Campaign(root)
    c.config.write_text(yaml.safe_dump(cfg))
    t0 = time.perf_counter()
    c.smk()  # the default target: every run, table and figure
    print(f"clean run: {time.perf_counter() - t0:.1f} s")
    c.reference = c.trajectory.read_bytes()
    c.reference_thermo = c.thermo()
    c.glass = (root / "results/tiny/x0.50_m2.00/rep01/glass/glass.data").read_bytes()
    info = c.run_json()
    assert info["n_lammps_runs"] == 1 and info["resumed_from_step"] is None
    assert info["n_frames"] == PRODUCTION_PS * 100 + 1
    return c


def assert_reference(c: Campaign) -> None:
    """The rerun completed and reproduced the clean run bit for bit."""
    info = c.run_json()
    assert info["n_lammps_runs"] == 1 and info["resumed_from_step"] is None, info
    assert info["n_attempts"] == 1 and info["wall_time_s"] >= info["wall_time_s_last_attempt"]
    assert info["glass_sha256"] == hashlib.sha256(c.glass).hexdigest()
    open_trajectory(c.trajectory, verify=True)
    assert c.trajectory.read_bytes() == c.reference
    pd.testing.assert_frame_equal(c.thermo(), c.reference_thermo)
    assert not list(c.run_dir.glob("restart.*.bin")) and not list(c.run_dir.glob("dump.*"))


@pytest.fixture
def complete(campaign):
    """The campaign, complete (whatever the tests before left)."""
    campaign.complete()
    return campaign


def test_forcerun_production(complete):
    campaign = complete
    campaign.smk(*TARGETS, "--forcerun", "production")
    assert_reference(campaign)
    log = campaign.job_log()
    assert "starting clean" in log and "converted and removed" in log, log[-3000:]


def test_forcerun_melt_quench(complete):
    campaign = complete
    campaign.smk(*TARGETS, "--forcerun", "melt_quench")
    # the glass is rebuilt with the same seed: the same bytes, so the same trajectory
    glass = campaign.root / "results/tiny/x0.50_m2.00/rep01/glass/glass.data"
    assert glass.read_bytes() == campaign.glass
    assert_reference(campaign)


def test_deleted_trajectory(complete):
    campaign = complete
    campaign.trajectory.unlink(missing_ok=True)
    campaign.smk(*TARGETS)
    assert_reference(campaign)


def test_corrupted_trajectory(complete):
    campaign = complete
    """Snakemake decides by file existence and times, not content: a plain run does not
    notice a corrupted trajectory (checked below), so the user forces the rerun."""
    raw = bytearray(campaign.trajectory.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(b ^ 0xFF for b in raw[middle : middle + 64])
    campaign.trajectory.write_bytes(bytes(raw))
    with pytest.raises(TrajectoryError):
        open_trajectory(campaign.trajectory, verify=True)
    dry = campaign.smk("-n", *TARGETS)
    assert "production" not in job_counts(dry.stdout + dry.stderr)
    campaign.smk(*TARGETS, "--forcerun", "production")
    assert_reference(campaign)


def _start_forced_production(c: Campaign, *targets: str) -> subprocess.Popen:
    """``snakemake --forcerun production`` in its own session, like a terminal's job."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    args = ["--cores", "1", "--configfile", str(c.config), "-d", str(c.root)]
    return subprocess.Popen(
        [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), *args, *targets, "--forcerun", "production"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for(predicate, what: str, proc: subprocess.Popen | None = None, timeout=300) -> None:
    """Wait for a condition on files; fail early if ``proc`` ended first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"snakemake exited (rc {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def wait_for_complete_restart(c: Campaign, proc: subprocess.Popen) -> None:
    """Until restart.3000.bin exists: LAMMPS has finished writing restart.2000.bin."""
    wait_for(
        lambda: (c.run_dir / "restart.3000.bin").exists(),
        "the restart file at step 3000",
        proc,
    )


def _start_and_interrupt(c: Campaign, sig: int, freeze: bool = False) -> subprocess.Popen:
    """Force a new production, wait until a complete restart file exists, send ``sig`` to
    the whole process group (Snakemake, the job's script and LAMMPS, like a terminal's
    Ctrl-C or a node dying). With ``freeze``, LAMMPS is first stopped (SIGSTOP) so that
    the tiny run cannot finish between the restart file and the signal's arrival."""
    proc = _start_forced_production(c, *TARGETS)
    if freeze:
        _running_lammps(c, proc)
    else:
        wait_for_complete_restart(c, proc)
    os.killpg(proc.pid, sig)
    proc.wait(timeout=120)
    assert not c.trajectory.exists() and not (c.run_dir / "run.json").exists()
    return proc


def assert_resumed(c: Campaign) -> None:
    """Completed from a restart file: exact frames before it, same frames and time stamps,
    statistically equal temperature and potential energy after it."""
    info = c.run_json()
    assert info["n_lammps_runs"] == 2 and info["resumed_from_step"] >= 1000, info
    # wall time of both attempts: the killed one ran at least up to its restart file
    assert info["n_attempts"] == 2, info
    assert info["wall_time_s"] > info["wall_time_s_last_attempt"] > 0, info
    assert info["glass_sha256"] == hashlib.sha256(c.glass).hexdigest()
    step = info["resumed_from_step"]
    traj = open_trajectory(c.trajectory, verify=True)
    ref_path = c.root / "reference.gtrj"
    ref_path.write_bytes(c.reference)
    ref = open_trajectory(ref_path, verify=True)
    assert traj.n_frames == ref.n_frames == PRODUCTION_PS * 100 + 1
    assert np.array_equal(traj.steps, ref.steps)
    k = step // DUMP_STEPS  # frames 0 .. k-1 come from the first segment
    assert np.array_equal(traj.positions(0, k), ref.positions(0, k))
    assert np.array_equal(traj.velocities(0, k), ref.velocities(0, k))
    a, b = c.thermo(), c.reference_thermo
    assert np.array_equal(a["step"], b["step"]) and a["step"].is_unique
    before = a["step"] <= step
    # thermo rows before the restart step are the first segment's: identical
    first = a["step"] < step
    cols = ["step", "temp_K", "pe_kcal_mol", "press_atm"]
    pd.testing.assert_frame_equal(a.loc[first, cols], b.loc[first, cols])
    n_blocks = (PRODUCTION_PS * 1000 - step) // 1000  # 1 ps blocks after the restart
    for col in ("temp_K", "pe_kcal_mol"):

        def block_means(df, col=col):
            return [blk.mean() for blk in np.array_split(df.loc[~before, col].to_numpy(), n_blocks)]

        ma, mb = block_means(a), block_means(b)
        sem = np.hypot(np.std(ma, ddof=1), np.std(mb, ddof=1)) / np.sqrt(n_blocks)
        diff = abs(np.mean(ma) - np.mean(mb))
        assert diff <= 4 * sem, (col, diff, sem)
    assert not list(c.run_dir.glob("restart.*.bin")) and not list(c.run_dir.glob("dump.*"))
    assert "resuming" in c.job_log()


def test_sigkill_then_unlock_and_rerun_incomplete(complete):
    """The recipe of the docs after a hard kill: --unlock, then --rerun-incomplete."""
    campaign = complete
    _start_and_interrupt(campaign, signal.SIGKILL)
    # SIGKILL leaves Snakemake's lock and the job's incomplete marker, as after a power loss
    campaign.smk("--unlock")
    dry = campaign.smk("-n", "--rerun-incomplete")
    assert "production" in job_counts(dry.stdout + dry.stderr)
    campaign.smk("--rerun-incomplete")
    assert_resumed(campaign)


def test_sigint_then_plain_rerun_remakes_trajectory_and_tables(complete):
    """Ctrl-C in a forced rerun, then a plain `snakemake`: the default target asks for the
    trajectory, so the run resumes and the tables made from it are remade."""
    campaign = complete
    campaign.smk()  # every table up to date: only the lost trajectory can trigger a rerun
    dry = campaign.smk("-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr
    table = campaign.root / TABLE
    before = table.stat().st_mtime_ns
    proc = _start_and_interrupt(campaign, signal.SIGINT, freeze=True)
    assert proc.returncode != 0
    dry = campaign.smk("-n")  # Snakemake released its lock on SIGINT: no --unlock needed
    counts = job_counts(dry.stdout + dry.stderr)
    assert counts.get("production") == 1 and counts.get("analyse_runs") == 1, counts
    campaign.smk()
    assert_resumed(campaign)
    assert table.stat().st_mtime_ns > before
    assert table.stat().st_mtime_ns >= campaign.trajectory.stat().st_mtime_ns


def _running_lammps(c: Campaign, proc: subprocess.Popen):
    """The writer of the run as its lock names it, once its LAMMPS has written a complete
    restart file; LAMMPS is then frozen (SIGSTOP) so that it cannot finish by itself
    while the test acts (a tiny run takes only seconds)."""
    wait_for_complete_restart(c, proc)
    holder = read_holder(c.run_dir)
    assert holder is not None and holder.child is not None, "writer.lock names no LAMMPS"
    os.kill(holder.child.pid, signal.SIGSTOP)
    return holder


def test_kill9_of_snakemake_alone_stops_its_lammps(complete):
    """`kill -9` of the Snakemake process only: the job script and LAMMPS are orphans. The
    watchdog stops LAMMPS (here frozen, so SIGTERM waits and SIGKILL follows after the
    grace time); the docs' recipe (--unlock, --rerun-incomplete) resumes the run."""
    campaign = complete
    proc = _start_forced_production(campaign, *TARGETS)
    holder = _running_lammps(campaign, proc)
    assert any(s.pid == proc.pid for s in holder.supervisors), holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for(lambda: not holder.child.alive(), "the orphaned LAMMPS to stop", timeout=120)
    wait_for(lambda: not lock_is_held(campaign.run_dir), "the orphans to release the lock")
    assert not campaign.trajectory.exists()
    assert b"Total wall time" not in (campaign.run_dir / "log.lammps").read_bytes()
    assert "is gone: stopping LAMMPS" in campaign.job_log()
    campaign.smk("--unlock")
    campaign.smk("--rerun-incomplete")
    assert_resumed(campaign)


def test_two_snakemakes_on_one_results_dir(complete, tmp_path):
    """A second Snakemake (other working directory, same absolute results_dir) is refused
    at the run's lock, deletes nothing, and the first completes bit for bit."""
    campaign = complete
    cfg = yaml.safe_load(campaign.config.read_text())
    cfg["results_dir"] = str(campaign.root / "results")
    shared = tmp_path / "shared.yaml"
    shared.write_text(yaml.safe_dump(cfg))
    first = Campaign(campaign.root)
    first.config = shared
    targets = [str(campaign.root / t) for t in TARGETS]  # the rules' outputs are absolute now
    proc = _start_forced_production(first, *targets)
    holder = _running_lammps(campaign, proc)
    files = sorted(p.name for p in campaign.run_dir.iterdir())
    try:
        other = tmp_path / "other_workdir"
        second = snakemake(
            "--cores", "1", "--configfile", str(shared), "-d", str(other), *targets,
            "--forcerun", "production", check=False,
        )  # fmt: skip
        assert second.returncode != 0
        log = (campaign.root / "results/tiny/logs/production").joinpath(
            "x0.50_m2.00_T1600_rep01.log"
        )
        text = log.read_text()
        assert f"is being written by pid {holder.process.pid}" in text, text[-2000:]
        assert "nothing was deleted" in text
        assert sorted(p.name for p in campaign.run_dir.iterdir()) == files
    finally:
        os.kill(holder.child.pid, signal.SIGCONT)
    assert proc.wait(timeout=600) == 0
    assert_reference(campaign)


def test_unlock_and_rerun_incomplete_on_a_finished_run_do_nothing(complete):
    """The recovery recipe run when nothing was interrupted changes nothing."""
    campaign = complete
    before = campaign.trajectory.read_bytes()
    campaign.smk("--unlock")
    dry = campaign.smk("-n", "--rerun-incomplete", *TARGETS)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    campaign.smk("--rerun-incomplete", *TARGETS)
    assert campaign.trajectory.read_bytes() == before
