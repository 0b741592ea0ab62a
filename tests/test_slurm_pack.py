"""Packed MD runs through a real (single-node) Slurm cluster.

tests/data/tiny_pack.yaml is 16 tiny productions (2 compositions x 2 T x 4 replicas)
and 8 glasses (cell build + melt-quench) with
``cluster.pack: {runs_per_job: 4, runs_per_gpu: 4}``; every production asks for one
(fake) GPU. Through ``--profile profiles/slurm-pack`` it checks
that

* the 8 glasses go to Slurm as 2 allocations and the 16 productions as 4, each
  asking for 4 CPUs, the summed memory, the longest member's time per layer (not the
  sum over members) and, for productions, ONE GPU for its four runs (what slurmctld
  recorded: ``scontrol show job``);
* the four runs of an allocation ran side by side, each on its own slot of the GPU;
* one allocation killed with ``scancel`` while its runs were half done: the rerun
  submits one new allocation for those four runs and completes the campaign;
* every trajectory has exactly the frames (time steps) of the same campaign run
  unpacked on this machine, and the runs that were never killed are bit-identical to
  it (same seeds, same single-rank runs); a killed run resumes from its restart file.

The cluster is started with GLASSFLOW_SLURM_CPUS=8 (tests/slurm/cluster.sh): the node
advertises 8 CPUs on this 2-core machine so that an allocation of four one-CPU runs
fits. Run: ``pytest -m slurm tests/test_slurm_pack.py`` (as root; about 8 min on 2
cores). A plain ``pytest`` skips it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_slurm import slurm_cluster  # noqa: F401 - the shared cluster fixture

from glassflow.config.grid import build_campaign
from glassflow.io.trajectory import open_trajectory
from glassflow.md.engines.lammps_restart import restart_files

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.lammps]

ROOT = Path(__file__).resolve().parents[1]
TINY_PACK = ROOT / "tests" / "data" / "tiny_pack.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SNAKEMAKE_PROFILE", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


TARGET = "results/tiny_pack/tables/runs.parquet"


def _cmd(workdir: Path, config: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(config), *args, "--", TARGET,
    ]  # fmt: skip


PACKED = (
    "--profile", str(ROOT / "profiles" / "slurm-pack"),
    "--default-resources", "slurm_partition=cpu", "runtime=10", "mem_mb=500",
    "--set-resources", "production:gpu=1",
    "--retries", "0", "--latency-wait", "5", "--jobs", "8",
    "--max-status-checks-per-second", "10",
)  # fmt: skip


def _submitted(workdir: Path) -> list[tuple[str, int, str]]:
    """(job id, runs, sbatch options) of every allocation glassflow slurm-submit made."""
    path = workdir / ".snakemake" / "glassflow-slurm" / "submitted.tsv"
    rows = [line.split("\t") for line in path.read_text().splitlines() if line]
    return [(j, int(n), opts) for j, n, opts in rows]


def _scontrol(jobid: str) -> dict[str, str]:
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True, check=True
    ).stdout
    return dict(tok.split("=", 1) for tok in out.split() if "=" in tok)


def _runs() -> list[str]:
    camp = build_campaign(
        yaml.safe_load(TINY_PACK.read_text()), SCHEMA, root=ROOT, check_writable=False
    )
    return [f"{c}/T{T}/rep{r:02d}" for c, T, r in camp.runs()]


def _running_pack_run() -> str | None:
    out = subprocess.run(
        ["squeue", "-h", "-t", "RUNNING", "-o", "%i %j"], capture_output=True, text=True
    ).stdout.splitlines()
    jobs = [line.split()[0] for line in out if line.split()[1].startswith("glassflow-pack_run")]
    return jobs[0] if jobs else None


def _gpu_slots(work: Path) -> dict[str, list[tuple[int, str]]]:
    """Allocation id -> (GPU slot, run) of each production it ran, from the runs' logs."""
    out: dict[str, list[tuple[int, str]]] = {}
    pattern = re.compile(r"GPU 0, slot (\d) of 4 \(packed job (\d+)\)")
    for log in (work / "results/tiny_pack/logs/production").glob("*.log"):
        comp, T, rep = log.stem.rsplit("_", 2)
        for slot, job in pattern.findall(log.read_text()):
            out.setdefault(job, []).append((int(slot), f"{comp}/{T}/{rep}"))
    return out


