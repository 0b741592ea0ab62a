"""Arrhenius fits of diffusivities and conductivities (physics.md §4, eq 10).

``D_k(T) = D0 exp(-E_A / kB T)`` and ``sigma T = sigma0 exp(-Delta / kB T)``, fitted as
straight lines of ``ln y`` against ``u = 1/(kB T)`` (1/eV) on diffusive points only, so
the slope is ``-E_A`` in eV and the intercept is ``ln`` of the prefactor.

Confidence intervals (``ci_method`` column):

* ``"bootstrap-replicas"`` (reported whenever every temperature has >= 2 replicas):
  replicas are resampled with replacement *within each temperature* and the weighted
  line refitted (``n_boot`` times). The interval is an *expanded percentile*
  interval: the distances of the bootstrap percentiles from the full-sample estimate
  are multiplied by ``sqrt(r/(r-1)) * t_{nu}/z`` (r = harmonic mean of the replica
  counts per temperature, nu = sum over temperatures of (r_T - 1), t and z the
  two-sided quantiles of Student's t and the normal at ``ci_level``). The first factor
  undoes the plug-in (1/r) variance of resampling r replicas, the second the
  few-degrees-of-freedom estimate of the replica scatter; without them the plain
  percentile interval under-covers badly for 2-5 replicas.
* ``"weighted-known"`` (replica-pooled points, one per temperature, whose errors come
  from the GLS Einstein fit of all replicas together, docs/transport.md): weighted
  least squares with weights ``1/s_i^2`` taken as known, normal quantiles; if the
  scatter exceeds the errors (reduced chi-square ``chi2/(n-2) > 1``) the covariance is
  scaled by it (the Particle Data Group "scale factor"), never shrunk below the
  quoted errors. Two temperatures already give an interval. This is what
  :func:`arrhenius_table` uses when the transport table has the pooled columns.
* ``"weighted-t"`` (fewer than 2 replicas at some temperature): weighted least squares
  with per-point weights ``1/s_i^2``, ``s_i = y_err_i / y_i`` (the propagated error of
  ``ln y``), covariance scaled by the reduced chi-square (Birge ratio, so scatter
  beyond the quoted errors widens the interval) and Student-t quantiles with
  ``n - 2`` degrees of freedom.
* ``"none"``: only two points, the line is exact and no interval can be given.

The point estimate is always the weighted least-squares line over all used points.
If any used point lacks a positive finite error, all points get equal weights
(ordinary least squares); the t interval is then the textbook OLS interval.

Two-regime fit (optional): a continuous piecewise-linear ("hinge") model in ``u``
with a crossover ``T_x``, grid-searched over breakpoints that leave at least
``min_side`` temperatures on each side, compared with the single line by AICc
(Gaussian likelihood with the weight scale profiled out; k = 3 single, 5 two-regime
counting the breakpoint and the scale). "two-regime" is chosen only if its AICc is
lower by more than ``aic_margin`` (default 2, the conventional "substantial
support" margin). ``E_A_eV`` and the prefactor always come from the single line;
``T_cross_K``, ``E_A_high_eV`` (high-T side), ``E_A_low_eV`` (low-T side) and
``prefactor_high`` (prefactor of the high-T line, which with the continuity at T_x
fixes the whole hinge) are filled only when "two-regime" is selected; ``aic_two`` is
filled whenever the two-regime fit was attempted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

#: Boltzmann constant, eV/K (CODATA 2018).
KB_EV_K = 8.617333262e-5

Quantity = Literal["D", "sigmaT"]
PREFACTOR_UNITS: dict[str, str] = {"D": "cm2/s", "sigmaT": "S K/cm"}
SPECIES_ORDER: tuple[str, ...] = ("Na", "Si", "S")

TRANSPORT_COLUMNS: tuple[str, ...] = (
    "campaign",
    "x",
    "m",
    "T_K",
    "replica",
    "species",
    "D_cm2_s",
    "D_err_cm2_s",
    "diffusive",
    "sigma_S_cm",
    "sigma_err_S_cm",
)
POINT_COLUMNS: tuple[str, ...] = ("campaign", "x", "m", "T_K", "replica", "y", "y_err")
ARRHENIUS_COLUMNS: tuple[str, ...] = (
    "campaign",
    "x",
    "m",
    "quantity",
    "species",
    "E_A_eV",
    "E_A_lo_eV",
    "E_A_hi_eV",
    "prefactor",
    "prefactor_lo",
    "prefactor_hi",
    "prefactor_unit",
    "T_min_K",
    "T_max_K",
    "n_points",
    "n_temperatures",
    "n_replicas",
    "model",
    "T_cross_K",
    "E_A_high_eV",
    "E_A_low_eV",
    "prefactor_high",
    "aic_single",
    "aic_two",
    "ci_method",
    "ci_level",
    "reason",
)
_FLOAT_COLUMNS: tuple[str, ...] = (
    "E_A_eV",
    "E_A_lo_eV",
    "E_A_hi_eV",
    "prefactor",
    "prefactor_lo",
    "prefactor_hi",
    "T_min_K",
    "T_max_K",
    "T_cross_K",
    "E_A_high_eV",
    "E_A_low_eV",
    "prefactor_high",
    "aic_single",
    "aic_two",
    "ci_level",
)
_INT_COLUMNS: tuple[str, ...] = ("n_points", "n_temperatures", "n_replicas")

_T_DECIMALS = 6  # temperatures equal to 1e-6 K are the same temperature
_RSS_FLOOR = 1e-300


# --------------------------------------------------------------------------- primitives


def inverse_kT(T_K: ArrayLike) -> NDArray[np.float64]:
    """``u = 1/(kB T)`` in 1/eV for temperatures in K."""
    T = np.asarray(T_K, dtype=np.float64)
    if np.any(~np.isfinite(T) | (T <= 0)):
        raise ValueError("temperatures must be finite and > 0 K")
    return 1.0 / (KB_EV_K * T)


def weighted_line(
    u: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Closed-form weighted least squares ``y = a + b u``, batched over leading axes.

    Returns ``(a, b, rss)`` with ``rss = sum w (y - a - b u)^2``; the last axis holds
    the points. Needs at least two distinct ``u`` per batch row.
    """
    s = w.sum(-1)
    su = (w * u).sum(-1)
    sy = (w * y).sum(-1)
    suu = (w * u * u).sum(-1)
    suy = (w * u * y).sum(-1)
    det = s * suu - su * su
    b = (s * suy - su * sy) / det
    a = (sy - b * su) / s
    resid = y - a[..., None] - b[..., None] * u
    return a, b, (w * resid * resid).sum(-1)


