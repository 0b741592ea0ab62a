"""The tiny campaign through a real (single-node) Slurm cluster.

Starts the cluster of tests/slurm/cluster.sh (skips with its reason when this
machine cannot run Slurm), runs the MD stages of tests/data/tiny.yaml once
locally and once through the Slurm executor with
``--profile profiles/slurm --profile profiles/slurm-test``, and checks that

* every job went through Slurm (job ids, ``scontrol show job`` records, logs),
* the short analysis jobs were bundled into a group job,
* trajectories are identical frame by frame and thermo tables equal,
* a ``gpu=1`` MD job is submitted to the ``gpu`` partition and gets the
  (fake) GPU gres.

Run: ``pytest -m slurm tests/test_slurm.py -s`` (as root; 3-4 minutes on 2 cores).
A plain ``pytest`` skips it (opt in with ``-m slurm`` or GLASSFLOW_SLURM_TESTS=1).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from glassflow.config import build_campaign
from glassflow.trajectory import open_trajectory

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.lammps]

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
TINY = ROOT / "tests" / "data" / "tiny.yaml"
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)")


def _cluster(cmd: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(CLUSTER), cmd], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def slurm_cluster(request):
    """A running local Slurm; started (and stopped afterwards) here unless already up."""
    # Opt-in: installing and starting Slurm is not for a plain `pytest` run.
    if "slurm" not in (request.config.getoption("markexpr") or "") and (
        os.environ.get("GLASSFLOW_SLURM_TESTS") != "1"
    ):
        pytest.skip("Slurm integration test: run `pytest -m slurm` or .ci/slurm")
    if os.name != "posix" or shutil.which("bash") is None:
        pytest.skip("the local Slurm cluster needs Linux and bash")
    already_up = _cluster("status").returncode == 0
    if not already_up:
        for step in ("install", "start"):
            r = _cluster(step)
            if r.returncode == 3:  # "SKIP: <reason>" - this machine cannot run Slurm
                reason = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1]
                pytest.skip(f"cluster.sh {step}: {reason}")
            assert r.returncode == 0, f"cluster.sh {step} failed:\n{r.stdout}\n{r.stderr}"
    yield
    if not already_up:
        _cluster("stop")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SNAKEMAKE_PROFILE", None)  # no user profile may leak into the test
    # the venv's lmp and python3 (-m snakemake in the jobs) first on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _snakemake(workdir: Path, args: list[str], targets: list[str], timeout: float = 300):
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--directory",
        str(workdir),
        "--configfile",
        str(TINY),
        *args,
        "--",
        *targets,
    ]
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)
    dt = time.monotonic() - t0
    log = r.stdout + r.stderr
    (workdir / "snakemake.out").write_text(log)
    assert r.returncode == 0, f"{' '.join(cmd)} failed (exit {r.returncode}):\n{log[-6000:]}"
    return log, dt


def _slurm_args(*extra: str) -> list[str]:
    return [
        "--profile",
        str(ROOT / "profiles" / "slurm"),
        "--profile",
        str(ROOT / "profiles" / "slurm-test"),
        "--slurm-keep-successful-logs",
        *extra,
    ]


def _scontrol(jobid: str) -> dict[str, str]:
    """`scontrol show job` as key=value pairs (finished jobs stay MinJobAge=300 s)."""
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True, check=True
    ).stdout
    return dict(tok.split("=", 1) for tok in out.split() if "=" in tok)


def _runs() -> list[str]:
    """results/tiny/<comp>/T<T>/rep<NN> of every production run of the tiny campaign."""
    camp = build_campaign(
        yaml.safe_load(TINY.read_text()),
        ROOT / "workflow" / "schemas" / "config.schema.yaml",
        root=ROOT,
    )
    return [f"{camp.results}/{c}/T{T}/rep{r:02d}" for c, T, r in camp.runs()]


def _assert_same_trajectory(a: Path, b: Path) -> None:
    ta, tb = open_trajectory(a, verify=True), open_trajectory(b, verify=True)
    assert ta.n_frames == tb.n_frames > 1, (a, ta.n_frames, tb.n_frames)
    np.testing.assert_array_equal(ta.steps, tb.steps)
    assert ta.species == tb.species
    np.testing.assert_array_equal(ta.types, tb.types)
    np.testing.assert_array_equal(ta.box_A, tb.box_A)
    for start, stop in ta.iter_chunks(64):
        # LAMMPS on one rank is deterministic for the same input and seed:
        # the frames must be bit-identical, not merely close.
        np.testing.assert_array_equal(ta.positions(start, stop), tb.positions(start, stop))
        if ta.has_velocities:
            np.testing.assert_array_equal(ta.velocities(start, stop), tb.velocities(start, stop))


def test_tiny_campaign_through_slurm(slurm_cluster, tmp_path, lmp):
    t_start = time.monotonic()
    runs = _runs()
    assert len(runs) == 8
    production = [r + "/production/run.json" for r in runs]
    # one analyse_runs job per (composition, T): results/tiny/<comp>/T<T>/tables/...
    dynamics = sorted({str(Path(r).parent / "tables" / "dynamics_summary.parquet") for r in runs})

    # 1. reference: a plain local run (workflow profile only: cores 2)
    local = tmp_path / "local"
    local.mkdir()
    _, t_local = _snakemake(local, ["--cores", "2"], production)

    # 2. the same through Slurm, plus the per-run analyses (group "analysis")
    slurm = tmp_path / "slurm"
    slurm.mkdir()
    log, t_slurm = _snakemake(slurm, _slurm_args(), production + dynamics)

    submitted = SUBMITTED.findall(log)
    # 4 build_cell + 4 melt_quench + 8 production, and the 4 analyse_runs jobs
    # (one per composition and T) bundled into one group job (analysis=10)
    assert "Provided remote nodes" in log
    group_logs = [p for _, p in submitted if "/group_analysis" in p]
    assert len(submitted) == 16 + len(group_logs), log[-4000:]
    assert len(group_logs) == 1, group_logs
    for jobid, slurm_log in submitted:
        info = _scontrol(jobid)
        assert info["JobState"] == "COMPLETED", (jobid, info.get("JobState"))
        assert info["Partition"] == "cpu"
        assert Path(info["WorkDir"]).resolve() == slurm.resolve()
        assert "gres/gpu" not in info.get("AllocTRES", "")
        assert Path(slurm_log).is_file(), slurm_log
    group = _scontrol(next(j for j, p in submitted if "/group_analysis" in p))
    assert int(group["NumCPUs"]) == 2  # layered by `cores: 2` of profiles/default
    for d in dynamics:
        assert (slurm / d).is_file()

    # 3. same outputs: trajectories frame by frame, thermo tables, glasses
    for run in runs:
        a, b = local / run / "production", slurm / run / "production"
        _assert_same_trajectory(a / "trajectory.gtrj", b / "trajectory.gtrj")
        pd.testing.assert_frame_equal(
            pd.read_parquet(a / "thermo.parquet"), pd.read_parquet(b / "thermo.parquet")
        )
    glasses = sorted({f"{Path(r).parent.parent}/{Path(r).name}/glass" for r in runs})
    assert len(glasses) == 4
    for g in glasses:
        assert (local / g / "glass.data").read_bytes() == (slurm / g / "glass.data").read_bytes()

    # 4. one MD job with gpu=1 through the gpu partition (fake GPU gres)
    glass_target = glasses[0] + "/glass.data"
    before = (slurm / glass_target).read_bytes()
    log, t_gpu = _snakemake(
        slurm,
        _slurm_args(
            "--forcerun",
            "melt_quench",
            "--set-resources",
            "melt_quench:gpu=1",
            "melt_quench:slurm_partition=gpu",
        ),
        [glass_target],
    )
    gpu_jobs = SUBMITTED.findall(log)
    assert len(gpu_jobs) == 1, log[-4000:]
    info = _scontrol(gpu_jobs[0][0])
    assert info["JobState"] == "COMPLETED"
    assert info["Partition"] == "gpu"
    assert "gpu:1" in info.get("TresPerJob", "") or "gres/gpu=1" in info.get("AllocTRES", ""), info
    # accelerator none: the GPU is allocated but unused, the glass is unchanged
    assert (slurm / glass_target).read_bytes() == before

    total = time.monotonic() - t_start
    print(
        f"\nslurm test: local {t_local:.0f} s, slurm {t_slurm:.0f} s, "
        f"gpu job {t_gpu:.0f} s, total {total:.0f} s"
    )
