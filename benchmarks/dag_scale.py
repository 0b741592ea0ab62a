"""Benchmark: time and memory of building the DAG of a 10,000-run campaign.

Writes a campaign config with 10 x 10 grid compositions x 10 temperatures x 10
replicas = 10,000 production runs (300 atoms at 2.01 g/cm3: cell edge ~19 A,
more than twice the 7 A cutoff, so every run is valid) into a temporary working
directory and times ``snakemake -n`` (dry run of the whole DAG, about 33,000 jobs)
and ``snakemake -n --quiet``. Each measurement is a fresh subprocess; wall time
and peak resident memory (``ru_maxrss`` of that child, via ``os.wait4``) are
printed. Timings on a shared machine are noisy: ``--repeat`` runs each mode
several times and the best is reported. Target: under 30 s.

Usage: ``.venv/bin/python benchmarks/dag_scale.py [--repeat 3] [--target all|production]
[--extra '--rerun-triggers mtime'] [--profile-to FILE]`` (``--target production``: only
the MD part, every run.json; ``--profile-to`` writes a cProfile of one quiet dry run).
CPU time is printed beside wall time: it is less disturbed by other load.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def campaign(n_x: int = 10, n_m: int = 10, n_T: int = 10, replicas: int = 10) -> dict:
    return {
        "campaign": "dagscale",
        "compositions": {
            "n_atoms": 300,
            "grid": {
                "x": [round(0.10 + 0.04 * i, 2) for i in range(n_x)],
                "m": [round(2.0 + 0.1 * j, 2) for j in range(n_m)],
            },
        },
        "cell": {"mode": "density", "density_g_cm3": 2.01},
        "temperatures_K": [1000 + 100 * k for k in range(n_T)],
        "replicas": replicas,
        "engine": {"cutoff_A": 7.0},
    }


def production_targets(cfg: dict) -> list[str]:
    """The run.json of every production run (the MD part of the DAG only)."""
    sys.path.insert(0, str(ROOT / "src"))
    from glassflow.config.grid import build_campaign

    camp = build_campaign(
        copy.deepcopy(cfg), ROOT / "workflow" / "schemas" / "config.schema.yaml", root=ROOT
    )
    return [f"{camp.results}/{c}/T{T}/rep{r:02d}/production/run.json" for c, T, r in camp.runs()]


def run(cmd: list[str], cwd: Path) -> tuple[float, float, float, int, str]:
    """Wall time (s), CPU time (s), peak RSS (MB) and exit code of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024.0, proc.returncode, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--target",
        default="all",
        help="snakemake target: all (default), production (every run.json), or a file",
    )
    ap.add_argument(
        "--extra", default="", help="more snakemake options, e.g. '--rerun-triggers mtime'"
    )
    ap.add_argument("--profile-to", type=Path, help="write a cProfile (.prof) of one quiet run")
    args = ap.parse_args()

    cfg = campaign()
    n_runs = (
        len(cfg["compositions"]["grid"]["x"])
        * len(cfg["compositions"]["grid"]["m"])
        * len(cfg["temperatures_K"])
        * cfg["replicas"]
    )
    with tempfile.TemporaryDirectory(prefix="glassflow-dag-") as tmp:
        work = Path(tmp)
        cfg_path = work / "dagscale.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        base = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "--directory",
            str(work),
            "--configfile",
            str(cfg_path),
            "-n",
            "--cores",
            "1",
            *args.extra.split(),
        ]
        targets = production_targets(cfg) if args.target == "production" else [args.target]
        print(f"campaign: {n_runs} production runs; snakemake -n {args.target}; workdir {work}")
        results = {}
        for mode, extra in (("dry-run", []), ("dry-run --quiet", ["--quiet"])):
            best = None
            for i in range(args.repeat):
                wall, cpu, rss, rc, out = run(base + extra + ["--", *targets], ROOT)
                if rc != 0:
                    print(out[-3000:])
                    print(f"{mode}: snakemake failed with exit code {rc}")
                    return 1
                print(
                    f"  {mode:16s} run {i + 1}: wall {wall:6.1f} s, cpu {cpu:6.1f} s, "
                    f"peak RSS {rss:5.0f} MB"
                )
                if best is None or wall < best[0]:
                    best = (wall, cpu, rss, out)
            results[mode] = best
        stats = results["dry-run"][3]
        stats = stats[stats.find("Job stats:") :].split("\n\n")[0]
        print(stats)
        for mode, (wall, cpu, rss, _) in results.items():
            verdict = "OK" if wall < 30 else "SLOW (target < 30 s)"
            print(
                f"best {mode:16s}: wall {wall:6.1f} s, cpu {cpu:6.1f} s, "
                f"peak RSS {rss:5.0f} MB  {verdict}"
            )
        if args.profile_to:
            prof = args.profile_to.resolve()
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), *base[1:]]
            wall, cpu, rss, rc, out = run(cmd + ["--quiet", "--", *targets], ROOT)
            print(f"cProfile run: {wall:.1f} s (exit {rc}) -> {prof}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