def aicc(rss: float, n: int, k: int) -> float:
    """Small-sample AIC of a Gaussian least-squares fit with k parameters (incl. the scale).

    ``AICc = n ln(RSS/n) + 2k + 2k(k+1)/(n-k-1)``; +inf when ``n <= k + 1``.
    """
    if n <= k + 1:
        return float("inf")
    return n * np.log(max(rss, _RSS_FLOOR) / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def _weights(y: NDArray[np.float64], y_err: NDArray[np.float64]) -> tuple[NDArray, bool]:
    """Weights of ln y: 1/(y_err/y)^2 if every error is positive and finite, else ones."""
    ok = np.isfinite(y_err) & (y_err > 0)
    if y.size and np.all(ok):
        return (y / y_err) ** 2, True
    return np.ones_like(y), False


# --------------------------------------------------------------------------- fit results


@dataclass(frozen=True)
class ArrheniusFit:
    """Result of one Arrhenius fit; energies in eV, temperatures in K, prefactor in y units."""

    E_A_eV: float | None = None
    E_A_lo_eV: float | None = None
    E_A_hi_eV: float | None = None
    prefactor: float | None = None
    prefactor_lo: float | None = None
    prefactor_hi: float | None = None
    T_min_K: float | None = None
    T_max_K: float | None = None
    n_points: int = 0
    n_temperatures: int = 0
    n_replicas: int = 0
    model: str | None = None
    T_cross_K: float | None = None
    E_A_high_eV: float | None = None
    E_A_low_eV: float | None = None
    prefactor_high: float | None = None
    aic_single: float | None = None
    aic_two: float | None = None
    ci_method: str = "none"
    ci_level: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TwoRegimeFit:
    """Continuous hinge fit ``ln y = a - E_high u - (E_low - E_high) max(u - u_x, 0)``."""

    T_cross_K: float
    E_A_high_eV: float
    E_A_low_eV: float
    ln_prefactor: float
    rss: float


def fit_two_regime(
    T_K: ArrayLike, y: ArrayLike, w: ArrayLike, min_side: int = 3, n_grid: int = 200
) -> TwoRegimeFit | None:
    """Best continuous two-line fit in ``u = 1/kB T`` over a breakpoint grid.

    The breakpoint ``u_x`` ranges over ``[u_(min_side), u_(n_T - min_side + 1))`` of the
    sorted distinct ``u``, so each side keeps at least ``min_side`` temperatures.
    Returns None when there are fewer than ``2 min_side`` distinct temperatures.
    ``E_A_high_eV`` is the slope on the high-T side (small u), ``E_A_low_eV`` on the
    low-T side. ``y`` must be positive; ``w`` are weights of ``ln y``.
    """
    u = inverse_kT(T_K)
    ly = np.log(np.asarray(y, dtype=np.float64))
    wa = np.asarray(w, dtype=np.float64)
    uu = np.unique(np.round(u, 12))
    if min_side < 2 or uu.size < 2 * min_side:
        return None
    lo, hi = uu[min_side - 1], uu[uu.size - min_side]
    grid = np.linspace(lo, hi, n_grid, endpoint=False)
    hinge = np.maximum(u[None, :] - grid[:, None], 0.0)  # (G, n)
    basis = np.stack([np.ones_like(hinge), np.broadcast_to(u, hinge.shape), hinge], axis=-1)
    bw = basis * wa[None, :, None]
    normal = np.einsum("gni,gnj->gij", bw, basis)
    rhs = np.einsum("gni,n->gi", bw, ly)
    coef = np.linalg.solve(normal, rhs[..., None])[..., 0]  # (G, 3)
    resid = ly[None, :] - np.einsum("gni,gi->gn", basis, coef)
    rss = (wa[None, :] * resid * resid).sum(-1)
    best = int(np.argmin(rss))
    a, s1, s2 = coef[best]
    return TwoRegimeFit(
        T_cross_K=float(1.0 / (KB_EV_K * grid[best])),
        E_A_high_eV=float(-s1),
        E_A_low_eV=float(-(s1 + s2)),
        ln_prefactor=float(a),
        rss=float(rss[best]),
    )


def _bootstrap_indices(
    groups: list[NDArray[np.intp]], n_boot: int, rng: np.random.Generator
) -> NDArray[np.intp]:
    """(n_boot, n) point indices, resampling each temperature's replicas with replacement."""
    cols = [g[rng.integers(0, g.size, size=(n_boot, g.size))] for g in groups]
    return np.concatenate(cols, axis=1)


def fit_arrhenius(
    T_K: ArrayLike,
    y: ArrayLike,
    y_err: ArrayLike | None = None,
    replica: ArrayLike | None = None,
    *,
    ci_level: float = 0.95,
    n_boot: int = 2000,
    rng: np.random.Generator | int | None = 0,
    two_regime: bool = True,
    min_side: int = 3,
    aic_margin: float = 2.0,
    errors_known: bool = False,
) -> ArrheniusFit:
    """Fit ``y = y0 exp(-E_A / kB T)`` (physics.md §4 eq 10) to already-selected points.

    ``T_K`` in K, ``y`` > 0 (e.g. D in cm^2/s, or sigma*T in S K/cm), ``y_err`` its
    1-sigma error (same unit; None or non-finite -> equal weights), ``replica`` labels
    (only used to count replicas; the bootstrap resamples points within each
    temperature, one point per replica). Non-finite or non-positive ``y`` are dropped
    and noted in ``reason``. ``errors_known``: the points are replica-pooled estimates
    whose ``y_err`` are trusted ("weighted-known"). See the module docstring for the CI
    methods.
    """
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level!r}")
    T = np.asarray(T_K, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    ea = np.full_like(ya, np.nan) if y_err is None else np.asarray(y_err, dtype=np.float64).ravel()
    rep = np.arange(T.size) if replica is None else np.asarray(replica).ravel()
    if not (T.size == ya.size == ea.size == rep.size):
        raise ValueError("T_K, y, y_err and replica must have the same length")
    keep = np.isfinite(T) & (T > 0) & np.isfinite(ya) & (ya > 0)
    notes = []
    if np.count_nonzero(~keep):
        notes.append(f"{np.count_nonzero(~keep)} non-finite or non-positive values dropped")
    T, ya, ea, rep = T[keep], ya[keep], ea[keep], rep[keep]
    t_round = np.round(T, _T_DECIMALS)
    temps = np.unique(t_round)
    base = {
        "n_points": int(T.size),
        "n_temperatures": int(temps.size),
        "n_replicas": int(np.unique(rep).size) if rep.size else 0,
        "T_min_K": float(T.min()) if T.size else None,
        "T_max_K": float(T.max()) if T.size else None,
    }
    if temps.size < 2:
        notes.insert(0, f"fewer than 2 temperatures with diffusive points ({temps.size})")
        return ArrheniusFit(**base, reason="; ".join(notes))

    u = inverse_kT(T)
    ly = np.log(ya)
    w, weighted = _weights(ya, ea)
    if not weighted and np.any(np.isfinite(ea)):
        notes.append("incomplete errors: equal weights")
    a, b, rss = (float(v) for v in weighted_line(u, ly, w))
    n = T.size
    groups = [np.flatnonzero(t_round == t) for t in temps]
    counts = np.array([g.size for g in groups])
    alpha = 1.0 - ci_level
    z = stats.norm.ppf(1.0 - alpha / 2.0)

    e_lo = e_hi = la_lo = la_hi = None
    if errors_known and weighted:
        method = "weighted-known"
        s = w.sum()
        su = (w * u).sum()
        suu = (w * u * u).sum()
        det = s * suu - su * su
        scale = max(1.0, rss / (n - 2)) if n > 2 else 1.0
        se_b = np.sqrt(scale * s / det)
        se_a = np.sqrt(scale * suu / det)
        e_lo, e_hi = -b - z * se_b, -b + z * se_b
        la_lo, la_hi = a - z * se_a, a + z * se_a
    elif counts.min() >= 2:
        method = "bootstrap-replicas"
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        idx = _bootstrap_indices(groups, n_boot, gen)
        ab, bb, _ = weighted_line(u[idx], ly[idx], w[idx])
        r_h = counts.size / np.sum(1.0 / counts)
        nu = int(np.sum(counts - 1))
        expand = np.sqrt(r_h / (r_h - 1.0)) * stats.t.ppf(1.0 - alpha / 2.0, nu) / z
        q = [100 * alpha / 2.0, 100 * (1.0 - alpha / 2.0)]
        b_q = np.percentile(bb, q)
        a_q = np.percentile(ab, q)
        b_lo, b_hi = b - (b - b_q[0]) * expand, b + (b_q[1] - b) * expand
        la_lo, la_hi = a - (a - a_q[0]) * expand, a + (a_q[1] - a) * expand
        e_lo, e_hi = -b_hi, -b_lo
    elif n > 2:
        method = "weighted-t"
        s = w.sum()
        su = (w * u).sum()
        suu = (w * u * u).sum()
        det = s * suu - su * su
        scale = rss / (n - 2)
        tq = stats.t.ppf(1.0 - alpha / 2.0, n - 2)
        se_b = np.sqrt(scale * s / det)
        se_a = np.sqrt(scale * suu / det)
        e_lo, e_hi = -b - tq * se_b, -b + tq * se_b
        la_lo, la_hi = a - tq * se_a, a + tq * se_a
    else:
        method = "none"
        notes.append("only 2 points: no confidence interval")

    model = "single"
    aic1 = aicc(rss, n, 3)
    aic2 = t_cross = e_high = e_low = pre_high = None
    if two_regime:
        two = fit_two_regime(T, ya, w, min_side=min_side)
        if two is not None and np.isfinite(aicc(two.rss, n, 5)):
            aic2 = aicc(two.rss, n, 5)
            if aic2 < aic1 - aic_margin:
                model = "two-regime"
                t_cross, e_high, e_low = two.T_cross_K, two.E_A_high_eV, two.E_A_low_eV
                pre_high = float(np.exp(two.ln_prefactor))

    def _exp(v: float | None) -> float | None:
        return None if v is None else float(np.exp(v))

    return ArrheniusFit(
        **base,
        E_A_eV=-b,
        E_A_lo_eV=None if e_lo is None else float(e_lo),
        E_A_hi_eV=None if e_hi is None else float(e_hi),
        prefactor=float(np.exp(a)),
        prefactor_lo=_exp(la_lo),
        prefactor_hi=_exp(la_hi),
        model=model,
        T_cross_K=t_cross,
        E_A_high_eV=e_high,
        E_A_low_eV=e_low,
        prefactor_high=pre_high,
        aic_single=float(aic1) if np.isfinite(aic1) else None,
        aic_two=aic2,
        ci_method=method,
        ci_level=ci_level if method != "none" else None,
        reason="; ".join(notes) or None,
    )


# --------------------------------------------------------------------------- tables


def check_transport_columns(transport: pd.DataFrame) -> None:
    """Raise ValueError naming the transport-summary columns that are missing."""
    missing = [c for c in TRANSPORT_COLUMNS if c not in transport.columns]
    if missing:
        raise ValueError(f"transport table lacks columns {missing}")


def _diffusive_mask(df: pd.DataFrame) -> NDArray[np.bool_]:
    return df["diffusive"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _numeric(series: pd.Series) -> NDArray[np.float64]:
    return (
        pd.to_numeric(series, errors="coerce")
        .astype("Float64")
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )


def _empty_points() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in POINT_COLUMNS})


