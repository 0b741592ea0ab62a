"""glassflow's Einstein fit against kinisi 2.1's ``DiffusionAnalyzer``, used as kinisi documents it.

kinisi's documentation passes its own grid of time intervals (``dt=``, a ``scipp`` array)
to ``DiffusionAnalyzer.from_*``, starts the fit at ``start_dt`` given to ``diffusion()``
and asks the user to check the fitted line against the MSD. Here kinisi gets

- the same ~100 evenly spaced lags glassflow fits (``fit_lag_grid``: up to
  ``max_lag_fraction`` = 0.5 of the run, the longest lag glassflow uses), so both fit
  the same longest lag (``--kinisi-grid-end run``: 100 lags to the whole run, kinisi's
  own extent; kinisi's MSD variances scale with the grid's last lag, see
  :func:`kinisi_grid`); each interval is passed 1e-12 above its exact value because
  kinisi truncates interval / time_step to an integer frame count;
- ``start_dt`` = the fit start glassflow chose (its log-log slope test from
  ``--start-ps``), so both fit the same window (kinisi starts at the first lag of its
  grid at or after it);
- only the atoms of the species (no other atoms, hence no framework-drift correction):
  both see the same MSD; on LAMMPS it is also run on the whole system, as kinisi does by
  default (its drift correction then changes the MSD slightly);
- a seeded ``random_state`` for its MCMC; D is the median of its posterior samples and
  the interval their 2.5-97.5 percentiles.

glassflow is the workflow's estimator: the FFT all-origin MSD on the analysis lags and
:func:`glassflow.analysis.dynamics.transport.fit_einstein` with ``DynamicsSettings``
(defaults, ``min_fit_time_ps`` = ``--start-ps``); on LAMMPS the file path
:func:`glassflow.md.segments.species_diffusion` is checked to give the same D.

Threads: ``OMP/OPENBLAS/MKL/NUMEXPR_NUM_THREADS`` are set to ``GLASSFLOW_BENCH_THREADS``
(default 1) before numpy is imported, and both estimators run under
``threadpoolctl.threadpool_limits`` of the same number. Timed runs are also pinned to one
CPU (``--pin``), so every thread either estimator starts shares that CPU.

Parts (``--parts``, default all but ``timing``; ``--timing-only`` runs only ``timing``):

- ``coverage``: ``--seeds`` synthetic trajectories (1000 frames of 0.1 ps): random walks
  (100 "Na", 50 "Si", 150 "S", D known) and caged hoppers (64 "Li": vibration in a cage
  plus 1.5 A jumps, long-time D known exactly); how often each 95 % interval covers
  the true D, the interval widths and the bias;
- ``lammps``: Na, Si and S of a tiny hot Na2SiS3 liquid side by side (150 atoms,
  Sorensen potential, 2500 K, ``--lammps-ps`` of production, frames every 50 fs, run
  here once with ``.venv/bin/lmp`` and kept in ``--lammps-dir``; or your ``--gtrj``
  replicas), the MSDs of both compared lag by lag, kinisi's fit checked against its MSD
  (printed residuals and ``measured/kinisi_fit_vs_msd.png``);
- ``pitfall``: kinisi's default grid (every frame up to the whole run): the condition
  number of the MSD covariance matrix it fits with, and the D it gives;
- ``timing``: each estimator alone, ``--repeats`` times, each run in a fresh process
  pinned to one CPU (imports and data set-up excluded: glassflow = MSD + fit of the
  positions in memory; kinisi = ``from_ase`` on the ``ase.Atoms`` frames in memory +
  ``diffusion``); min / median / max and the load average before and after.

Results go to ``--out`` (default ``benchmarks/measured``) as JSON with the versions.
Needs the ``bench`` extra (``pip install -c requirements.lock -e ".[bench]"``). Usage::

    .venv/bin/python benchmarks/transport_vs_kinisi.py                  # coverage, lammps, pitfall
    .venv/bin/python benchmarks/transport_vs_kinisi.py --timing-only    # timings only
    .venv/bin/python benchmarks/transport_vs_kinisi.py --parts coverage --kinisi-grid-end run
    .venv/bin/python benchmarks/transport_vs_kinisi.py --parts lammps --gtrj r1.gtrj r2.gtrj
"""

from __future__ import annotations

import os

