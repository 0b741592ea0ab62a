"""Benchmark: one campaign through Slurm packed (cluster.pack) or unpacked.

Runs tests/data/tiny_pack.yaml (16 productions of 150 atoms, 8 glasses) in a fresh
temporary directory through the local Slurm of tests/slurm/cluster.sh, to its runs
table, and prints one line: the mode, the Slurm jobs it submitted and its wall time.

* ``--mode packed``: ``--profile profiles/slurm-pack`` with the config's
  ``cluster.pack: {runs_per_job: 4, runs_per_gpu: 4}``;
* ``--mode unpacked``: the same campaign without ``cluster.pack`` through
  ``--profile profiles/slurm --profile profiles/slurm-test`` (one Slurm job per run).

With ``--gpu`` (default) every production asks for one GPU (``--set-resources
production:gpu=1``; the test node has one fake GPU): unpacked, the productions queue for
it one at a time; packed, four share it. ``--no-gpu``: CPU runs only.

Start the cluster first with ``GLASSFLOW_SLURM_CPUS=8 bash tests/slurm/cluster.sh
start`` (8 advertised CPUs, so that an allocation of four one-CPU runs fits on two
cores). Time the two modes side by side with farm-bench (docs/slurm.md):

    farm-bench -n 2 --warmup 0 --timeout 3600 -- .venv/bin/python benchmarks/slurm_pack.py \
        --mode packed --vs '.venv/bin/python benchmarks/slurm_pack.py --mode unpacked'
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY_PACK = ROOT / "tests" / "data" / "tiny_pack.yaml"
TARGET = "results/tiny_pack/tables/runs.parquet"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["packed", "unpacked"], required=True)
    ap.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix=f"glassflow-{args.mode}-"))
    raw = yaml.safe_load(TINY_PACK.read_text())
    common = ["--jobs", "8", "--retries", "0", "--latency-wait", "5"]
    if args.mode == "packed":
        profile = ["--profile", str(ROOT / "profiles" / "slurm-pack")]
        common += ["--default-resources", "slurm_partition=cpu", "runtime=10", "mem_mb=500"]
        common += ["--max-status-checks-per-second", "10"]
    else:
        del raw["cluster"]
        profile = ["--profile", str(ROOT / "profiles" / "slurm")]
        profile += ["--profile", str(ROOT / "profiles" / "slurm-test")]
    if args.gpu:
        common += ["--set-resources", "production:gpu=1"]
    config = work / "campaign.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("SNAKEMAKE_PROFILE", None)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work)]
    cmd += ["--configfile", str(config), *profile, *common, "--", TARGET]
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    log = r.stdout + r.stderr
    if r.returncode != 0:
        print(log[-4000:], file=sys.stderr)
        return 1
    if args.mode == "packed":
        sub = (work / ".snakemake" / "glassflow-slurm" / "submitted.tsv").read_text()
        jobs = len(sub.splitlines())
    else:
        jobs = len(re.findall(r"has been submitted with SLURM jobid", log))
    print(f"{args.mode} gpu={args.gpu}: {jobs} Slurm jobs, {wall:.1f} s wall ({work})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