#: columns of the replica-pooled estimates
#: (glassflow.analysis.dynamics.tables.pool_replica_transport)
POOLED_D_COLUMNS: tuple[str, ...] = ("D_pooled_cm2_s", "D_pooled_err_cm2_s", "diffusive_pooled")
POOLED_SIGMA_COLUMNS: tuple[str, ...] = ("sigma_pooled_S_cm", "sigma_err_pooled_S_cm")


def has_pooled(transport: pd.DataFrame, columns: tuple[str, ...] = POOLED_D_COLUMNS) -> bool:
    """True when the transport table carries the replica-pooled estimates."""
    return all(c in transport.columns for c in columns)


def _pooled_points(df: pd.DataFrame, y: NDArray, y_err: NDArray, keep: NDArray) -> pd.DataFrame:
    """One point per (campaign, x, m, T_K) from rows repeating the pooled values."""
    out = df.loc[keep, ["campaign", "x", "m", "T_K"]].copy()
    out["replica"] = 0  # the pooled estimate of all replicas
    out["y"] = y[keep]
    out["y_err"] = y_err[keep]
    out["n_replicas"] = (
        pd.to_numeric(df.loc[keep, "n_replicas"]).to_numpy(dtype=float)
        if "n_replicas" in df
        else np.nan
    )
    out = out.drop_duplicates(["campaign", "x", "m", "T_K"])
    return out.sort_values(["campaign", "x", "m", "T_K"]).reset_index(drop=True)