@pytest.mark.usefixtures("slurm_cluster")
def test_sixteen_runs_packed_four_per_allocation(tmp_path):
    runs = _runs()
    assert len(runs) == 16
    # the reference: the same campaign unpacked, here (same seeds, one rank per run)
    ref = tmp_path / "unpacked"
    ref.mkdir()
    raw = yaml.safe_load(TINY_PACK.read_text())
    del raw["cluster"]
    ref_config = ref / "unpacked.yaml"
    ref_config.write_text(yaml.safe_dump(raw))
    r = subprocess.run(
        _cmd(ref, ref_config, "--cores", "2"), cwd=ROOT, env=_env(), capture_output=True,
        text=True, timeout=1800,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    work = tmp_path / "packed"
    work.mkdir()
    # first pass: kill the allocation that runs the first four productions once one of
    # them has written a restart file half way (LAMMPS is then running in it)
    first_log = open(work / "first.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        _cmd(work, TINY_PACK, *PACKED), cwd=ROOT, env=_env(),
        stdout=first_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    killed = None
    try:
        deadline = time.monotonic() + 1200
        while killed is None:
            assert proc.poll() is None, (work / "first.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "no production reached a restart file"
            job = _running_pack_run()
            started = [
                p
                for p in (work / "results/tiny_pack").glob("x*/T*/rep*/production")
                if restart_files(p)
            ]
            if job is not None and started:
                subprocess.run(["scancel", job], check=True)
                killed = job
            time.sleep(0.2)
        first = proc.wait(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
        first_log.close()
    assert first != 0, "the killed allocation must fail the first pass"
    slots_first = _gpu_slots(work)  # a rerun replaces the logs of the killed runs
    n_first = len(_submitted(work))
    r = subprocess.run(
        _cmd(work, TINY_PACK, *PACKED), cwd=ROOT, env=_env(), capture_output=True,
        text=True, timeout=1800,
    )  # fmt: skip
    (work / "second.log").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]

    submitted = _submitted(work)
    packs = {
        kind: [s for s in submitted if f"--job-name=glassflow-{kind}0" in s[2]]
        for kind in ("pack_glass", "pack_run")
    }
    # 8 melt-quenches in 2 allocations; 16 productions in 4, plus 1 for the killed four
    assert [n for _, n, _ in packs["pack_glass"]] == [4, 4]
    assert [n for _, n, _ in packs["pack_run"]] == [4] * 5
    # the rerun: one allocation for the killed four runs (and the analysis after them)
    md = {j for j, _, _ in packs["pack_glass"] + packs["pack_run"]}
    assert [j for j, _, _ in submitted[n_first:] if j in md] == [packs["pack_run"][-1][0]]
    for jobid, _, opts in packs["pack_glass"] + packs["pack_run"]:
        job = _scontrol(jobid)
        assert job["NumCPUs"] == "4" and "mem=8000M" in job["TRES"], job
        minutes = int(re.search(r"--time=(\d+)", opts).group(1))
        h, m, s = (int(v) for v in job["TimeLimit"].split(":"))
        assert h * 60 + m == minutes and s == 0
        gpu = job.get("TresPerNode", "")
        assert (gpu == "gres:gpu:1") == (jobid in {j for j, _, _ in packs["pack_run"]}), job
    killed_state = _scontrol(killed)["JobState"]
    assert killed_state == "CANCELLED", killed_state

    # side by side, each on its own slot of the allocation's GPU
    slots = {**slots_first, **_gpu_slots(work)}
    for jobid, _, _ in packs["pack_run"]:
        assert sorted(s for s, _ in slots.get(jobid, [])) == [0, 1, 2, 3], (jobid, slots)

    # no frame lost or duplicated; the runs never killed are bit-identical
    killed_runs = {run for _, run in slots_first[killed]}
    assert len(killed_runs) == 4, killed_runs
    for run in runs:
        a = open_trajectory(work / "results/tiny_pack" / run / "production/trajectory.gtrj")
        b = open_trajectory(ref / "results/tiny_pack" / run / "production/trajectory.gtrj")
        assert a.n_frames == b.n_frames > 1
        np.testing.assert_array_equal(a.steps, b.steps)
        assert len(np.unique(a.steps)) == a.n_frames
        if run not in killed_runs:
            np.testing.assert_array_equal(a.positions(0, a.n_frames), b.positions(0, b.n_frames))
