"""The GPU plan of the paper campaigns: GPU-hours unpacked (one run per GPU) and packed.

For each campaign file the MD work is counted with :mod:`glassflow.md.cost`, stage by
stage as the LAMMPS inputs run it: every glass (minimise, melt, each quench stage,
relax) and every production run (ramp from its start temperature to T, equilibration,
``production_ps``), times the atoms of its composition. Work / speed = GPU time.

Nothing here is measured on a GPU: the development machine has none. The speeds are
inputs (``--speed NAME=ATOM_STEPS_PER_S``, repeatable); the defaults are

- ``2014-log``: 3.82e5 atom-steps/s, the one published LAMMPS GPU log of a charged
  glass found (LAMMPS repository, examples/accelerate/log.phosphate.1Feb14.gpu.1: an
  ionic phosphate glass, lj/cut/coul/long/gpu 15 A + pppm/gpu 1e-5, 295,650 atoms,
  200 steps in 154.943 s on one GPU with one MPI rank; the log does not name the
  GPU). A lower bound for a current GPU: its FFTs and host work ran on one core
  (kspace 52 %, other 40 % of the loop).
- ``workflow-default``: glassflow.md.cost.GPU_ATOM_STEPS_PER_S (ten times one core of
  this machine), what the Slurm runtime requests assume for a GPU job until the first
  runs measure the real speed. Not measured either.

Packed: ``--runs-per-gpu`` runs share one GPU (CUDA MPS) and together go
``--packing-gain`` times faster than one run alone. The default gain, 1.8, is NVIDIA's
published best case for GROMACS ("up to 1.8X overall improvement in throughput",
developer.nvidia.com/blog/maximizing-gromacs-throughput-with-multiple-simulations-per-
gpu-using-mps-and-mig, 2021, on A100 GPUs: the post also partitions them with MIG,
an A100 feature); small systems gain the most. The default packing, 8 runs per GPU,
is one host core per LAMMPS process on a node with 8 cores per GPU. Neither is
measured for LAMMPS here.

Usage: ``.venv/bin/python benchmarks/gpu_plan.py [--speed name=value ...]
[--runs-per-gpu 8] [--packing-gain 1.8] [config ...]``
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from glassflow.config.grid import build_campaign  # noqa: E402
from glassflow.md.cost import (  # noqa: E402
    GPU_ATOM_STEPS_PER_S,
    melt_quench_stages,
    production_stages,
    total_steps,
)

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CAMPAIGNS = (
    ROOT / "config" / "campaigns" / "sorensen2023_ns.yaml",
    ROOT / "config" / "campaigns" / "micoulaut2025_ns9_flexibility.yaml",
)
#: one published LAMMPS GPU log of a charged glass (module doc): atom-steps per second
LOG_2014_ATOM_STEPS_PER_S = 295_650 * 200 / 154.943
SPEEDS = {"2014-log": LOG_2014_ATOM_STEPS_PER_S, "workflow-default": GPU_ATOM_STEPS_PER_S}
RUNS_PER_GPU = 8
PACKING_GAIN = 1.8


@dataclass(frozen=True)
class Work:
    """MD work of a campaign: glasses, production runs, atom-steps of each kind."""

    name: str
    glasses: int
    runs: int
    glass_atom_steps: float
    run_atom_steps: float
    longest_run_atom_steps: float

    @property
    def atom_steps(self) -> float:
        return self.glass_atom_steps + self.run_atom_steps


def campaign_work(config: dict, name: str | None = None) -> Work:
    """Count the MD of a campaign config (validated and expanded like the workflow)."""
    camp = build_campaign(config, SCHEMA, root=ROOT, check_writable=False)
    p = camp.config["protocol"]
    glass_steps = total_steps(melt_quench_stages(p))
    glass = run = longest = 0.0
    for cr in camp.compositions.values():
        n = cr.composition.n_atoms
        glass += len(camp.replicas) * n * glass_steps
        for T in camp.temperatures_K:
            steps = total_steps(production_stages(p, float(T)))
            run += len(camp.replicas) * n * steps
            longest = max(longest, float(n * steps))
    n_comp = len(camp.compositions)
    return Work(
        name=name or camp.name,
        glasses=n_comp * len(camp.replicas),
        runs=n_comp * len(camp.temperatures_K) * len(camp.replicas),
        glass_atom_steps=glass,
        run_atom_steps=run,
        longest_run_atom_steps=longest,
    )


@dataclass(frozen=True)
class PlanRow:
    campaign: str
    speed_name: str
    speed: float
    gpu_hours: float
    gpu_hours_packed: float
    longest_run_h: float
    longest_run_packed_h: float


def plan(work: Work, speed_name: str, speed: float, runs_per_gpu: int, gain: float) -> PlanRow:
    """GPU-hours of ``work`` at ``speed`` (one run per GPU) and packed: ``runs_per_gpu``
    runs on one GPU go ``gain`` times faster together, each at gain / runs_per_gpu of
    the speed alone."""
    if speed <= 0 or runs_per_gpu < 1 or gain <= 0:
        raise ValueError("speed and gain must be > 0, runs_per_gpu >= 1")
    hours = work.atom_steps / speed / 3600.0
    one = work.longest_run_atom_steps / speed / 3600.0
    return PlanRow(
        campaign=work.name,
        speed_name=speed_name,
        speed=speed,
        gpu_hours=hours,
        gpu_hours_packed=hours / gain,
        longest_run_h=one,
        longest_run_packed_h=one * runs_per_gpu / gain,
    )


def table(rows: list[PlanRow], works: dict[str, Work], runs_per_gpu: int, gain: float) -> str:
    """Markdown table of the plan."""
    head = (
        "| campaign | glasses + runs | atom-steps | speed (atom-steps/s per run alone) "
        "| GPU-h, 1 run per GPU | GPU-h, packed "
        f"{runs_per_gpu} per GPU (x{gain:g}) | longest run alone / packed (h) |"
    )
    lines = [head, "|" + "---|" * 7]
    for r in rows:
        w = works[r.campaign]
        lines.append(
            f"| {r.campaign} | {w.glasses} + {w.runs} | {w.atom_steps:.3e} | "
            f"{r.speed:.3g} ({r.speed_name}) | {r.gpu_hours:,.0f} | {r.gpu_hours_packed:,.0f} | "
            f"{r.longest_run_h:.1f} / {r.longest_run_packed_h:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", type=Path, default=list(CAMPAIGNS))
    ap.add_argument(
        "--speed",
        action="append",
        metavar="NAME=ATOM_STEPS_PER_S",
        help="speed of one run alone on one GPU (repeatable); default: the module doc's",
    )
    ap.add_argument("--runs-per-gpu", type=int, default=RUNS_PER_GPU)
    ap.add_argument("--packing-gain", type=float, default=PACKING_GAIN)
    args = ap.parse_args(argv)
    speeds = dict(SPEEDS)
    if args.speed:
        speeds = {}
        for item in args.speed:
            name, _, value = item.partition("=")
            speeds[name] = float(value)
    works: dict[str, Work] = {}
    rows = []
    for path in args.configs:
        work = campaign_work(yaml.safe_load(path.read_text()))
        works[work.name] = work
        for name, speed in speeds.items():
            rows.append(plan(work, name, speed, args.runs_per_gpu, args.packing_gain))
    print(table(rows, works, args.runs_per_gpu, args.packing_gain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
