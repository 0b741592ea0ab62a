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


# production runs -> (n_x, n_m, n_T, replicas, x step, m step): 10^5 has ten times the
# compositions of 10^4 (the same temperatures and replicas), so every rule but the
# campaign-level ones has ten times the jobs and the two DAGs compare job for job.
SIZES = {
    10_000: (10, 10, 10, 10, 0.04, 0.1),
    100_000: (25, 40, 10, 10, 0.02, 0.01),
}


def campaign(
    n_x: int = 10,
    n_m: int = 10,
    n_T: int = 10,
    replicas: int = 10,
    dx: float = 0.04,
    dm: float = 0.1,
    segments: int = 1,
) -> dict:
    cfg = {
        "campaign": "dagscale",
        "compositions": {
            "n_atoms": 300,
            "grid": {
                "x": [round(0.10 + dx * i, 2) for i in range(n_x)],
                "m": [round(2.0 + dm * j, 2) for j in range(n_m)],
            },
        },
        "cell": {"mode": "density", "density_g_cm3": 2.01},
        "temperatures_K": [1000 + 100 * k for k in range(n_T)],
        "replicas": replicas,
        "engine": {"cutoff_A": 7.0},
    }
    if segments > 1:  # production in segments (checkpoint jobs) with a D target
        cfg["protocol"] = {
            "production_ps": 10000,
            "segment_ps": 10000 / segments,
            "max_production_ps": 20000,
            "target_rel_error": 0.1,
        }
    return cfg


def bare_snakefile(n_comp: int, n_T: int, replicas: int, n_jobs: int) -> str:
    """A minimal Snakefile with the campaign's shape and exactly ``n_jobs`` jobs.

    cell -> glass per (composition, replica), run per (composition, T, replica) from
    its glass, one analysis per (composition, T) over its replicas, one per composition
    over its glasses, a table over every analysis and a target asking for every run,
    like the workflow's default target; padding jobs make up the job count. Plain
    ``touch`` shell rules: no params, scripts, conda, logs or input functions beyond
    the fan-in. What the workflow costs beyond this is its own.
    """
    core = n_comp * replicas * 2 + n_comp * n_T * replicas + n_comp * n_T + n_comp + 2
    pad = n_jobs - core
    if pad < 0:
        raise ValueError(f"{n_jobs} jobs are fewer than the bare chain's {core}")
    return f"""
COMPS = [f"c{{i:05d}}" for i in range({n_comp})]
TS = list(range({n_T}))
REPS = [f"{{r:02d}}" for r in range(1, {replicas} + 1)]

wildcard_constraints:
    c=r"c\\d+",
    T=r"\\d+",
    r=r"\\d\\d+",
    i=r"\\d+",

rule all:
    input:
        "b/table",
        expand("b/{{c}}/T{{T}}/rep{{r}}/run", c=COMPS, T=TS, r=REPS),
        expand("b/pad/{{i}}", i=range({pad})),

rule cell:
    output: "b/{{c}}/rep{{r}}/cell"
    shell: "touch {{output}}"

rule glass:
    input: "b/{{c}}/rep{{r}}/cell"
    output: "b/{{c}}/rep{{r}}/glass"
    shell: "touch {{output}}"

rule run:
    input: "b/{{c}}/rep{{r}}/glass"
    output: "b/{{c}}/T{{T}}/rep{{r}}/run"
    shell: "touch {{output}}"

rule analyse_runs:
    input: lambda wc: expand("b/{{c}}/T{{T}}/rep{{r}}/run", c=wc.c, T=wc.T, r=REPS)
    output: "b/{{c}}/T{{T}}/analysis"
    shell: "touch {{output}}"

rule analyse_glasses:
    input: lambda wc: expand("b/{{c}}/rep{{r}}/glass", c=wc.c, r=REPS)
    output: "b/{{c}}/glasses"
    shell: "touch {{output}}"

rule table:
    input:
        expand("b/{{c}}/T{{T}}/analysis", c=COMPS, T=TS),
        expand("b/{{c}}/glasses", c=COMPS),
    output: "b/table"
    shell: "touch {{output}}"

rule pad:
    output: "b/pad/{{i}}"
    shell: "touch {{output}}"
"""


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


