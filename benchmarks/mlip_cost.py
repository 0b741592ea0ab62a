"""Benchmark: cost of an MD step with CHGNet (ASE engine) against the Sørensen 2023
Buckingham potential (LAMMPS engine), on the same glass, one core each.

Both engines run the production stage of glassflow (NVT at ``--T`` K, 1 fs, thermo every
10 fs, no frames kept) on a glass of ``--atoms`` atoms at x = 0.1, m = 3.1 (built and
quenched with LAMMPS first). Each engine runs two lengths, and the cost per step is the
difference of their wall times divided by the difference of steps, so start-up (reading
the model, building the neighbour list) is left out; it is printed apart.

Printed: seconds per step, atom-steps per second, the cost of 1 ps of 1000 atoms, and
the ratio CHGNet / Buckingham. Threads: OMP_NUM_THREADS=1, torch 1 thread, LAMMPS
serial. For repeated whole-process timings of the two engines side by side, run
``farm-bench`` on ``--part lammps`` and ``--part chgnet`` (each prints its own numbers).

Usage: ``.venv/bin/python benchmarks/mlip_cost.py [--atoms 200] [--part both]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from glassflow.md.cell import build_random_cell, cell_length_for_density, write_lammps_data  # noqa: E402
from glassflow.md.composition import counts_from_xm  # noqa: E402
from glassflow.md.lammps import force_field_context  # noqa: E402
from glassflow.md.potential import load_potential  # noqa: E402

SPECIES = ("Na", "Si", "S")


def make_glass(workdir: Path, n_atoms: int) -> tuple[Path, dict]:
    """A LAMMPS-quenched glass of x = 0.1, m = 3.1 and its force-field context."""
    from glassflow.md.engines import engine_from_config

    pot = load_potential(ROOT / "config" / "potentials" / "sorensen2023.yaml")
    comp = counts_from_xm(0.1, 3.1, n_atoms)
    box = cell_length_for_density(comp.counts, pot.masses, 2.0)
    charges = {el: pot.charges[el] for el in SPECIES}
    atoms = build_random_cell(comp, charges, pot.masses, box, 1.8, 7)
    write_lammps_data(atoms, workdir / "cell.data", SPECIES)
    cutoff = min(8.0, 0.49 * box)
    eng = {"cutoff_A": cutoff, "kspace_style": "pppm", "kspace_accuracy": 1e-4}
    eng["neighbor_skin_A"] = 2.0
    proto = protocol()
    ctx = force_field_context(pot, SPECIES, charges, eng, proto)
    ctx.update(label="bench", replica=1, seed=11)
    lmp = engine_from_config({"kind": "lammps", "command": [shutil.which("lmp") or "lmp"]})
    lmp.melt_quench(workdir, ctx, proto, workdir / "mq.log")
    return workdir / "glass.data", ctx


def protocol(production_ps: float = 0.1) -> dict:
    return {
        "timestep_fs": 1.0,
        "thermostat_damping_fs": 100.0,
        "minimize": True,
        "melt_T_K": 3000.0,
        "melt_ps": 2.0,
        "quench": {"mode": "rate", "rate_K_ps": 1000.0},
        "relax_T_K": 300.0,
        "relax_ps": 1.0,
        "production_start": "reheat",
        "ramp_rate_K_ps": 1e9,
        "equilibration_ps": 0.0,
        "production_ps": production_ps,
        "dump_interval_fs": 1e6,
        "dump_velocities": False,
        "restart_interval_fs": 1e6,
        "thermo_interval_fs": 10.0,
    }


def time_engine(kind: str, glass: Path, ctx: dict, steps: tuple[int, int], T: float) -> dict:
    from glassflow.md.engines import engine_from_config

    settings = {"kind": kind, "threads": 1}
    if kind == "lammps":
        settings["command"] = [shutil.which("lmp") or "lmp"]
    engine = engine_from_config(settings)
    walls = []
    for n in (steps[0], *steps):  # the first, untimed, imports torch and warms the caches
        work = Path(tempfile.mkdtemp(prefix=f"{kind}_{n}_", dir=glass.parent))
        proto = dict(protocol(n / 1000.0), relax_T_K=T)
        seg = SimpleNamespace(index=1, start_step=0, end_step=n, start_file=glass)
        t0 = time.perf_counter()
        engine.run_segment(work, seg, ctx, proto, T, work / "log", work / "frames.gtrj")
        walls.append(time.perf_counter() - t0)
    walls = walls[1:]
    per_step = (walls[1] - walls[0]) / (steps[1] - steps[0])
    return {"s_per_step": per_step, "startup_s": walls[0] - steps[0] * per_step, "walls": walls}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--atoms", type=int, default=200)
    ap.add_argument("--T", type=float, default=1500.0)
    ap.add_argument("--part", choices=["both", "lammps", "chgnet"], default="both")
    ap.add_argument("--lammps-steps", type=int, nargs=2, default=(500, 5500))
    ap.add_argument("--chgnet-steps", type=int, nargs=2, default=(10, 110))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlip_cost_") as tmp:
        glass, ctx = make_glass(Path(tmp), args.atoms)
        out = {}
        if args.part in ("both", "lammps"):
            out["lammps"] = time_engine("lammps", glass, ctx, tuple(args.lammps_steps), args.T)
        if args.part in ("both", "chgnet"):
            out["chgnet"] = time_engine("ase", glass, ctx, tuple(args.chgnet_steps), args.T)
    load = os.getloadavg()[0]
    print(f"{args.atoms} atoms, {args.T:.0f} K, 1 fs steps, one core each; load {load:.2f}")
    for name, r in out.items():
        per_atom = args.atoms / r["s_per_step"]
        ps_1000 = r["s_per_step"] * 1000.0 * (1000.0 / args.atoms)
        print(
            f"{name:7s} {r['s_per_step'] * 1e3:10.3f} ms/step  {per_atom:12.0f} atom-steps/s  "
            f"1 ps of 1000 atoms: {ps_1000:10.1f} s  (start-up {r['startup_s']:.1f} s)"
        )
    if len(out) == 2:
        ratio = out["chgnet"]["s_per_step"] / out["lammps"]["s_per_step"]
        print(f"CHGNet / Buckingham cost per step: {ratio:.0f}x")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