def diffusivity_points(
    transport: pd.DataFrame, species: str, pooled: bool | None = None
) -> pd.DataFrame:
    """Diffusive D points of one species: columns ``campaign, x, m, T_K, replica, y, y_err``.

    ``y`` is D in cm^2/s. With the replica-pooled columns (``pooled`` None: whenever
    present) there is one point per temperature, the pooled GLS estimate with its
    standard error (``replica`` 0, plus ``n_replicas``), kept where
    ``diffusive_pooled``; otherwise one point per run, kept where ``diffusive``. Rows
    with D <NA> or non-positive are excluded.
    """
    check_transport_columns(transport)
    df = transport[transport["species"] == species]
    if pooled or (pooled is None and has_pooled(transport)):
        y = _numeric(df["D_pooled_cm2_s"])
        flag = df["diffusive_pooled"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        keep = flag & np.isfinite(y) & (y > 0)
        pts = _pooled_points(df, y, _numeric(df["D_pooled_err_cm2_s"]), keep)
        return pts if len(pts) else _empty_points()
    y = _numeric(df["D_cm2_s"])
    keep = _diffusive_mask(df) & np.isfinite(y) & (y > 0)
    out = df.loc[keep, ["campaign", "x", "m", "T_K", "replica"]].copy()
    out["y"] = y[keep]
    out["y_err"] = _numeric(df["D_err_cm2_s"])[keep]
    return out.reset_index(drop=True) if len(out) else _empty_points()


def conductivity_points(
    transport: pd.DataFrame, times_T: bool = False, pooled: bool | None = None
) -> pd.DataFrame:
    """Diffusive conductivity points, one per run: ``campaign, x, m, T_K, replica, y, y_err``.

    ``y`` is sigma in S/cm (``times_T=False``) or sigma*T in S K/cm. With the
    replica-pooled columns (``pooled`` None: whenever present) there is one point per
    temperature, the collective sigma of all replicas' charge MSDs fitted together
    (``replica`` 0), kept where it is finite and positive. Otherwise sigma is a
    property of the run, so it may be repeated on every species row; per run the row
    used is species "all" if present, else "Na", else the first row with a finite
    sigma, and that row's ``diffusive`` flag decides whether the point is kept.
    """
    check_transport_columns(transport)
    if pooled or (pooled is None and has_pooled(transport, POOLED_SIGMA_COLUMNS)):
        y = _numeric(transport["sigma_pooled_S_cm"])
        keep = np.isfinite(y) & (y > 0)
        pts = _pooled_points(transport, y, _numeric(transport["sigma_err_pooled_S_cm"]), keep)
        if pts.empty:
            return _empty_points()
        factor = pts["T_K"].to_numpy(dtype=np.float64) if times_T else 1.0
        return pts.assign(y=pts["y"] * factor, y_err=pts["y_err"] * factor)
    df = transport.copy()
    df["_sig"] = _numeric(df["sigma_S_cm"])
    df["_err"] = _numeric(df["sigma_err_S_cm"])
    df = df[np.isfinite(df["_sig"].to_numpy())]
    if df.empty:
        return _empty_points()
    rank = {"all": 0, "Na": 1}
    df["_rank"] = [rank.get(str(s), 2) for s in df["species"]]
    df = df.sort_values("_rank", kind="stable")
    df = df.drop_duplicates(["campaign", "x", "m", "T_K", "replica"], keep="first")
    keep = _diffusive_mask(df) & (df["_sig"].to_numpy() > 0)
    df = df[keep]
    if df.empty:
        return _empty_points()
    factor = df["T_K"].to_numpy(dtype=np.float64) if times_T else 1.0
    out = df[["campaign", "x", "m", "T_K", "replica"]].copy()
    out["y"] = df["_sig"].to_numpy() * factor
    out["y_err"] = df["_err"].to_numpy() * factor
    return out.sort_values(["campaign", "x", "m", "T_K", "replica"]).reset_index(drop=True)


def _species_list(transport: pd.DataFrame) -> list[str]:
    present = [str(s) for s in pd.unique(transport["species"].dropna()) if str(s) != "all"]
    ordered = [s for s in SPECIES_ORDER if s in present]
    return ordered + sorted(s for s in present if s not in SPECIES_ORDER)


def arrhenius_table(
    transport: pd.DataFrame,
    *,
    ci_level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    two_regime: bool = True,
    min_side: int = 3,
    aic_margin: float = 2.0,
) -> pd.DataFrame:
    """Tidy Arrhenius table from a transport summary (physics.md §4 eq 10).

    Input columns: ``TRANSPORT_COLUMNS``; when the table also has the replica-pooled
    columns (:data:`POOLED_D_COLUMNS`, :data:`POOLED_SIGMA_COLUMNS`) the fits use one
    pooled point per temperature with its GLS error ("weighted-known") instead of the
    replica bootstrap. One output row per (campaign, x, m) and
    quantity: ``"D"`` for every species present (Na, Si, S first) and ``"sigmaT"``
    (species ``"all"``). Output columns: ``ARRHENIUS_COLUMNS``; float columns are
    pandas ``Float64`` (``<NA>`` where not available), counts ``Int64``. ``E_A`` is
    <NA> with a ``reason`` when fewer than two temperatures have diffusive points.
    """
    check_transport_columns(transport)
    rng = np.random.default_rng(seed)
    pooled_d = has_pooled(transport)
    pooled_s = has_pooled(transport, POOLED_SIGMA_COLUMNS)
    compositions = (
        transport[["campaign", "x", "m"]].drop_duplicates().sort_values(["campaign", "x", "m"])
    )
    tasks: list[tuple[str, str, pd.DataFrame, bool]] = [
        ("D", sp, diffusivity_points(transport, sp), pooled_d) for sp in _species_list(transport)
    ]
    tasks.append(("sigmaT", "all", conductivity_points(transport, times_T=True), pooled_s))
    rows = []
    for comp in compositions.itertuples(index=False):
        for quantity, species, points, pooled in tasks:
            sel = points[
                (points["campaign"] == comp.campaign)
                & (points["x"] == comp.x)
                & (points["m"] == comp.m)
            ]
            fit = fit_arrhenius(
                sel["T_K"].to_numpy(dtype=np.float64),
                sel["y"].to_numpy(dtype=np.float64),
                sel["y_err"].to_numpy(dtype=np.float64),
                sel["replica"].to_numpy(),
                ci_level=ci_level,
                n_boot=n_boot,
                rng=rng,
                two_regime=two_regime,
                min_side=min_side,
                aic_margin=aic_margin,
                errors_known=pooled,
            )
            fit_d = asdict(fit)
            reps = sel["n_replicas"].to_numpy(dtype=float) if "n_replicas" in sel else []
            if pooled and np.any(np.isfinite(reps)):
                fit_d["n_replicas"] = int(np.nanmax(reps))
            row = {
                "campaign": comp.campaign,
                "x": comp.x,
                "m": comp.m,
                "quantity": quantity,
                "species": species,
                "prefactor_unit": PREFACTOR_UNITS[quantity],
                **fit_d,
            }
            if fit.E_A_eV is None and fit.n_points == 0:
                row["reason"] = "no diffusive points"
            rows.append(row)
    return _typed_table(rows)


def _typed_table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(ARRHENIUS_COLUMNS))
    for col in _FLOAT_COLUMNS:
        table[col] = pd.array(pd.to_numeric(table[col]).to_numpy(dtype=float), dtype="Float64")
    for col in _INT_COLUMNS:
        table[col] = table[col].astype("Int64")
    for col in ("quantity", "species", "prefactor_unit", "model", "ci_method", "reason"):
        table[col] = table[col].astype("string")
    return table