def job_count(out: str) -> int:
    """The total of a dry run's job stats."""
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total" and parts[1].isdigit():
            return int(parts[1])
    raise ValueError("no job stats in the dry run's output:\n" + out[-2000:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--runs",
        type=int,
        default=10_000,
        choices=sorted(SIZES),
        help="production runs of the campaign (default 10000)",
    )
    ap.add_argument(
        "--segments",
        type=int,
        default=1,
        help="production segments per run (default 1: no segments)",
    )
    ap.add_argument(
        "--modes",
        default="verbose,quiet,bare",
        help="what to time, comma-separated: verbose (snakemake -n), quiet (-n --quiet), "
        "bare (-n --quiet of a bare Snakefile with the same job count); default all three",
    )
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

    n_x, n_m, n_T, replicas, dx, dm = SIZES[args.runs]
    cfg = campaign(n_x, n_m, n_T, replicas, dx, dm, segments=args.segments)
    n_runs = n_x * n_m * n_T * replicas
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with tempfile.TemporaryDirectory(prefix="glassflow-dag-") as tmp:
        work = Path(tmp)
        cfg_path = work / "dagscale.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        snakemake = [sys.executable, "-m", "snakemake", "-n", "--cores", "1"]
        base = [
            *snakemake,
            "-s",
            str(ROOT / "Snakefile"),
            "--directory",
            str(work),
            "--configfile",
            str(cfg_path),
            *args.extra.split(),
        ]
        targets = production_targets(cfg) if args.target == "production" else [args.target]
        seg = f", {args.segments} segments each" if args.segments > 1 else ""
        print(
            f"campaign: {n_runs} production runs ({n_x * n_m} compositions x {n_T} T x "
            f"{replicas} replicas{seg}); snakemake -n {args.target}; workdir {work}"
        )
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        commands = {
            "verbose": ("dry-run", base),
            # --quiet rules: no line per job, but the job stats (the job count)
            "quiet": ("dry-run --quiet", base + ["--quiet", "rules"]),
        }
        results = {}
        n_jobs = None
        for mode in modes:
            if mode == "bare":
                if n_jobs is None:  # the job count comes from a dry run of the workflow
                    *_, rc, out = run(base + ["--quiet", "rules", "--", *targets], ROOT)
                    n_jobs = job_count(out)
                bare = work / "bare"
                bare.mkdir(exist_ok=True)
                (bare / "Snakefile").write_text(bare_snakefile(n_x * n_m, n_T, replicas, n_jobs))
                label, cmd = "bare chain --quiet", [*snakemake, "--quiet", "rules"]
                cmd += ["-d", str(bare)]
                cmd += ["-s", str(bare / "Snakefile")]
                cwd = bare
            else:
                label, cmd = commands[mode]
                cmd = cmd + ["--", *targets]
                cwd = ROOT
            best = None
            for i in range(args.repeat):
                wall, cpu, rss, rc, out = run(cmd, cwd)
                if rc != 0:
                    print(out[-3000:])
                    print(f"{label}: snakemake failed with exit code {rc}")
                    return 1
                if mode == "bare" and job_count(out) != n_jobs:
                    print(f"bare chain: {job_count(out)} jobs, expected {n_jobs}")
                    return 1
                print(
                    f"  {label:20s} run {i + 1}: wall {wall:6.1f} s, cpu {cpu:6.1f} s, "
                    f"peak RSS {rss:5.0f} MB"
                )
                if best is None or wall < best[0]:
                    best = (wall, cpu, rss, out)
            if mode != "bare":
                n_jobs = job_count(best[3])
            results[label] = best
        shown = results.get("dry-run") or results.get("dry-run --quiet")
        if shown:
            stats = shown[3]
            print(stats[stats.find("Job stats:") :].split("\n\n")[0])
        for label, (wall, cpu, rss, _) in results.items():
            verdict = (
                ""
                if label.startswith("bare")
                else ("OK" if wall < 30 and rss < 2048 else "SLOW (target < 30 s, < 2 GB)")
            )
            print(
                f"best {label:20s}: wall {wall:6.1f} s, cpu {cpu:6.1f} s, "
                f"peak RSS {rss:5.0f} MB  {verdict}"
            )
        if "bare chain --quiet" in results and "dry-run --quiet" in results:
            q, b = results["dry-run --quiet"], results["bare chain --quiet"]
            print(
                f"{n_runs} runs, {n_jobs} jobs: quiet dry run / bare chain = "
                f"{q[0] / b[0]:.2f} (wall), {q[1] / b[1]:.2f} (cpu), "
                f"{q[2] / b[2]:.2f} (peak RSS)"
            )
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.profile_to:
            prof = args.profile_to.resolve()
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), *base[1:]]
            wall, cpu, rss, rc, out = run(cmd + ["--quiet", "--", *targets], ROOT)
            print(f"cProfile run: {wall:.1f} s (exit {rc}) -> {prof}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
