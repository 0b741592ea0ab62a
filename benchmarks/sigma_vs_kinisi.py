"""glassflow's collective conductivity sigma against kinisi 2.1's ``ConductivityAnalyzer``.

Synthetic ions with a known sigma (eq 5 of docs/physics.md §4), the two systems of
``tests/test_transport_calibration.py``, 1000 frames of 0.1 ps, T = 1000 K, cells of
20000 Å^3:

- ``independent``: 32 cations (z+ = 0.6, D = 0.1 Å^2/ps) and 16 anions (z- = -1.2,
  D = 0.1/3 Å^2/ps), each ion its own Gaussian random walk: the cross terms of eq 5
  vanish on average, sigma = sigma_NE = sum_k N_k z_k^2 e^2 D_k / (V kB T), H_R = 1;
- ``pairs``: 32 rigid Na-S pairs (both ions move by the pair's random walk, D = 0.1):
  sigma = N (z+ + z-)^2 e^2 D / (V kB T), H_R = (z+^2 + z-^2) / (z+ + z-)^2 = 5.

Each seed is analysed as one cell and as two replicas (independent cells) fitted
together, by both estimators on the same positions. The replicas' cells have equal
volumes here (the tests also use unequal ones): kinisi divides by the summed volume of
the replicas, glassflow evaluates sigma at their harmonic-mean volume, which agree only
for equal volumes.

- glassflow, the workflow's estimator: the all-origin MSDs of each species and of the
  charge displacement (FFT moments on the analysis lags), :func:`fit_einstein` per
  species with the replicas stacked, :func:`conductivity_estimate` (default settings,
  ``min_fit_time_ps`` = ``--start-ps``); sigma's 95 % interval is the GLS pivot interval.
- kinisi, as its documentation and tests show it: ``ConductivityAnalyzer.from_ase``
  with ``specie``, ``time_step``, ``step_skip``, ``ionic_charge`` (a scalar with a unit
  of e), ``dt`` (its grid of time intervals), ``system_particles`` (1: the charge
  displacement of the whole cell) and, for replicas, ``dtype="identical"`` with one
  system particle per replica; then ``conductivity(start_dt, temperature,
  random_state)``; sigma is the median of its posterior samples, the interval their
  2.5-97.5 percentiles. Its grid is the ~100 evenly spaced lags glassflow fits, up to
  half the run (``fit_lag_grid``; each interval 1e-12 above its exact value, since
  kinisi truncates interval / time_step to a frame count), its ``start_dt`` glassflow's
  fit start: both fit the same window.

  kinisi 2.1.0 multiplies ``ionic_charge`` into the displacement *after* summing the
  selected atoms (``kinisi.displacement.calculate_mstd``), so an array of per-ion
  charges fails for the collective displacement (the script shows the DimensionError)
  and a scalar charge describes one species only. kinisi is therefore given the
  charge-weighted positions ``z_i r_i`` of all ions as one species ("X") with
  ``ionic_charge`` = 1 e: its sum over the selected atoms is then exactly
  ``sum_i z_i dr_i``, and no atom is left for its framework-drift correction (which
  would otherwise subtract the mean displacement of the other ions). Its fit is checked
  against its own mean-squared charge displacement (MSCD), that MSCD against
  glassflow's, and its MSCD standard errors against the exact ones: the charge
  displacement of both systems is a Gaussian random walk, whose all-origin MSD
  covariance is eq C3 of docs/transport.md. Seeds where its median line lies more than 3
  of its standard errors from its MSCD are listed. ``--kinisi-grid-end run`` lets
  kinisi's grid (still ~100 lags) run to the end of the trajectory, its own default
  extent: it then fits lags glassflow never uses.

Threads: ``OMP/OPENBLAS/MKL/NUMEXPR_NUM_THREADS`` are set to ``GLASSFLOW_BENCH_THREADS``
(default 1) before numpy is imported, and both estimators run under
``threadpoolctl.threadpool_limits`` of the same number. Timing: seed 0 of each system
and replica count, ``--repeats`` runs of each estimator in turn in this process (wall
time by ``time.perf_counter``, min and median); glassflow from positions in memory to
sigma, sigma_NE and H_R (and sigma alone: the charge MSD and its fit), kinisi from the
``ase.Atoms`` frames in memory (``from_ase`` + ``conductivity``).

Usage (needs the ``bench`` extra: ``pip install -c requirements.lock -e ".[bench]"``)::

    .venv/bin/python benchmarks/sigma_vs_kinisi.py                 # 20 seeds, 3 repeats
    .venv/bin/python benchmarks/sigma_vs_kinisi.py --parts coverage --kinisi-grid-end run
    .venv/bin/python benchmarks/sigma_vs_kinisi.py --seeds 40 --repeats 5 --json out.json

Runtime: about 2 minutes with the defaults on one core of a shared 2-core machine
(kinisi's ``from_ase`` and sampling take over 90 % of it); each further seed adds about
4 s, each further repeat about 4 s.
"""