THREADS = os.environ.setdefault("GLASSFLOW_BENCH_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = THREADS

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from glassflow.analysis.dynamics.correlations import (  # noqa: E402
    DynamicsSettings,
    analysis_lags,
    displacement_moment_sums,
    fit_lag_grid,
)
from glassflow.analysis.dynamics.transport import (  # noqa: E402
    DiffusionFit,
    MSDCurve,
    a2ps_to_cm2s,
    fit_einstein,
)
from glassflow.io.trajectory import open_trajectory, write_trajectory  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LMP = ROOT / ".venv" / "bin" / "lmp"
N_THREADS = int(THREADS)
#: kinisi's documented lag grid here: as many evenly spaced lags as glassflow fits
N_GRID = 100
MAX_LAG_FRACTION = 0.5


@dataclass
class Replica:
    """Unwrapped positions (frames, atoms, 3) Å, species labels, box Å, frame interval ps."""

    positions: np.ndarray
    species: np.ndarray
    box: np.ndarray
    dt_ps: float


# ------------------------------------------------------------------------------ data
TRUE_D = {"Na": 0.2, "Si": 0.05, "S": 0.03, "Li": 0.1}  # Å^2/ps; Li: the caged hoppers
COUNTS = {"Na": 100, "Si": 50, "S": 150, "Li": 64}
WALKERS = ("Na", "Si", "S")


def synthetic(seed: int = 0) -> tuple[list[Replica], dict[str, float]]:
    """One replica: random walkers (Na, Si, S) and caged hoppers ("Li"), known D."""
    rng = np.random.default_rng(seed)
    nf, dt, box = 1000, 0.1, np.array([25.0, 25.0, 25.0])
    parts, labels = [], []
    for sp, d in TRUE_D.items():
        n = COUNTS[sp]
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
    return [Replica(np.concatenate(parts, axis=1), np.array(labels), box, dt)], dict(TRUE_D)


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
    """The tiny Na2SiS3 liquid ``n_replicas`` times (different seeds) -> .gtrj files.

    A replica whose ``in.lmp`` and ``trajectory.gtrj`` are already in ``work`` with the
    same input is reused, so the parts and the timing children read one trajectory.
    """
    out = []
    for r in range(n_replicas):
        d = work / f"rep{r + 1}"
        seeds = {f"s{k}": 1000 * (r + 1) + k for k in range(1, 5)}
        text = LAMMPS_INPUT.format(steps=int(round(production_ps * 1000)), **seeds)
        gtrj = d / "trajectory.gtrj"
        if gtrj.exists() and (d / "in.lmp").exists() and (d / "in.lmp").read_text() == text:
            out.append(gtrj)
            continue
        if not LMP.exists():
            raise SystemExit(f"{LMP} not found: install the workflow extra or pass --gtrj")
        d.mkdir(parents=True, exist_ok=True)
        (d / "in.lmp").write_text(text)
        t0 = time.perf_counter()
        subprocess.run(
            [str(LMP), "-in", "in.lmp", "-log", "log.lammps", "-screen", "none"],
            cwd=d,
            check=True,
        )
        print(f"  LAMMPS replica {r + 1}: {time.perf_counter() - t0:.0f} s -> {gtrj}", flush=True)
        out.append(_dump_to_gtrj(d / "traj.dump", gtrj))
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


def lammps_paths(args: argparse.Namespace) -> list[Path]:
    if args.gtrj:
        return list(args.gtrj)
    return lammps_replicas(args.lammps_replicas, args.lammps_ps, args.lammps_dir)


# ------------------------------------------------------------------------------ estimators
@dataclass
class Estimate:
    """D and its 95 % interval in cm^2/s, the fitted window (ps) and the wall time (s)."""

    D: float
    lo: float
    hi: float
    t_start: float
    t_end: float
    n_lags: int
    wall: float
    note: str = ""


def species_positions(reps: list[Replica], sp: str) -> list[np.ndarray]:
    return [np.ascontiguousarray(r.positions[:, r.species == sp, :]) for r in reps]


def glassflow_curves(xs: list[np.ndarray], dt_ps: float, settings: DynamicsSettings) -> list:
    """The workflow's MSD (``species_msd_curve``'s steps) of in-memory positions."""
    curves = []
    for x in xs:
        n = x.shape[0]
        r2, _ = displacement_moment_sums(np.transpose(x, (1, 2, 0)), fourth=False)
        lags = analysis_lags(n, settings)
        curves.append(MSDCurve(lags, r2[lags] / x.shape[1], float(x.shape[1]), n, dt_ps))
    return curves


def glassflow_fit(xs: list[np.ndarray], dt_ps: float, start_ps: float) -> tuple[Estimate, object]:
    """glassflow's D of one species (replicas stacked); returns the estimate and the fit."""
    settings = DynamicsSettings(min_fit_time_ps=start_ps)
    t0 = time.perf_counter()
    with threadpool_limits(N_THREADS):
        f = fit_einstein(glassflow_curves(xs, dt_ps, settings), settings.fit_settings())
    wall = time.perf_counter() - t0
    return _gf_estimate(f, wall), f


def _gf_estimate(f: DiffusionFit, wall: float) -> Estimate:
    if not f.diffusive:
        return Estimate(np.nan, np.nan, np.nan, f.t_start_ps, f.t_end_ps, f.n_lags, wall, f.reason)
    d, lo, hi = (float(a2ps_to_cm2s(v)) for v in (f.D, f.D_lo, f.D_hi))
    return Estimate(d, lo, hi, f.t_start_ps, f.t_end_ps, f.n_lags, wall)


#: where kinisi's grid ends: "fit" = glassflow's longest fitted lag (default), "run" = the
#: whole run (kinisi's own default extent; set by --kinisi-grid-end)
GRID_END = {"value": "fit"}


def kinisi_grid(n_frames: int) -> np.ndarray:
    """~100 evenly spaced lags (frames) up to glassflow's longest fitted lag (or the run).

    kinisi counts the independent samples of lag m as ``N x (longest lag of the grid)/m``,
    so ending the grid at half the run doubles every MSD variance it assigns (and widens
    its interval by about sqrt 2) compared with a grid that runs to the end.
    """
    frac = MAX_LAG_FRACTION if GRID_END["value"] == "fit" else 1.0
    return fit_lag_grid(n_frames, frac, N_GRID)


def kinisi_atoms(reps: list[Replica], sp: str, whole_system: bool = False) -> list[list]:
    """``ase.Atoms`` frames of each replica: only ``sp`` (default) or every atom."""
    from ase import Atoms

    out = []
    for r in reps:
        if whole_system:
            sym, pos = list(r.species), r.positions
        else:
            pos = r.positions[:, r.species == sp, :]
            sym = [sp] * pos.shape[1]
        out.append([Atoms(symbols=sym, positions=p, cell=r.box, pbc=True) for p in pos])
    return out


def kinisi_fit(
    trajs: list[list],
    sp: str,
    dt_ps: float,
    grid: np.ndarray | None,
    start_ps: float,
    seed: int,
):
    """kinisi's D as documented: ``from_ase(..., dt=grid)`` then ``diffusion(start_dt)``.

    ``grid`` is in frames; ``None`` leaves kinisi's default (every frame up to the run).
    Returns the estimate and the analyzer (for the checks).
    """
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer

    kw = {
        "specie": sp,
        "time_step": sc.scalar(dt_ps, unit="ps"),
        "step_skip": sc.scalar(1, unit=sc.units.dimensionless),
        "progress": False,
    }
    if grid is not None:
        # kinisi turns each interval back into a frame count with int(), which truncates:
        # 172 x 0.05 ps / 0.05 ps = 171.99999999999997 -> 171. A relative 1e-12 above the
        # exact time keeps the count right and stays within kinisi's 1e-9 ps match.
        kw["dt"] = sc.array(dims=["time interval"], values=grid * dt_ps * (1 + 1e-12), unit="ps")
    t0 = time.perf_counter()
    with threadpool_limits(N_THREADS):
        if len(trajs) == 1:
            a = DiffusionAnalyzer.from_ase(trajs[0], **kw)
        else:
            a = DiffusionAnalyzer.from_ase(trajs, dtype="identical", **kw)
        a.diffusion(
            start_dt=sc.scalar(start_ps * (1 - 1e-9), unit="ps"),
            progress=False,
            random_state=np.random.RandomState(seed),
        )
    wall = time.perf_counter() - t0
    idx = np.asarray(a.trajectory.dt_index.values)
    want = grid if grid is not None else np.arange(1, idx.size + 1)
    if not np.array_equal(idx, want):
        bad = int(np.sum(idx != want))
        print(f"    note: kinisi's frame counts differ from the intended lags at {bad} lags")
    v = np.asarray(a.D.values)
    t = np.asarray(a.dt.values)
    t_fit = t[t >= start_ps * (1 - 1e-9)]
    lo, hi = np.percentile(v, [2.5, 97.5])
    est = Estimate(float(np.median(v)), float(lo), float(hi), t_fit[0], t_fit[-1], t_fit.size, wall)
    return est, a


def kinisi_fit_check(a) -> dict:
    """kinisi's fit against its own MSD over the fit window (its docs ask for this check).

    Residuals of the median posterior line, in units of kinisi's MSD standard error,
    and the whitened chi^2 per lag with the covariance kinisi fitted with.
    """
    from scipy.linalg import pinvh

    t = np.asarray(a.dt.values)
    cov = np.asarray(a.diff.covariance_matrix.values)
    n = cov.shape[0]
    tt, y = t[-n:], np.asarray(a.msd.values)[-n:]
    model = np.median(a.diff.gradient.values) * tt + np.median(a.diff.intercept.values)
    r = y - model
    z = r / np.sqrt(np.diag(cov))
    return {
        "max_abs_z": float(np.max(np.abs(z))),
        "rms_z": float(np.sqrt(np.mean(z**2))),
        "chi2_per_lag": float(r @ pinvh(cov) @ r / n),
        "max_rel_resid": float(np.max(np.abs(r / y))),
        "cond_fit_cov": float(np.linalg.cond(cov)),
        "n_lags": int(n),
    }


def kinisi_model_covariance_eigs(a) -> tuple[float, float]:
    """Extreme eigenvalues of the MSD covariance kinisi builds before reconditioning.

    Rebuilt from its MSD variances ``s_i^2`` and sample counts ``n_i`` (``a.da``) as
    ``C_ij = s_i^2 n_i / n_j`` for ``i <= j`` on the fit window; a diagnostic only.
    """
    cov_used = np.asarray(a.diff.covariance_matrix.values)
    n = cov_used.shape[0]
    var = np.asarray(a.da.data.variances)[-n:]
    ns = np.asarray(a.da.coords["n_samples"].values)[-n:]
    i = np.arange(n)
    upper = i[:, None] <= i[None, :]
    c = np.where(upper, var[:, None] * ns[:, None] / ns[None, :], 0.0)
    c = c + np.triu(c, 1).T
    w = np.linalg.eigvalsh(c)
    return float(w[0]), float(w[-1])


# ------------------------------------------------------------------------------ provenance
def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("glassflow", "kinisi", "scipp", "emcee", "numpy", "scipy", "ase", "threadpoolctl"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    try:
        out["glassflow_commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out["glassflow_commit"] = None
    return out


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


def fmt(e: Estimate) -> str:
    if not np.isfinite(e.D):
        return f"{'not diffusive':>34s}"
    return f"{e.D:10.3e} [{e.lo:.3e}, {e.hi:.3e}]"


# ------------------------------------------------------------------------------ parts
def part_coverage(args: argparse.Namespace) -> dict:
    end = f"{MAX_LAG_FRACTION:g} of the run" if GRID_END["value"] == "fit" else "the whole run"
    print(
        f"\n== coverage: {args.seeds} seeds; kinisi on {N_GRID} lags to {end}, "
        f"start = glassflow's; {load()}",
        flush=True,
    )
    rows = []
    t_part = time.perf_counter()
    for seed in range(args.seeds):
        reps, truth = synthetic(seed)
        nf, dt = reps[0].positions.shape[0], reps[0].dt_ps
        grid = kinisi_grid(nf)
        for sp in TRUE_D:
            xs = species_positions(reps, sp)
            g, _ = glassflow_fit(xs, dt, args.start_ps_synthetic)
            start = g.t_start if np.isfinite(g.t_start) else args.start_ps_synthetic
            k, _ = kinisi_fit(kinisi_atoms(reps, sp), sp, dt, grid, start, seed)
            true = float(a2ps_to_cm2s(truth[sp]))
            rows.append(
                {
                    "seed": seed,
                    "species": sp,
                    "process": "walk" if sp in WALKERS else "caged",
                    "true": true,
                    "glassflow": g.__dict__,
                    "kinisi": k.__dict__,
                }
            )
        print(f"  seed {seed}: done ({time.perf_counter() - t_part:.0f} s)", flush=True)
    summary = {}
    print(
        f"\n{'process':8s} {'cases':>5s} | {'covered: glassflow':>18s} {'kinisi':>6s} | "
        f"{'median width/D_true: glassflow':>30s} {'kinisi':>6s} | "
        f"{'mean D/D_true: glassflow':>24s} {'kinisi':>14s}"
    )
    for proc in ("walk", "caged"):
        sel = [r for r in rows if r["process"] == proc]
        res = {}
        for est in ("glassflow", "kinisi"):
            d = np.array([r[est]["D"] for r in sel])
            lo = np.array([r[est]["lo"] for r in sel])
            hi = np.array([r[est]["hi"] for r in sel])
            true = np.array([r["true"] for r in sel])
            ok = np.isfinite(d)
            ratio = d[ok] / true[ok]
            res[est] = {
                "cases": len(sel),
                "fitted": int(ok.sum()),
                "covered": int(np.sum((lo <= true) & (true <= hi))),
                "median_width_rel": float(np.median((hi[ok] - lo[ok]) / true[ok])),
                "mean_D_rel": float(np.mean(ratio)),
                "sem_D_rel": float(np.std(ratio, ddof=1) / np.sqrt(ratio.size)),
            }
        summary[proc] = res
        g, k = res["glassflow"], res["kinisi"]
        print(
            f"{proc:8s} {len(sel):5d} | {g['covered']:>11d}/{g['cases']:<6d} "
            f"{k['covered']:>3d}/{k['cases']:<3d}| {g['median_width_rel']:>30.3f} "
            f"{k['median_width_rel']:>6.3f} | {g['mean_D_rel']:>16.4f} ± {g['sem_D_rel']:.4f} "
            f"{k['mean_D_rel']:>7.4f} ± {k['sem_D_rel']:.4f}"
        )
        if g["fitted"] < g["cases"]:
            print(f"         glassflow refused {g['cases'] - g['fitted']} as not diffusive")
    per_species = {}
    for sp in TRUE_D:
        sel = [r for r in rows if r["species"] == sp]
        per_species[sp] = {
            est: int(sum(r[est]["lo"] <= r["true"] <= r[est]["hi"] for r in sel))
            for est in ("glassflow", "kinisi")
        }
    print("covered per species (glassflow, kinisi):", per_species)
    print(f"coverage part: {time.perf_counter() - t_part:.0f} s; {load()}", flush=True)
    return {"rows": rows, "summary": summary, "per_species": per_species}


def part_lammps(args: argparse.Namespace) -> dict:
    from glassflow.md.segments import species_diffusion

    paths = lammps_paths(args)
    reps = read_gtrj(paths)
    nf, dt = reps[0].positions.shape[0], reps[0].dt_ps
    grid = kinisi_grid(nf)
    print(
        f"\n== LAMMPS: {len(reps)} replica(s) {[str(p) for p in paths]}, {nf} frames of "
        f"{dt:g} ps; glassflow from {args.start_ps_lammps:g} ps (slope test), kinisi on "
        f"{grid.size} lags to {grid[-1] * dt:g} ps from glassflow's start; {load()}",
        flush=True,
    )
    print(
        f"{'species':7s} {'N':>3s} | {'glassflow D, 95 % (cm2/s)':>34s} {'window':>11s} | "
        f"{'kinisi, species only':>34s} | {'kinisi, whole system':>34s} | "
        f"{'MSD kinisi/glassflow':>20s} | {'kinisi fit vs MSD':>24s}"
    )
    out, checks = {}, {}
    for sp in dict.fromkeys(reps[0].species.tolist()):
        xs = species_positions(reps, sp)
        g, gfit = glassflow_fit(xs, dt, args.start_ps_lammps)
        wf = species_diffusion(
            [open_trajectory(p) for p in paths[:1]],
            sp,
            DynamicsSettings(min_fit_time_ps=args.start_ps_lammps),
        )
        k, a = kinisi_fit(kinisi_atoms(reps, sp), sp, dt, grid, g.t_start, args.kinisi_seed)
        kw, aw = kinisi_fit(
            kinisi_atoms(reps, sp, whole_system=True), sp, dt, grid, g.t_start, args.kinisi_seed
        )
        # the MSDs, lag by lag on kinisi's grid inside the window
        full = [
            displacement_moment_sums(np.transpose(x, (1, 2, 0)), fourth=False)[0] / x.shape[1]
            for x in xs
        ]
        ours_grid = np.mean([f[grid] for f in full], axis=0)
        kin = np.asarray(a.msd.values)
        kin_w = np.asarray(aw.msd.values)
        win = grid * dt >= g.t_start * (1 - 1e-9)
        rel = kin[win] / ours_grid[win] - 1
        rel_w = kin_w[win] / ours_grid[win] - 1
        chk = kinisi_fit_check(a)
        chk_w = kinisi_fit_check(aw)
        checks[sp] = {"species_only": chk, "whole_system": chk_w}
        one = len(paths) == 1
        out[sp] = {
            "n": int(xs[0].shape[1]),
            "glassflow": g.__dict__,
            "glassflow_species_diffusion_D": (
                float(a2ps_to_cm2s(wf.D)) if (one and wf.diffusive) else None
            ),
            "kinisi_species_only": k.__dict__,
            "kinisi_whole_system": kw.__dict__,
            "msd_rel_diff_species_only": [float(rel.min()), float(rel.max())],
            "msd_rel_diff_whole_system": [float(rel_w.min()), float(rel_w.max())],
            "fit_check": checks[sp],
            "plot": {
                "t": (grid * dt).tolist(),
                "msd_kinisi": kin.tolist(),
                "msd_err_kinisi": np.sqrt(np.asarray(a.msd.variances)).tolist(),
                "band": np.percentile(a.distributions, [2.5, 97.5], axis=1).tolist(),
                "glassflow_line": [float(gfit.D or np.nan), float(gfit.intercept or np.nan)],
                "window": [g.t_start, g.t_end],
            },
        }
        print(
            f"{sp:7s} {xs[0].shape[1]:3d} | {fmt(g)} {g.t_start:4.1f}-{g.t_end:4.1f} | "
            f"{fmt(k)} | {fmt(kw)} | {100 * np.abs(rel).max():5.2f} % / "
            f"{100 * np.abs(rel_w).max():5.2f} %   | chi2/lag {chk['chi2_per_lag']:5.2f}, "
            f"max|z| {chk['max_abs_z']:4.2f}",
            flush=True,
        )
        if one and wf.diffusive:
            same = abs(a2ps_to_cm2s(wf.D) - g.D) <= 1e-6 * g.D
            print(
                f"        species_diffusion (workflow, from the file): "
                f"{a2ps_to_cm2s(wf.D):.4e}{' (same)' if same else ' (DIFFERS)'}"
            )
    print(
        "MSD column: largest |kinisi/glassflow - 1| over the fit window, kinisi on the species "
        "alone / on the whole system (its framework-drift correction); fit column: kinisi's "
        "median line against its MSD, whitened chi^2 per lag with its covariance and the "
        "largest residual in units of its MSD standard error."
    )
    print("whole-system fit check:", {sp: v["whole_system"] for sp, v in checks.items()})
    plot_fit_check(out, args.out / "kinisi_fit_vs_msd.png")
    print(f"figure: {args.out / 'kinisi_fit_vs_msd.png'}; {load()}")
    return {"trajectories": [str(p) for p in paths], "frames": nf, "dt_ps": dt, "species": out}


def plot_fit_check(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(out), figsize=(4.2 * len(out), 3.6), squeeze=False)
    for ax, (sp, res) in zip(axes[0], out.items(), strict=True):
        p = res["plot"]
        t = np.asarray(p["t"])
        lo, hi = p["band"]
        w0, w1 = p["window"]
        ax.errorbar(t, p["msd_kinisi"], p["msd_err_kinisi"], fmt="k.", ms=2, lw=0.5, label="MSD")
        ax.fill_between(t, lo, hi, color="#0173B2", alpha=0.4, lw=0, label="kinisi 95 %")
        d, c = p["glassflow_line"]
        ax.plot(t, 6 * d * t + c, color="#DE8F05", lw=1, label="glassflow 6Dt + c")
        ax.axvspan(w0, w1, color="0.9", zorder=0)
        chk = res["fit_check"]["species_only"]
        ax.set_title(f"{sp}: kinisi chi2/lag {chk['chi2_per_lag']:.2f}")
        ax.set_xlabel("t (ps)")
        ax.set_ylabel("MSD (Å$^2$)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def part_pitfall(args: argparse.Namespace) -> dict:
    """kinisi's default grid: every frame up to the whole run."""
    print(f"\n== pitfall: kinisi's default grid (every frame to the whole run); {load()}")
    print(
        f"{'trajectory':22s} {'sp':3s} {'input':13s} {'start':>5s} {'lags':>5s} | "
        f"{'kinisi D, 95 % (cm2/s)':>34s} | {'cond(C used)':>12s} "
        f"{'model C eig min/max':>22s} | {'100-lag grid':>34s} {'cond':>8s} | {'time':>6s}"
    )
    reps_l = read_gtrj(lammps_paths(args))
    reps_s, _ = synthetic(0)
    cases = [
        ("synthetic seed 0", reps_s, "Na", False, None),
        ("synthetic seed 0", reps_s, "Li", False, None),
        ("LAMMPS", reps_l, "Na", False, None),
        ("LAMMPS", reps_l, "Si", False, None),
        ("LAMMPS", reps_l, "S", False, None),
        ("LAMMPS", reps_l, "Na", True, None),
        ("LAMMPS", reps_l, "Si", True, None),
        ("LAMMPS", reps_l, "S", True, None),
        ("LAMMPS", reps_l, "Si", True, 2.0),  # the earlier benchmark's setting
    ]
    rows = []
    for name, reps, sp, whole, start in cases:
        xs = species_positions(reps, sp)
        dt = reps[0].dt_ps
        first = args.start_ps_synthetic if name.startswith("synthetic") else args.start_ps_lammps
        g, _ = glassflow_fit(xs, dt, first)
        t0 = g.t_start if start is None else start
        atoms = kinisi_atoms(reps, sp, whole_system=whole)
        kd, ad = kinisi_fit(atoms, sp, dt, None, t0, args.kinisi_seed)
        kg, ag = kinisi_fit(atoms, sp, dt, kinisi_grid(xs[0].shape[0]), t0, args.kinisi_seed)
        cond_d = float(np.linalg.cond(np.asarray(ad.diff.covariance_matrix.values)))
        cond_g = float(np.linalg.cond(np.asarray(ag.diff.covariance_matrix.values)))
        wmin, wmax = kinisi_model_covariance_eigs(ad)
        inp = "whole system" if whole else "species only"
        print(
            f"{name:22s} {sp:3s} {inp:13s} {t0:5.2f} {len(ad.dt.values):5d} | {fmt(kd)} | "
            f"{cond_d:12.2e} {wmin:10.2e}/{wmax:9.2e} | {fmt(kg)} {cond_g:8.1e} | "
            f"{kd.wall:5.1f}s",
            flush=True,
        )
        rows.append(
            {
                "trajectory": name,
                "species": sp,
                "input": inp,
                "start_ps": t0,
                "n_lags": len(ad.dt.values),
                "default_grid": kd.__dict__,
                "cond_used_default": cond_d,
                "model_cov_eig_min_max": [wmin, wmax],
                "grid_100": kg.__dict__,
                "cond_used_100": cond_g,
                "glassflow": g.__dict__,
            }
        )
    print(f"{load()}")
    return {"rows": rows}


# ------------------------------------------------------------------------------ timing
def timing_cases(args: argparse.Namespace) -> list[dict]:
    paths = [str(p) for p in lammps_paths(args)]
    cases = [{"set": "synthetic", "seed": 0, "species": sp} for sp in ("Na", "Li")]
    cases += [{"set": "lammps", "paths": paths, "species": sp} for sp in ("Na", "Si", "S")]
    return cases


def time_one(spec: dict) -> dict:
    """One timed estimator run in this (fresh) process: set-up first, then the clock."""
    if spec.get("pin") is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(spec["pin"])})
    if spec["set"] == "synthetic":
        reps, _ = synthetic(spec["seed"])
        start = spec["start_synthetic"]
    else:
        reps = read_gtrj([Path(p) for p in spec["paths"]])
        start = spec["start_lammps"]
    sp, dt = spec["species"], reps[0].dt_ps
    xs = species_positions(reps, sp)
    est = spec["estimator"]
    if est == "glassflow":
        e, _ = glassflow_fit(xs, dt, start)
    else:
        import kinisi.analyze  # noqa: F401 - imports outside the clock

        grid = kinisi_grid(xs[0].shape[0]) if est == "kinisi" else None
        atoms = kinisi_atoms(reps, sp)
        e, _ = kinisi_fit(atoms, sp, dt, grid, spec["kinisi_start"], 0)
    return {"wall": e.wall, "D": e.D, "cpus": sorted(os.sched_getaffinity(0))}


def part_timing(args: argparse.Namespace) -> dict:
    if args.repeats < 3:
        raise SystemExit("--repeats must be at least 3")
    cases = timing_cases(args)
    estimators = ["glassflow", "kinisi"] + (["kinisi-default-grid"] if args.default_grid else [])
    before = load()
    print(
        f"\n== timing: {args.repeats} repeats, each run alone in a fresh process pinned to CPU "
        f"{args.pin}, {N_THREADS} thread(s); {before}",
        flush=True,
    )
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime before: {uptime}")
    results = []
    for case in cases:
        spec = dict(case, pin=args.pin)
        spec["start_synthetic"] = args.start_ps_synthetic
        spec["start_lammps"] = args.start_ps_lammps
        # kinisi starts where glassflow does (found once, outside the timings)
        reps = (
            synthetic(case["seed"])[0]
            if case["set"] == "synthetic"
            else read_gtrj([Path(p) for p in case["paths"]])
        )
        first = args.start_ps_synthetic if case["set"] == "synthetic" else args.start_ps_lammps
        g, _ = glassflow_fit(species_positions(reps, case["species"]), reps[0].dt_ps, first)
        spec["kinisi_start"] = g.t_start
        walls: dict[str, list[float]] = {e: [] for e in estimators}
        for _ in range(args.repeats):
            for est in estimators:  # interleaved, one process at a time
                cmd = [
                    sys.executable,
                    __file__,
                    "--time-one",
                    json.dumps(dict(spec, estimator=est)),
                ]
                r = subprocess.run(cmd, capture_output=True, text=True, check=True)
                walls[est].append(json.loads(r.stdout.strip().splitlines()[-1])["wall"])
        label = f"{case['set']} {case['species']}"
        stats = {e: [min(w), float(np.median(w)), max(w)] for e, w in walls.items()}
        line = f"{label:14s}"
        for e in estimators:
            mn, md, mx = stats[e]
            line += f" | {e} {mn:.3f}/{md:.3f}/{mx:.3f} s"
        for e in estimators[1:]:
            line += (
                f" | {e}/glassflow min {stats[e][0] / stats['glassflow'][0]:.0f}x, "
                f"median {stats[e][1] / stats['glassflow'][1]:.0f}x"
            )
        print(line, flush=True)
        results.append({"case": label, "walls": walls, "min_median_max": stats})
    after = load()
    uptime2 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime after: {uptime2}")
    for e in estimators[1:]:
        r_min = [r["min_median_max"][e][0] / r["min_median_max"]["glassflow"][0] for r in results]
        r_med = [r["min_median_max"][e][1] / r["min_median_max"]["glassflow"][1] for r in results]
        print(
            f"{e} / glassflow: ratio of minima {min(r_min):.0f}-{max(r_min):.0f}x, "
            f"of medians {min(r_med):.0f}-{max(r_med):.0f}x"
        )
    return {
        "repeats": args.repeats,
        "pin": args.pin,
        "threads": N_THREADS,
        "load_before": before,
        "load_after": after,
        "uptime_before": uptime,
        "uptime_after": uptime2,
        "cases": results,
    }


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["coverage", "lammps", "pitfall"],
        choices=["coverage", "lammps", "pitfall", "timing"],
    )
    ap.add_argument("--timing-only", action="store_true", help="run only the timing part")
    ap.add_argument("--seeds", type=int, default=20, help="synthetic seeds for the coverage")
    ap.add_argument("--start-ps-synthetic", type=float, default=5.0)
    ap.add_argument("--start-ps-lammps", type=float, default=2.0)
    ap.add_argument("--kinisi-seed", type=int, default=0, help="random_state of kinisi's MCMC")
    ap.add_argument("--gtrj", nargs="+", type=Path, help="replicas of one run (lammps part)")
    ap.add_argument("--lammps-replicas", type=int, default=1)
    ap.add_argument("--lammps-ps", type=float, default=40.0)
    ap.add_argument(
        "--lammps-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "glassflow-transport-vs-kinisi",
        help="where the tiny LAMMPS run is made once and reused",
    )
    ap.add_argument(
        "--kinisi-grid-end",
        choices=["fit", "run"],
        default="fit",
        help="kinisi's grid ends at glassflow's longest lag (fit) or the whole run (run)",
    )
    ap.add_argument("--repeats", type=int, default=5, help="timing repeats (>= 3)")
    ap.add_argument("--pin", type=int, default=0, help="CPU the timed processes run on")
    ap.add_argument(
        "--no-default-grid",
        dest="default_grid",
        action="store_false",
        help="do not time kinisi's default grid",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "measured")
    ap.add_argument("--time-one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.time_one:
        print(json.dumps(time_one(json.loads(args.time_one))))
        return 0
    parts = ["timing"] if args.timing_only else args.parts
    GRID_END["value"] = args.kinisi_grid_end
    ver = versions()
    print("versions:", ver, f"| threads {N_THREADS} | {load()}")
    args.out.mkdir(parents=True, exist_ok=True)
    runners = {
        "coverage": part_coverage,
        "lammps": part_lammps,
        "pitfall": part_pitfall,
        "timing": part_timing,
    }
    for part in parts:
        res = {"versions": ver, "threads": N_THREADS, "command": " ".join(sys.argv)}
        res |= runners[part](args)
        tag = "" if args.kinisi_grid_end == "fit" else "_grid_to_run"
        path = args.out / f"transport_vs_kinisi_{part}{tag}.json"
        res["kinisi_grid_end"] = args.kinisi_grid_end
        path.write_text(json.dumps(res, indent=1, default=float) + "\n")
        print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
