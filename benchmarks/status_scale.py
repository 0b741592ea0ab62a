"""Benchmark: time and memory of ``glassflow status`` on a campaign of 10^4 or 10^5 runs.

Builds, in a temporary directory, the results tree of the dag_scale campaign (segmented
production, two segments of 5 ns) part way through: 60 % of the runs finished
(``run.json`` and the two segment rule logs), 2 % running (segment 2 under way: input,
LAMMPS log with thermo rows, a restart file, a live-looking rule log), 0.5 % failed (a
segment log with a LAMMPS ERROR), the rest pending (glass only). Then times
``glassflow status`` on it, without and with ``--configfile`` (the expected grid from
the config), each in a fresh process: wall and CPU time and peak RSS (``os.wait4``).

Usage: ``.venv/bin/python benchmarks/status_scale.py [--runs 10000|100000] [--repeat 3]
[--keep DIR]`` (``--keep``: build the tree in DIR and leave it there).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag_scale import ROOT, SIZES, campaign, run  # noqa: E402

PROTOCOL = {
    "production_ps": 10000.0,
    "segment_ps": 5000.0,
    "max_production_ps": 20000.0,
    "target_rel_error": 0.1,
    "timestep_fs": 2.0,
    "dump_interval_fs": 1000.0,
    "restart_interval_fs": 100000.0,
}
HEADER = "Step Time Temp PotEng KinEng TotEng Press Volume CPU CPULeft"


def thermo_log(start: int, end: int, upto: int) -> str:
    rows = [
        f"{s:>8d} {s:g} 1200.1 -27000.5 900.2 -26100.3 1200.0 3516.2 {(s - start) / 1e4:g} "
        f"{(upto - s) / 1e4:g}"
        for s in range(start, end + 1, 50_000)
    ]
    return "\n".join(
        [
            "LAMMPS (22 Jul 2025 - Update 4)",
            "GLASSFLOW_STAGE production",
            "   " + HEADER,
            *rows,
            "",
        ]
    )


def build_tree(results: Path, keys: list[tuple[str, int, int]]) -> dict[str, int]:
    """The results tree of ``keys`` part way through; returns the count of each kind."""
    seg_logs = results / "logs" / "production_segment"
    seg_logs.mkdir(parents=True)
    counts = dict.fromkeys(("done", "running", "failed", "pending"), 0)
    glasses = set()
    steps = int(PROTOCOL["segment_ps"] * 1000 / PROTOCOL["timestep_fs"])
    for i, (comp, T, rep) in enumerate(keys):
        name = f"{comp}_T{T}_rep{rep:02d}"
        prod = results / comp / f"T{T}" / f"rep{rep:02d}" / "production"
        if (comp, rep) not in glasses:
            glass = results / comp / f"rep{rep:02d}" / "glass"
            glass.mkdir(parents=True)
            (glass / "glass.data").write_text("glass\n")
            glasses.add((comp, rep))
        kind = i % 200  # 120 of 200 done, 4 running, 1 failed, the rest pending
        if kind < 120:
            prod.mkdir(parents=True)
            doc = {
                "n_frames": 10001,
                "n_segments": 2,
                "total_production_ps": 10000.0,
                "wall_time_s": 7200.0,
                "segments": [
                    {"segment": k, "total_ps": 5000.0 * k, "resumed_from_step": None}
                    for k in (1, 2)
                ],
                "stop_reason": "converged: rel. error of D_Na 0.08 <= 0.10",
                "protocol": PROTOCOL,
            }
            (prod / "run.json").write_text(json.dumps(doc))
            for k in (1, 2):
                (seg_logs / f"{name}_seg{k}.log").write_text(f"INFO segment {k} done\n")
            counts["done"] += 1
        elif kind < 124:
            seg1 = prod / "segments" / "1"
            seg1.mkdir(parents=True)
            (seg1 / "segment.json").write_text(
                json.dumps(
                    {
                        "segment": 1,
                        "start_ps": 0.0,
                        "total_ps": 5000.0,
                        "wall_time_s": 3600.0,
                        "protocol": {"timestep_fs": 2.0, "dump_interval_fs": 1000.0},
                        "diffusion": {"Na": {"rel_error": 0.3}},
                    }
                )
            )
            seg2 = prod / "segments" / "2"
            seg2.mkdir(parents=True)
            (seg2 / "in.production.lmp").write_text(
                f"timestep 2.0\nrestart 50000 restart.*.bin\nrun {2 * steps} upto\n"
            )
            (seg2 / "log.lammps").write_text(thermo_log(steps, steps + steps // 2, 2 * steps))
            (seg2 / f"restart.{steps + steps // 2}.bin").write_bytes(b"\0" * 64)
            (seg_logs / f"{name}_seg1.log").write_text("INFO segment 1 done\n")
            (seg_logs / f"{name}_seg2.log").write_text("$ lmp -in in.production.lmp\n")
            counts["running"] += 1
        elif kind < 125:
            (prod / "segments" / "1").mkdir(parents=True)
            (seg_logs / f"{name}_seg1.log").write_text("ERROR: Lost atoms: original 300\n")
            counts["failed"] += 1
        else:
            counts["pending"] += 1
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000, choices=sorted(SIZES))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="build the tree here and keep it")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from glassflow.config.grid import build_campaign

    n_x, n_m, n_T, replicas, dx, dm = SIZES[args.runs]
    cfg = campaign(n_x, n_m, n_T, replicas, dx, dm)
    cfg["protocol"] = {k: v for k, v in PROTOCOL.items() if k != "timestep_fs"}
    with tempfile.TemporaryDirectory(prefix="glassflow-status-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cfg["results_dir"] = str(work / "results")
        camp = build_campaign(
            copy.deepcopy(cfg), ROOT / "workflow" / "schemas" / "config.schema.yaml", root=ROOT
        )
        cfg_path = work / "campaign.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        results = camp.results
        t0 = time.perf_counter()
        counts = build_tree(results, camp.runs())
        print(
            f"tree: {len(camp.runs())} runs {counts} in {results}, "
            f"built in {time.perf_counter() - t0:.0f} s"
        )
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        cli = [sys.executable, "-m", "glassflow.cli", "status"]
        for label, cmd in (
            ("status RESULTS_DIR", [*cli, str(results)]),
            ("status --configfile", [*cli, "--configfile", str(cfg_path)]),
        ):
            best = None
            for i in range(args.repeat):
                wall, cpu, rss, rc, out = run(cmd, ROOT)
                if rc != 0:
                    print(out[-3000:])
                    return 1
                print(
                    f"  {label:20s} run {i + 1}: wall {wall:6.1f} s, cpu {cpu:6.1f} s, "
                    f"peak RSS {rss:5.0f} MB"
                )
                best = min(best or (wall, cpu, rss, out), (wall, cpu, rss, out))
            print(
                f"best {label:20s}: wall {best[0]:6.1f} s, cpu {best[1]:6.1f} s, "
                f"peak RSS {best[2]:5.0f} MB"
            )
        print("\n".join(best[3].splitlines()[:6]))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