from __future__ import annotations

import os

THREADS = os.environ.setdefault("GLASSFLOW_BENCH_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = THREADS

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from importlib import metadata  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from glassflow.analysis.dynamics.correlations import (  # noqa: E402
    DynamicsSettings,
    analysis_lags,
    displacement_moment_sums,
    fit_lag_grid,
)
from glassflow.analysis.dynamics.msd_covariance import (  # noqa: E402
    gaussian_v2,
    msd_covariance_basis,
)
from glassflow.analysis.dynamics.transport import (  # noqa: E402
    ConductivityEstimate,
    MSDCurve,
    conductivity_estimate,
    fit_einstein,
)

N_THREADS = int(THREADS)
N_FRAMES, DT_PS, T_K, VOLUME_A3 = 1000, 0.1, 1000.0, 20000.0
Z_CAT, Z_AN = 0.6, -1.2
D_CAT, D_AN = 0.1, 0.1 / 3  # Å^2/ps
N_CAT, N_AN, N_PAIRS = 32, 16, 32
# CODATA 2018 (exact in the SI since 2019)
E_C, KB_J_K = 1.602176634e-19, 1.380649e-23
#: kinisi's grid: as many evenly spaced lags as glassflow fits, up to its longest lag
N_GRID, MAX_LAG_FRACTION = 100, 0.5
BOX_A = VOLUME_A3 ** (1 / 3)

#: one replica: species -> (positions (atoms, 3, frames) Å, charge z in e)
Cell = dict[str, tuple[np.ndarray, float]]


def walks(rng: np.random.Generator, n: int, d: float) -> np.ndarray:
    """(n, 3, N_FRAMES) Gaussian random walks of diffusivity ``d`` (Å^2/ps) from random
    points of the cell."""
    steps = rng.normal(scale=np.sqrt(2 * d * DT_PS), size=(n, 3, N_FRAMES))
    return np.cumsum(steps, axis=-1) + rng.uniform(0, BOX_A, size=(n, 3, 1))


def independent(rng: np.random.Generator) -> Cell:
    """N_CAT cations (z+, D_CAT) and N_AN anions (z-, D_AN) on independent walks."""
    return {"Na": (walks(rng, N_CAT, D_CAT), Z_CAT), "S": (walks(rng, N_AN, D_AN), Z_AN)}


def pairs(rng: np.random.Generator) -> Cell:
    """N_PAIRS rigid Na-S pairs: each S at a fixed offset from its Na, both moving by
    the pair's random walk (D_CAT)."""
    na = walks(rng, N_PAIRS, D_CAT)
    return {"Na": (na, Z_CAT), "S": (na + rng.normal(size=(N_PAIRS, 3, 1)), Z_AN)}


def by_hand(n_z2_d: float) -> float:
    """``n_z2_d e^2 / (V kB T)`` in S/cm for ``n_z2_d`` in e^2 Å^2/ps (eq 8, or eq 5
    with the charge-MSD slope / 6); 1 Å^2/ps = 1e-4 cm^2/s, 1 Å^3 = 1e-24 cm^3."""
    return n_z2_d * E_C**2 * 1e-4 / (VOLUME_A3 * 1e-24 * KB_J_K * T_K)


#: system -> (generator, charge-MSD slope / 6 in e^2 Å^2/ps, true H_R); sigma = by_hand(slope)
SYSTEMS: dict[str, tuple[Callable[[np.random.Generator], Cell], float, float]] = {
    "independent": (independent, N_CAT * Z_CAT**2 * D_CAT + N_AN * Z_AN**2 * D_AN, 1.0),
    "pairs": (
        pairs,
        N_PAIRS * (Z_CAT + Z_AN) ** 2 * D_CAT,
        (Z_CAT**2 + Z_AN**2) / (Z_CAT + Z_AN) ** 2,
    ),
}


def draw(system: str, seed: int, n_replicas: int) -> list[Cell]:
    """``n_replicas`` independent cells of ``system`` from one seed."""
    rng = np.random.default_rng(seed)
    make = SYSTEMS[system][0]
    return [make(rng) for _ in range(n_replicas)]


# ------------------------------------------------------------------------------ estimators
@dataclass
class Sigma:
    """sigma and its 95 % interval, S/cm; the wall time of the estimate, s."""

    sigma: float
    lo: float
    hi: float
    wall: float
    haven: float = float("nan")
    haven_lo: float = float("nan")
    haven_hi: float = float("nan")


def charge_positions(cell: Cell) -> np.ndarray:
    """``sum_i z_i r_i(t)``, (3, frames), e Å."""
    return sum(z * x.sum(axis=0) for x, z in cell.values())


def settings() -> DynamicsSettings:
    return DynamicsSettings(min_fit_time_ps=ARGS.start_ps)


def glassflow_sigma(cells: list[Cell]) -> tuple[Sigma, ConductivityEstimate]:
    """The workflow's sigma, sigma_NE and H_R of one or more replicas (stacked fits)."""
    s = settings()
    fs = s.fit_settings()
    lags = analysis_lags(N_FRAMES, s)
    t0 = time.perf_counter()
    with threadpool_limits(N_THREADS):
        fits = {}
        for sp in cells[0]:
            curves = []
            for cell in cells:
                x = cell[sp][0]
                r2 = displacement_moment_sums(x, fourth=False)[0]
                curves.append(MSDCurve(lags, r2[lags] / x.shape[0], x.shape[0], N_FRAMES, DT_PS))
            fits[sp] = fit_einstein(curves, fs)
        charge_curves = []
        for cell in cells:
            q2 = displacement_moment_sums(charge_positions(cell)[None], fourth=False)[0]
            charge_curves.append(MSDCurve(lags, q2[lags], 1.0, N_FRAMES, DT_PS))
        est = conductivity_estimate(
            fits,
            {sp: x.shape[0] for sp, (x, _) in cells[0].items()},
            {sp: z for sp, (_, z) in cells[0].items()},
            charge_curves,
            [VOLUME_A3] * len(cells),
            T_K,
            fs,
        )
    wall = time.perf_counter() - t0
    if est.sigma is None:
        raise RuntimeError(f"glassflow gave no sigma: {est.reason}")
    return Sigma(
        est.sigma, est.sigma_lo, est.sigma_hi, wall, est.haven, est.haven_lo, est.haven_hi
    ), est


def glassflow_sigma_only(cells: list[Cell]) -> float:
    """Wall time of glassflow's sigma alone: charge MSD and its fit from the given start."""
    s = settings()
    lags = analysis_lags(N_FRAMES, s)
    t0 = time.perf_counter()
    with threadpool_limits(N_THREADS):
        curves = []
        for cell in cells:
            q2 = displacement_moment_sums(charge_positions(cell)[None], fourth=False)[0]
            curves.append(MSDCurve(lags, q2[lags], 1.0, N_FRAMES, DT_PS))
        fit_einstein(curves, s.fit_settings(), t_start_ps=ARGS.start_ps, cage_test=False)
    return time.perf_counter() - t0


def kinisi_frames(cells: list[Cell]) -> list[list]:
    """Per replica, ``ase.Atoms`` frames of the charge-weighted positions ``z_i r_i`` of
    all ions as one species "X" in the cubic cell of VOLUME_A3."""
    from ase import Atoms

    out = []
    for cell in cells:
        q = np.concatenate([z * x for x, z in cell.values()], axis=0)  # (atoms, 3, frames)
        q = np.transpose(q, (2, 0, 1))
        symbols = ["X"] * q.shape[1]
        out.append([Atoms(symbols=symbols, positions=p, cell=[BOX_A] * 3, pbc=True) for p in q])
    return out


def kinisi_grid() -> np.ndarray:
    """~100 evenly spaced lags (frames) up to glassflow's longest fitted lag (default) or,
    with ``--kinisi-grid-end run``, up to the whole run (kinisi's own extent)."""
    return fit_lag_grid(
        N_FRAMES, MAX_LAG_FRACTION if ARGS.kinisi_grid_end == "fit" else 1.0, N_GRID
    )


def kinisi_sigma(frames: list[list], seed: int) -> tuple[Sigma, object]:
    """kinisi's sigma as documented: ``from_ase(..., ionic_charge, dt=grid)`` then
    ``conductivity(start_dt, temperature)``; replicas as ``dtype="identical"`` with one
    system particle each. Returns the estimate and the analyzer (for the checks)."""
    import scipp as sc
    from kinisi.analyze import ConductivityAnalyzer

    kw = {
        "specie": "X",
        "time_step": sc.scalar(DT_PS, unit="ps"),
        "step_skip": sc.scalar(1, unit=sc.units.dimensionless),
        "ionic_charge": sc.scalar(1.0, unit="e"),
        "dt": sc.array(
            dims=["time interval"], values=kinisi_grid() * DT_PS * (1 + 1e-12), unit="ps"
        ),
        "progress": False,
    }
    t0 = time.perf_counter()
    with threadpool_limits(N_THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(frames) == 1:
            a = ConductivityAnalyzer.from_ase(frames[0], system_particles=1, **kw)
        else:
            a = ConductivityAnalyzer.from_ase(
                frames, dtype="identical", system_particles=len(frames), **kw
            )
        a.conductivity(
            start_dt=sc.scalar(ARGS.start_ps * (1 - 1e-9), unit="ps"),
            temperature=sc.scalar(T_K, unit="K"),
            progress=False,
            random_state=np.random.RandomState(seed),
        )
    wall = time.perf_counter() - t0
    v = sc.to_unit(sc.array(dims=["sample"], values=a.sigma.values, unit=a.sigma.unit), "S/cm")
    lo, med, hi = np.percentile(v.values, [2.5, 50, 97.5])
    return Sigma(float(med), float(lo), float(hi), wall), a


def kinisi_checks(a, cells: list[Cell], charge_d: float) -> dict:
    """kinisi's fit against its own MSCD, and its MSCD against glassflow's, on the window.

    kinisi's MSCD is ``<|sum z dr|^2>`` over the system particles divided by the atoms
    per system particle; times that count it is the charge MSD glassflow fits (the
    replicas' mean for two). Residuals of kinisi's median line in units of its own MSCD
    standard error, the whitened chi^2 per lag with the covariance it fitted with, its
    posterior median slope against the generalised least-squares slope with that same
    covariance (the optimum its sampler should find), and
    kinisi's MSCD standard error at the first, middle and last fitted lag divided by the
    exact one: the charge displacement of these systems is a Gaussian random walk with
    ``<|sum z dr|^2> = 6 charge_d t``, whose all-origin MSD variance is eq C3
    (``msd_covariance_basis``, one particle per replica).
    """
    from scipy.linalg import pinvh

    per = sum(x.shape[0] for x, _ in cells[0].values())
    cov = np.asarray(a.diff.covariance_matrix.values)
    n = cov.shape[0]
    t = np.asarray(a.dt.values)[-n:]
    y = np.asarray(a.mscd.values)[-n:] * per
    grid = kinisi_grid()[-n:]
    ours = np.mean(
        [displacement_moment_sums(charge_positions(c)[None], fourth=False)[0][grid] for c in cells],
        axis=0,
    )
    slope = np.median(a.diff.gradient.values)
    model = (slope * t + np.median(a.diff.intercept.values)) * per
    r = y - model
    w = pinvh(cov)
    x = np.column_stack([t, np.ones(n)])
    gls_slope = np.linalg.solve(x.T @ w @ x, x.T @ w @ (y / per))[0]
    cov = cov * per**2
    exact = gaussian_v2(charge_d) * np.diag(msd_covariance_basis(t, N_FRAMES, DT_PS, 1.0)[0])
    sd_ratio = np.sqrt(np.diag(cov) / (exact / len(cells)))
    return {
        "sd_ratio": [float(sd_ratio[i]) for i in (0, n // 2, n - 1)],
        "max_abs_z": float(np.max(np.abs(r / np.sqrt(np.diag(cov))))),
        "median_vs_gls": float(slope / gls_slope - 1),
        "chi2_per_lag": float(r @ pinvh(cov) @ r / n),
        "max_rel_mscd_diff": float(np.max(np.abs(y / ours - 1))),
        "n_lags": int(n),
        "t_fit_ps": (float(t[0]), float(t[-1])),
    }


def per_ion_charges_fail() -> str:
    """What kinisi 2.1.0 does with an array of per-ion charges (its docstring's second
    form) for the collective displacement (``system_particles=1``)."""
    import scipp as sc
    from ase import Atoms
    from kinisi.analyze import ConductivityAnalyzer

    cell = draw("independent", 0, 1)[0]
    x = np.concatenate([x for x, _ in cell.values()], axis=0)[..., :50]  # 50 frames
    z = np.concatenate([np.full(xx.shape[0], zz) for xx, zz in cell.values()])
    sym = [sp for sp, (xx, _) in cell.items() for _ in range(xx.shape[0])]
    frames = [
        Atoms(symbols=sym, positions=p, cell=[BOX_A] * 3, pbc=True)
        for p in np.transpose(x, (2, 0, 1))
    ]
    try:
        ConductivityAnalyzer.from_ase(
            frames,
            specie=sc.array(dims=["specie"], values=["Na", "S"]),
            time_step=sc.scalar(DT_PS, unit="ps"),
            step_skip=sc.scalar(1, unit=sc.units.dimensionless),
            ionic_charge=sc.array(dims=["particle"], values=z, unit="e"),
            system_particles=1,
            progress=False,
        )
    except Exception as e:  # noqa: BLE001 - the point is to show what it raises
        return f"{type(e).__name__}: {e}"
    return "accepted"


# ------------------------------------------------------------------------------ parts
def part_coverage() -> list[dict]:
    gf_end = fit_lag_grid(N_FRAMES, MAX_LAG_FRACTION, N_GRID)[-1] * DT_PS
    print(
        f"\n== coverage: {ARGS.seeds} seeds per system; glassflow fits {ARGS.start_ps:g}-"
        f"{gf_end:g} ps, kinisi {ARGS.start_ps:g}-{kinisi_grid()[-1] * DT_PS:g} ps "
        f"({N_GRID} lags); {load()}",
        flush=True,
    )
    rows = []
    for system, (_, charge_d, haven_true) in SYSTEMS.items():
        sigma_true = by_hand(charge_d)
        for n_rep in (1, 2):
            gf, ki, checks = [], [], []
            for seed in range(ARGS.seeds):
                cells = draw(system, 1000 * n_rep + seed, n_rep)
                g, _ = glassflow_sigma(cells)
                k, a = kinisi_sigma(kinisi_frames(cells), seed)
                gf.append(g)
                ki.append(k)
                checks.append(kinisi_checks(a, cells, charge_d) | {"seed": seed})
            row = summarise(system, n_rep, sigma_true, haven_true, gf, ki, checks)
            rows.append(row)
    print_coverage(rows)
    return rows


def summarise(system, n_rep, sigma_true, haven_true, gf, ki, checks) -> dict:
    def stats(es: list[Sigma]) -> dict:
        s = np.array([e.sigma for e in es]) / sigma_true
        return {
            "covered": int(sum(e.lo <= sigma_true <= e.hi for e in es)),
            "median_width": float(np.median([(e.hi - e.lo) / sigma_true for e in es])),
            "mean_ratio": float(s.mean()),
            "mean_ratio_err": float(s.std(ddof=1) / np.sqrt(s.size)),
            "seed0": [es[0].sigma, es[0].lo, es[0].hi],
        }

    return {
        "system": system,
        "replicas": n_rep,
        "seeds": len(gf),
        "sigma_true_S_cm": sigma_true,
        "haven_true": haven_true,
        "glassflow": stats(gf)
        | {"haven_covered": int(sum(e.haven_lo <= haven_true <= e.haven_hi for e in gf))},
        "kinisi": stats(ki),
        "kinisi_flagged": [
            {
                "seed": c["seed"],
                "max_abs_z": c["max_abs_z"],
                "kinisi_over_true": k.sigma / sigma_true,
                "glassflow_over_true": g.sigma / sigma_true,
            }
            for c, k, g in zip(checks, ki, gf, strict=True)
            if c["max_abs_z"] > 3
        ],
        "kinisi_fit": {
            "max_abs_z": float(max(c["max_abs_z"] for c in checks)),
            "chi2_per_lag": [
                float(min(c["chi2_per_lag"] for c in checks)),
                float(max(c["chi2_per_lag"] for c in checks)),
            ],
            "max_rel_mscd_diff": float(max(c["max_rel_mscd_diff"] for c in checks)),
            "max_median_vs_gls": float(max(abs(c["median_vs_gls"]) for c in checks)),
            "n_lags": checks[0]["n_lags"],
            "t_fit_ps": checks[0]["t_fit_ps"],
            "sd_ratio_median": np.median([c["sd_ratio"] for c in checks], axis=0).tolist(),
            "sd_ratio_min": np.min([c["sd_ratio"] for c in checks], axis=0).tolist(),
            "sd_ratio_max": np.max([c["sd_ratio"] for c in checks], axis=0).tolist(),
        },
    }


def print_coverage(rows: list[dict]) -> None:
    print(
        "\n| system | replicas | true sigma (S/cm) | seed 0: glassflow [95 %] | seed 0: kinisi "
        "[95 %] | covered: glassflow | kinisi | median width / true: glassflow | kinisi "
        "| mean sigma / true: glassflow | kinisi | H_R covered: glassflow |"
    )
    print("|" + "---|" * 12)
    for r in rows:
        g, k = r["glassflow"], r["kinisi"]
        print(
            f"| {r['system']} | {r['replicas']} | {r['sigma_true_S_cm']:.4e} "
            f"| {fmt3(g['seed0'])} | {fmt3(k['seed0'])} "
            f"| {g['covered']}/{r['seeds']} | {k['covered']}/{r['seeds']} "
            f"| {g['median_width']:.3f} | {k['median_width']:.3f} "
            f"| {g['mean_ratio']:.3f} ± {g['mean_ratio_err']:.3f} "
            f"| {k['mean_ratio']:.3f} ± {k['mean_ratio_err']:.3f} "
            f"| {g['haven_covered']}/{r['seeds']} |"
        )
    print("\nkinisi's fit against its own MSCD, and its MSCD against glassflow's (all seeds):")
    for r in rows:
        c = r["kinisi_fit"]
        print(
            f"  {r['system']:>11s}, {r['replicas']} replica(s): {c['n_lags']} lags "
            f"{c['t_fit_ps'][0]:g}-{c['t_fit_ps'][1]:g} ps; median line within "
            f"{c['max_abs_z']:.2f} of its MSCD standard error at every lag; whitened chi^2 "
            f"per lag {c['chi2_per_lag'][0]:.3f}-{c['chi2_per_lag'][1]:.3f}; MSCD = "
            f"glassflow's within {100 * c['max_rel_mscd_diff']:.2f} %; posterior median slope = "
            f"GLS slope with its covariance within {100 * c['max_median_vs_gls']:.1f} %"
        )
        lo, med, hi = c["sd_ratio_min"], c["sd_ratio_median"], c["sd_ratio_max"]
        print(
            "    its MSCD standard error / the exact one (eq C3) at the first, middle, last "
            "lag: "
            + ", ".join(f"{m:.2f} [{a:.2f}-{b:.2f}]" for a, m, b in zip(lo, med, hi, strict=True))
        )
        for f in r["kinisi_flagged"]:
            print(
                f"    seed {f['seed']}: kinisi's line {f['max_abs_z']:.1f} standard errors off "
                f"its MSCD; sigma / true: kinisi {f['kinisi_over_true']:.3f}, glassflow "
                f"{f['glassflow_over_true']:.3f}"
            )


def part_timing() -> list[dict]:
    print(f"\n== timing: seed 0, {ARGS.repeats} runs each, {N_THREADS} thread(s); {load()}")
    rows = []
    for system in SYSTEMS:
        for n_rep in (1, 2):
            cells = draw(system, 1000 * n_rep, n_rep)
            frames = kinisi_frames(cells)
            tg, ts, tk = [], [], []
            for _ in range(ARGS.repeats):
                tg.append(glassflow_sigma(cells)[0].wall)
                ts.append(glassflow_sigma_only(cells))
                tk.append(kinisi_sigma(frames, 0)[0].wall)
            rows.append(
                {
                    "system": system,
                    "replicas": n_rep,
                    "glassflow_s": [min(tg), float(np.median(tg))],
                    "glassflow_sigma_only_s": [min(ts), float(np.median(ts))],
                    "kinisi_s": [min(tk), float(np.median(tk))],
                }
            )
    print(
        "\n| system | replicas | glassflow: sigma, sigma_NE, H_R (min / median, s) "
        "| glassflow: sigma only | kinisi: sigma | kinisi / glassflow (min) "
        "| kinisi / glassflow sigma only (min) |"
    )
    print("|" + "---|" * 7)
    for r in rows:
        g, s, k = r["glassflow_s"], r["glassflow_sigma_only_s"], r["kinisi_s"]
        print(
            f"| {r['system']} | {r['replicas']} | {g[0]:.3f} / {g[1]:.3f} | {s[0]:.3f} / "
            f"{s[1]:.3f} | {k[0]:.2f} / {k[1]:.2f} | {k[0] / g[0]:.0f}× | {k[0] / s[0]:.0f}× |"
        )
    print(f"  after: {load()}")
    return rows


def fmt3(v: list[float]) -> str:
    return f"{v[0]:.3e} [{v[1]:.3e}, {v[2]:.3e}]"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("glassflow", "kinisi", "scipp", "emcee", "numpy", "scipy", "ase"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20, help="seeds per system and replica count")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each estimator")
    p.add_argument("--start-ps", type=float, default=0.5, help="fit start (both), ps")
    p.add_argument("--parts", nargs="+", default=["coverage", "timing"])
    p.add_argument(
        "--kinisi-grid-end",
        choices=["fit", "run"],
        default="fit",
        help="kinisi's grid ends at glassflow's longest lag (fit) or at the whole run (run)",
    )
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    return p.parse_args(argv)


ARGS = parse_args([])


def main(argv: list[str] | None = None) -> None:
    global ARGS
    ARGS = parse_args(argv)
    v = versions()
    print(" ".join(f"{k} {val}" for k, val in v.items()))
    print(f"per-ion charge array in kinisi (system_particles=1): {per_ion_charges_fail()}")
    t0 = time.perf_counter()
    out: dict = {"versions": v, "args": vars(ARGS)}
    if "coverage" in ARGS.parts:
        out["coverage"] = part_coverage()
    if "timing" in ARGS.parts:
        out["timing"] = part_timing()
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if ARGS.json:
        with open(ARGS.json, "w") as fh:
            json.dump(out, fh, indent=1, default=lambda o: asdict(o))


if __name__ == "__main__":
    main()