# replica pooling of plotted points and the few-temperature flag (used by the figures
# and the campaign comparison)


def pool_log10(points: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per ``keys`` group: ``log10_mean``, ``log10_se`` and ``n`` (replicas) of ``y``.

    ``points`` has columns ``y`` > 0 and ``y_err`` (as from ``diffusivity_points``).
    The error is the standard error of the mean of log10 y for n >= 2, else the
    propagated ``y_err/(y ln 10)`` (NaN if unknown).
    """
    cols = [*keys, "log10_mean", "log10_se", "n"]
    if points.empty:
        return pd.DataFrame(columns=cols)
    df = points.assign(
        _l=np.log10(points["y"].to_numpy(dtype=float)),
        _e=points["y_err"].to_numpy(dtype=float) / (points["y"].to_numpy(dtype=float) * np.log(10)),
    )
    g = df.groupby(keys, sort=True)
    out = g.agg(log10_mean=("_l", "mean"), _sd=("_l", "std"), n=("_l", "size"), _e=("_e", "mean"))
    out["log10_se"] = np.where(out["n"] >= 2, out["_sd"] / np.sqrt(out["n"]), out["_e"])
    return out.reset_index()[cols]


#: An Arrhenius line through fewer distinct temperatures than this is flagged.
MIN_FIT_TEMPERATURES = 3


def flag_few_temperatures(
    arrhenius_df: pd.DataFrame, min_temperatures: int = MIN_FIT_TEMPERATURES
) -> pd.DataFrame:
    """Copy of an Arrhenius table with a bool column ``few_temperatures``.

    True when a fit exists (finite ``E_A_eV``, when that column is present) and used
    fewer than ``min_temperatures`` distinct temperatures (column ``n_temperatures``;
    ``n_points`` when that column is absent): two temperatures always give an exact
    line, so its E_A carries no check of the Arrhenius form. Rows without a fit are False
    (their ``reason`` says why).
    """
    col = "n_temperatures" if "n_temperatures" in arrhenius_df.columns else "n_points"
    if col not in arrhenius_df.columns:
        raise KeyError("Arrhenius table needs a 'n_temperatures' or 'n_points' column")
    n = pd.to_numeric(arrhenius_df[col], errors="coerce").astype("Float64")
    few = (n < min_temperatures).fillna(False).to_numpy(dtype=bool)
    if "E_A_eV" in arrhenius_df.columns:
        e = pd.to_numeric(arrhenius_df["E_A_eV"], errors="coerce").astype("Float64")
        few &= np.isfinite(e.to_numpy(dtype=float, na_value=np.nan))
    return arrhenius_df.assign(few_temperatures=few)
