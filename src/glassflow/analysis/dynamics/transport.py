"""Transport coefficients from dynamics curves: Einstein and Green-Kubo D, conductivity.

Equations refer to docs/physics.md §4: eq 2 (MSD), eq 3 (Green-Kubo D), eq 4 (Einstein
D), eq 5 (collective conductivity with cross terms), eq 8 (Nernst-Einstein), eq 13
(non-Gaussian parameter), Haven ratio ``H_R = sigma_NE / sigma``. The method is
described for users in docs/transport.md.

Einstein D (:func:`fit_einstein`): the all-origin MSD of one or more replicas is fitted
with ``MSD = 6 D t + c`` by generalised least squares, with the covariance between
lags of :mod:`glassflow.analysis.dynamics.msd_covariance` (eqs C1-C3 there), over the window

- start: the earliest lag ``>= min_fit_time_ps`` from which the local log-log slope
  stays within ``1 +- slope_tolerance`` (:func:`fit_start_time`), i.e. after the
  ballistic and cage regimes;
- end: ``max_lag_fraction`` x the run (default half of it), so the whole trajectory
  informs D (the information saturates by then, docs/transport.md).

Replicas are stacked (their GLS information adds); the interval is the pivot interval
of :func:`pivot_interval`. The fit runs in four steps, each its own function: the
window (:func:`fit_window`), the covariance model of the MSD (:func:`msd_variance_model`,
with its amplitudes from :func:`variance_amplitudes`), the replica test
(:func:`replica_consistency`) and the log-log slope test (:func:`loglog_slope`,
:func:`slope_verdict`). "Not diffusive" only when the data show it, with a reason and
the longest lag reached: the run is too short, the MSD at the longest lag is below
``min_msd_A2`` (caged), the fitted D <= 0, or the log-log slope over the window is
outside ``1 +- slope_tolerance`` at ``ci_level``. Never a fitted number without a
diffusive regime.

Conductivity (:func:`conductivity_estimate`): sigma_NE from the diffusive species' D,
the collective sigma from the same GLS fit of the charge-displacement MSD (one
Gaussian "particle"), H_R with relative errors in quadrature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats
from threadpoolctl import threadpool_limits

from glassflow.analysis.dynamics.msd_covariance import (
    GLSTerms,
    cached_covariance_basis,
    gaussian_v2,
    gls_terms,
    profile_variance_terms,
)

FloatArray = npt.NDArray[np.float64]

#: 1 Å^2/ps in cm^2/s
A2_PS_TO_CM2_S = 1.0e-4
#: 1 Å^3 in cm^3
A3_TO_CM3 = 1.0e-24
#: elementary charge, C (exact, SI 2019)
ELEMENTARY_CHARGE_C = 1.602176634e-19
#: Boltzmann constant, J/K (exact, SI 2019)
BOLTZMANN_J_K = 1.380649e-23
#: Boltzmann constant, kcal/mol/K (LAMMPS units real)
BOLTZMANN_KCAL_MOL_K = 0.0019872043
#: 1 g/mol (Å/ps)^2 in kcal/mol
AMU_A2_PS2_TO_KCAL_MOL = 1.0e-3 * 1.0e4 / 4184.0


def a2ps_to_cm2s(d_a2_ps: float | FloatArray) -> float | FloatArray:
    """Diffusivity Å^2/ps -> cm^2/s (1 Å^2/ps = 1e-4 cm^2/s, physics.md §4)."""
    return d_a2_ps * A2_PS_TO_CM2_S


def conductivity_prefactor_S_cm(volume_A3: float, temperature_K: float) -> float:
    """``e^2 / (V kB T)`` in S/cm per (e^2 cm^2/s): multiply by sum N z^2 D[cm^2/s]."""
    return ELEMENTARY_CHARGE_C**2 / (volume_A3 * A3_TO_CM3 * BOLTZMANN_J_K * temperature_K)


def nernst_einstein_conductivity(
    n_atoms: npt.ArrayLike,
    charges_e: npt.ArrayLike,
    d_a2_ps: npt.ArrayLike,
    volume_A3: float,
    temperature_K: float,
) -> float:
    """sigma_NE = sum_k N_k z_k^2 e^2 D_k / (V kB T) (eq 8), S/cm; D_k in Å^2/ps."""
    n = np.asarray(n_atoms, dtype=np.float64)
    z = np.asarray(charges_e, dtype=np.float64)
    d = np.asarray(d_a2_ps, dtype=np.float64) * A2_PS_TO_CM2_S
    return float(np.sum(n * z * z * d) * conductivity_prefactor_S_cm(volume_A3, temperature_K))


def collective_conductivity(
    charge_slope_e2A2_ps: float, volume_A3: float, temperature_K: float
) -> float:
    """sigma = e^2/(6 V kB T) d<|sum_i z_i dr_i|^2>/dt (eq 5), S/cm; slope in e^2 Å^2/ps."""
    return float(
        charge_slope_e2A2_ps
        / 6.0
        * A2_PS_TO_CM2_S
        * conductivity_prefactor_S_cm(volume_A3, temperature_K)
    )


def haven_ratio(
    sigma_ne: float, sigma: float, sigma_ne_err: float = 0.0, sigma_err: float = 0.0
) -> tuple[float, float]:
    """H_R = sigma_NE / sigma and its error (relative errors added in quadrature)."""
    if not (np.isfinite(sigma_ne) and np.isfinite(sigma)) or sigma == 0:
        return float("nan"), float("nan")
    h = sigma_ne / sigma
    rel = np.hypot(sigma_ne_err / sigma_ne if sigma_ne else 0.0, sigma_err / sigma)
    return float(h), float(abs(h) * rel)


# --------------------------------------------------------------------------------------
# Einstein fit on the whole trajectory: GLS with the MSD covariance model
# --------------------------------------------------------------------------------------
def linear_slope(t: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Ordinary least-squares slope of y = a t + c."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    tc = t - t.mean()
    return float(np.dot(tc, y - y.mean()) / np.dot(tc, tc))


def block_standard_error(values: npt.ArrayLike) -> float:
    """Student-t inflated standard error of the mean of independent block estimates.

    ``t_{0.975, n-1}/1.96 * std(ddof=1)/sqrt(n)``: ``mean +- 1.96 err`` is a 95 % interval
    (used for the Green-Kubo D, eq 3, over independent time blocks).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan")
    factor = stats.t.ppf(0.975, v.size - 1) / stats.norm.ppf(0.975)
    return float(factor * np.std(v, ddof=1) / np.sqrt(v.size))


def local_loglog_slope(t: npt.ArrayLike, msd: npt.ArrayLike, ratio: float = 2.0) -> FloatArray:
    """``d ln MSD / d ln t`` at each ``t``, as a finite difference over ``[t/sqrt(r), t sqrt(r)]``.

    The curve is interpolated linearly in log-log; ``ratio`` (r > 1) smooths the noise
    of long lags. NaN where the stencil leaves the data or MSD <= 0.
    """
    tt = np.asarray(t, dtype=np.float64)
    y = np.asarray(msd, dtype=np.float64)
    ok = (tt > 0) & np.isfinite(y) & (y > 0)
    out = np.full(tt.shape, np.nan)
    if ok.sum() < 2:
        return out
    lt, ly = np.log(tt[ok]), np.log(y[ok])
    h = 0.5 * np.log(ratio)
    inside = ok & (np.log(np.where(tt > 0, tt, 1.0)) - h >= lt[0] - 1e-12)
    inside &= np.log(np.where(tt > 0, tt, 1.0)) + h <= lt[-1] + 1e-12
    x = np.log(tt[inside])
    out[inside] = (np.interp(x + h, lt, ly) - np.interp(x - h, lt, ly)) / (2.0 * h)
    return out


@dataclass(frozen=True)
class FitSettings:
    """Settings of :func:`fit_einstein` (the ``analysis.dynamics`` keys of the same names).

    - ``min_fit_time_ps``: earliest lag of any fit, ps (skips the ballistic part).
    - ``slope_tolerance``: the fit starts where the local log-log slope of the MSD stays
      within this of 1; the data are "not diffusive" only if the fitted log-log slope is
      outside ``1 +- slope_tolerance`` at the ``ci_level`` confidence.
    - ``min_fit_span``: the fit window spans at least ``t_max / t_start >= min_fit_span``.
    - ``min_msd_A2``: cage threshold; an MSD below it at the longest lag is "caged".
    - ``max_lag_fraction``: longest lag fitted, as a fraction of the run length.
    - ``ci_level``: confidence level of the reported intervals.
    """

    min_fit_time_ps: float = 1.0
    slope_tolerance: float = 0.15
    min_fit_span: float = 3.0
    min_msd_A2: float = 1.0
    max_lag_fraction: float = 0.5
    ci_level: float = 0.95

    def __post_init__(self) -> None:
        checks = {
            "min_fit_time_ps": self.min_fit_time_ps >= 0,
            "slope_tolerance": 0 < self.slope_tolerance < 1,
            "min_fit_span": self.min_fit_span >= 1,
            "min_msd_A2": self.min_msd_A2 >= 0,
            "max_lag_fraction": 0 < self.max_lag_fraction <= 1,
            "ci_level": 0 < self.ci_level < 1,
        }
        ranges = {
            "min_fit_time_ps": ">= 0",
            "slope_tolerance": "in (0, 1)",
            "min_fit_span": ">= 1",
            "min_msd_A2": ">= 0",
            "max_lag_fraction": "in (0, 1]",
            "ci_level": "in (0, 1)",
        }
        for key, ok in checks.items():
            if not ok:
                raise ValueError(
                    f"analysis.dynamics.{key}: {getattr(self, key)!r} is not {ranges[key]}"
                )


@dataclass(frozen=True)
class MSDCurve:
    """All-origin MSD of one species in one replica (or the collective charge MSD).

    ``lag_frames``: increasing integer lags; ``msd``: mean over particles and origins
    (Å^2, or e^2 Å^2 for the charge displacement); ``n_particles`` independent
    particles (1 for the collective displacement); ``n_frames`` frames spaced by
    ``dt_ps``.
    """

    lag_frames: npt.NDArray[np.int64]
    msd: FloatArray
    n_particles: float
    n_frames: int
    dt_ps: float

    @property
    def t_ps(self) -> FloatArray:
        return np.asarray(self.lag_frames, dtype=np.float64) * self.dt_ps

    @property
    def run_ps(self) -> float:
        return (self.n_frames - 1) * self.dt_ps


@dataclass(frozen=True)
class DiffusionFit:
    """Result of :func:`fit_einstein`: D (units of MSD/ps / 6; Å^2/ps for atoms).

    ``D_lo, D_hi``: the ``ci_level`` interval; ``D_err``: the GLS standard error.
    ``replica_D/replica_err``: the same fit on each replica alone (same window);
    ``replica_p_value``: chi-square test of the replicas against the pooled D (NaN for
    one replica). ``max_lag_ps``: longest lag reached; ``msd_max_lag``: MSD there.
    """

    diffusive: bool
    reason: str
    max_lag_ps: float
    msd_max_lag: float
    D: float | None = None
    D_err: float | None = None
    D_lo: float | None = None
    D_hi: float | None = None
    intercept: float | None = None
    t_start_ps: float = float("nan")
    t_end_ps: float = float("nan")
    n_lags: int = 0
    loglog_slope: float = float("nan")
    loglog_slope_err: float = float("nan")
    kappa: float = float("nan")
    nugget: float = float("nan")
    replica_D: tuple[float, ...] = ()
    replica_err: tuple[float, ...] = ()
    replica_p_value: float = float("nan")
    n_replicas: int = 0


def pivot_interval(
    d: float | FloatArray, se: float | FloatArray, ci_level: float
) -> tuple[Any, Any]:
    """Interval for D whose standard error is proportional to D itself.

    With the Gaussian covariance (eq C2) ``se = r D`` with r fixed by the lags and the
    run length, so ``(D_hat - D)/(r D)`` is a pivot: the interval is
    ``[D_hat/(1 + z r), D_hat/(1 - z r)]`` (upper bound infinite if ``z r >= 1``). It
    is exact for a Gaussian D_hat, where ``D_hat +- z se`` would undercover.
    """
    z = float(stats.norm.ppf(0.5 + 0.5 * ci_level))
    dd = np.asarray(d, dtype=np.float64)
    zr = z * np.asarray(se, dtype=np.float64) / dd
    with np.errstate(divide="ignore"):
        hi = np.where(zr < 1.0, dd / np.where(zr < 1.0, 1.0 - zr, 1.0), np.inf)
    lo = dd / (1.0 + zr)
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return lo, hi


def pooled_curve(curves: Sequence[MSDCurve]) -> tuple[FloatArray, FloatArray]:
    """``(t_ps, msd)`` averaged over replicas on their common lags.

    Weights ``n_particles x n_origins`` per lag (every particle-origin pair counts once).
    """
    common = curves[0].lag_frames
    for c in curves[1:]:
        common = np.intersect1d(common, c.lag_frames)
    num = np.zeros(common.size)
    den = np.zeros(common.size)
    for c in curves:
        idx = np.searchsorted(c.lag_frames, common)
        w = c.n_particles * (c.n_frames - common).astype(np.float64)
        num += w * c.msd[idx]
        den += w
    return common * curves[0].dt_ps, num / den


def fit_start_time(
    t_ps: FloatArray, msd: FloatArray, settings: FitSettings, t_max_ps: float
) -> tuple[float, bool]:
    """Start of the diffusive fit and whether the local slope test found it.

    The start is the earliest lag ``t >= min_fit_time_ps`` from which the local log-log
    slope (:func:`local_loglog_slope`) stays within ``1 +- slope_tolerance`` over
    ``[t, min(min_fit_span t, t_cap)]``, ``t_cap = t_max / min_fit_span``: the end of the
    ballistic and cage regimes, judged where the MSD is precise (a slope that only
    passes through 1 on its way from 2 down to a cage plateau does not qualify). If no
    lag qualifies the start is ``t_cap`` (the window still spans ``min_fit_span``) and
    ``False`` is returned: the log-log slope test of the fit then decides.
    """
    t_cap = max(settings.min_fit_time_ps, t_max_ps / settings.min_fit_span)
    sel = (t_ps >= settings.min_fit_time_ps) & (t_ps <= t_cap)
    if not np.any(sel):
        return t_cap, False
    slope = local_loglog_slope(t_ps, msd)[sel]
    ts = t_ps[sel]
    bad = ~(np.abs(slope - 1.0) <= settings.slope_tolerance)
    n_bad = np.concatenate(([0], np.cumsum(bad)))
    end = np.searchsorted(ts, np.minimum(ts * settings.min_fit_span, t_cap), side="right")
    ok = n_bad[end] - n_bad[np.arange(ts.size)] == 0
    if not np.any(ok):
        return t_cap, False
    return float(ts[np.argmax(ok)]), True


#: most lags of one replica in a GLS fit: beyond a few hundred the information no longer
#: grows (docs/transport.md) while the cost grows as n^3; denser curves are thinned evenly
MAX_FIT_LAGS = 300


def _thinned(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """``mask`` with at most :data:`MAX_FIT_LAGS` evenly chosen True entries."""
    idx = np.flatnonzero(mask)
    if idx.size <= MAX_FIT_LAGS:
        return mask
    keep = idx[np.unique(np.rint(np.linspace(0, idx.size - 1, MAX_FIT_LAGS)).astype(int))]
    out = np.zeros_like(mask)
    out[keep] = True
    return out


def _not_diffusive(reason: str, max_lag: float, msd_max: float, **kw: Any) -> DiffusionFit:
    return DiffusionFit(False, reason, max_lag, msd_max, **kw)


@dataclass(frozen=True)
class FitWindow:
    """Lags of an Einstein fit (docs/transport.md, "The fit window").

    - ``t_end_ps``: longest fitted lag, ps: the last lag of the replica-pooled curve
      within ``max_lag_fraction`` x the shortest run (0 when there is none).
    - ``msd_end``: pooled MSD at ``t_end_ps`` (Å^2; NaN when there is no lag).
    - ``t_start_ps``: first fitted lag, ps (given, or :func:`fit_start_time`), at least
      ``min_fit_time_ps``; ``start_found``: whether the local slope test found it.
    - ``masks``: per replica, (n_lags_r,) bool over its ``lag_frames``: the lags in
      ``[t_start, t_end]``, thinned evenly to at most :data:`MAX_FIT_LAGS`.
    - ``n_lags``: fewest fitted lags of any replica.
    - ``pooled_t_ps``, ``pooled_msd``: (n,) float, ps and Å^2: the pooled curve
      (:func:`pooled_curve`) on ``[t_start, t_end]``, for the starting D.
    - ``msd_start``: pooled MSD at ``t_start_ps`` (linear interpolation), Å^2: the
      scale of the variance-amplitude grids (:func:`variance_amplitudes`).
    """

    t_start_ps: float
    t_end_ps: float
    msd_end: float
    start_found: bool
    masks: tuple[npt.NDArray[np.bool_], ...]
    n_lags: int
    pooled_t_ps: FloatArray
    pooled_msd: FloatArray
    msd_start: float


def fit_window(
    curves: Sequence[MSDCurve], settings: FitSettings, t_start_ps: float | None = None
) -> FitWindow:
    """Fit window of the Einstein fit (eq 4) of one or more replicas' MSD (eq 2).

    The end is the longest lag within ``max_lag_fraction`` of the shortest run; the
    start is ``t_start_ps`` if given, else :func:`fit_start_time` on the
    replica-pooled curve (the end of the ballistic and cage regimes), and never
    before ``min_fit_time_ps`` (docs/transport.md, "The fit window").

    Parameters
    ----------
    curves : sequence of MSDCurve
        One per replica: lags (int frames), MSD (Å^2, or e^2 Å^2 for the charge
        displacement), equal frame intervals ``dt_ps`` (ps).
    settings : FitSettings
        ``max_lag_fraction``, ``min_fit_time_ps``, ``slope_tolerance``,
        ``min_fit_span``.
    t_start_ps : float, optional
        Imposed start, ps (e.g. the start of the species that dominates sigma_NE).

    Returns
    -------
    FitWindow
        Start, end and the fitted lags of every replica.
    """
    t_max = settings.max_lag_fraction * min(c.run_ps for c in curves)
    t_pool, m_pool = pooled_curve(curves)
    reach = t_pool <= t_max * (1 + 1e-9)
    max_lag = float(t_pool[reach][-1]) if np.any(reach) else 0.0
    msd_max = float(m_pool[reach][-1]) if np.any(reach) else float("nan")
    found = True
    if t_start_ps is None:
        t_start_ps, found = fit_start_time(t_pool[reach], m_pool[reach], settings, max_lag)
    t0 = max(float(t_start_ps), settings.min_fit_time_ps)
    masks = tuple(
        _thinned((c.t_ps >= t0 * (1 - 1e-9)) & (c.t_ps <= max_lag * (1 + 1e-9))) for c in curves
    )
    sel_pool = (t_pool >= t0 * (1 - 1e-9)) & reach
    return FitWindow(
        t_start_ps=t0,
        t_end_ps=max_lag,
        msd_end=msd_max,
        start_found=found,
        masks=masks,
        n_lags=min(int(w.sum()) for w in masks),
        pooled_t_ps=t_pool[sel_pool],
        pooled_msd=m_pool[sel_pool],
        msd_start=float(np.interp(t0, t_pool, m_pool)) if t_pool.size else float("nan"),
    )


@dataclass(frozen=True)
class MSDVarianceModel:
    """Covariance of one replica's MSD on its fitted lags (docs/transport.md, eqs C1-C3).

    ``Cov(m_i, m_j) = (2/3)(6 D)^2 A_ij + 6 D (a2 B_ij + eta delta_ij nugget_i)`` with

    - ``gaussian``: (n, n) float, ps^2: ``A`` of eq C3 for ``V(o) = o^2`` divided by N,
    - ``jump``: (n, n) float, ps: ``B`` of eq C3 for ``V(o) = o`` divided by N (the
      non-Gaussian term ``kappa o`` of eq C2, ``kappa = 6 D a2``, a2 in Å^2),
    - ``nugget``: (n,) float, dimensionless: ``t_i / (N S_i)``, the per-lag term
      (``eta`` in ps, docs/transport.md, "Terms estimated from the data"),

    ``S_i = n_frames dt - t_i`` the origin range and N the number of particles.
    """

    gaussian: FloatArray
    jump: FloatArray
    nugget: FloatArray

    def covariance(self, d: float, jump2: float, eta: float) -> FloatArray:
        """(n, n) covariance of the MSD, Å^4, for D (Å^2/ps), a2 = ``jump2`` (Å^2) and
        ``eta`` (ps)."""
        return gaussian_v2(d) * self.gaussian + 6.0 * d * (
            jump2 * self.jump + eta * np.diag(self.nugget)
        )


def msd_variance_model(curve: MSDCurve, mask: npt.NDArray[np.bool_]) -> MSDVarianceModel:
    """The covariance model (eqs C2-C3 and the per-lag term) of one replica's MSD.

    Parameters
    ----------
    curve : MSDCurve
        The replica's MSD: lags (int frames), ``n_particles`` independent particles,
        ``n_frames`` frames ``dt_ps`` (ps) apart.
    mask : (n_lags_curve,) bool
        The fitted lags (:attr:`FitWindow.masks`).

    Returns
    -------
    MSDVarianceModel
        ``gaussian`` (n, n) ps^2, ``jump`` (n, n) ps, ``nugget`` (n,) on the n fitted lags.
    """
    dt = curve.dt_ps
    a1, b1 = cached_covariance_basis(curve.lag_frames[mask], curve.n_frames, dt)
    t = curve.t_ps[mask]
    return MSDVarianceModel(
        gaussian=a1 / curve.n_particles,
        jump=b1 / curve.n_particles,
        nugget=t / (curve.n_particles * (curve.n_frames * dt - t)),
    )


def variance_amplitudes(
    designs: Sequence[FloatArray],
    msds: Sequence[FloatArray],
    models: Sequence[MSDVarianceModel],
    d: float,
    msd_start: float,
    dt_ps: float,
) -> tuple[float, float]:
    """Maximum-likelihood non-Gaussian and per-lag amplitudes of the MSD covariance.

    ``kappa = 6 D a2`` (eq C2) and ``eta`` (docs/transport.md, "Terms estimated from
    the data") from the Gaussian likelihood of the MSD data at the diffusivity ``d``,
    D and the intercept profiled out, on the grids ``a2 in {0} u msd_start x
    [1e-2, 3]`` (7 values) and ``eta in {0} u msd_start dt x [1e-5, 1e2]`` (29 values);
    each amplitude is kept only if it lowers ``-2 ln L`` by more than 2 (Akaike).

    Parameters
    ----------
    designs : sequence of (n_r, 2) float
        Per replica ``[6 t, 1]``, t in ps.
    msds : sequence of (n_r,) float
        Per replica the fitted MSD values, Å^2.
    models : sequence of MSDVarianceModel
        Per replica the covariance model (:func:`msd_variance_model`).
    d : float
        Diffusivity at which the covariance is evaluated, Å^2/ps.
    msd_start : float
        MSD at the start of the fit, Å^2 (sets the grid scales).
    dt_ps : float
        Frame interval, ps.

    Returns
    -------
    jump2 : float
        a2, Å^2 (``kappa = 6 d a2``); 0 when the data do not ask for it.
    eta : float
        Per-lag amplitude, ps; 0 when the data do not ask for it.
    """
    jump2, eta, _ = profile_variance_terms(
        list(designs),
        list(msds),
        [gaussian_v2(d) * m.gaussian for m in models],
        [6.0 * d * m.jump for m in models],
        [6.0 * d * m.nugget for m in models],
        (0.0, *(msd_start * np.geomspace(1e-2, 3.0, 7))),
        (0.0, *(msd_start * dt_ps * np.geomspace(1e-5, 1e2, 29))),
    )
    return jump2, eta


def _gls(
    designs: Sequence[FloatArray], msds: Sequence[FloatArray], covs: Sequence[FloatArray]
) -> list[GLSTerms]:
    return [gls_terms(x, y, m) for x, y, m in zip(designs, msds, covs, strict=True)]


def replica_consistency(
    terms: Sequence[GLSTerms], d_pooled: float
) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """Each replica's own GLS D and the chi-square test of the replicas against the pool.

    ``chi2 = sum_r (D_r - D)^2 / se_r^2`` with R - 1 degrees of freedom
    (docs/transport.md, "Replica pooling"): a small p-value says the replicas disagree
    more than their errors allow.

    Parameters
    ----------
    terms : sequence of GLSTerms
        Per replica the information form of its GLS fit of ``MSD = 6 D t + c``
        (same window and covariance model as the pooled fit).
    d_pooled : float
        The pooled D (same unit as the replicas' D, e.g. Å^2/ps).

    Returns
    -------
    replica_d : tuple of R float
        Each replica's D.
    replica_err : tuple of R float
        Its GLS standard error.
    p_value : float
        ``P(chi2_{R-1} >= chi2)``; NaN for one replica.
    """
    rep_d, rep_e = [], []
    for t in terms:
        b_r, c_r = t.solve()
        rep_d.append(float(b_r[0]))
        rep_e.append(float(np.sqrt(c_r[0, 0])))
    p_rep = float("nan")
    if len(terms) >= 2:
        chi2 = float(np.sum(((np.asarray(rep_d) - d_pooled) / np.asarray(rep_e)) ** 2))
        p_rep = float(stats.chi2.sf(chi2, len(terms) - 1))
    return tuple(rep_d), tuple(rep_e), p_rep


def loglog_slope(
    t_ps: Sequence[FloatArray],
    msds: Sequence[FloatArray],
    covs: Sequence[FloatArray],
    d: float,
    intercept: float,
) -> tuple[float, float]:
    """GLS slope of ``ln MSD`` against ``ln t`` over the fit window, and its error.

    The MSD covariance is propagated to ``ln MSD`` to first order,
    ``Cov(ln m_i, ln m_j) = Cov(m_i, m_j) / (m_i m_j)`` with ``m`` the fitted line
    ``6 D t + c`` (the data where the line is not positive); replicas with a
    non-positive MSD are left out (docs/transport.md, "Not diffusive", item 4).

    Parameters
    ----------
    t_ps : sequence of (n_r,) float
        Per replica the fitted lags, ps (> 0).
    msds : sequence of (n_r,) float
        Per replica the MSD at those lags, Å^2.
    covs : sequence of (n_r, n_r) float
        Per replica the MSD covariance, Å^4 (:meth:`MSDVarianceModel.covariance`).
    d : float
        Fitted D, Å^2/ps.
    intercept : float
        Fitted intercept c, Å^2.

    Returns
    -------
    slope : float
        ``d ln MSD / d ln t`` (1 for diffusion); NaN if no replica qualifies.
    slope_err : float
        Its GLS standard error; NaN if no replica qualifies.
    """
    lterms: list[GLSTerms] = []
    for t, m, cv in zip(t_ps, msds, covs, strict=True):
        model = 6.0 * d * t + intercept
        ref = np.where(model > 0, model, m)
        if np.any(ref <= 0):
            continue
        xl = np.column_stack([np.log(t), np.ones(t.size)])
        lterms.append(gls_terms(xl, np.log(np.clip(m, 1e-300, None)), cv / np.outer(ref, ref)))
    if not lterms:
        return float("nan"), float("nan")
    lb, lc = sum(lterms[1:], lterms[0]).solve()
    return float(lb[0]), float(np.sqrt(lc[0, 0]))


def slope_verdict(slope: float, slope_err: float, settings: FitSettings) -> str:
    """Whether a log-log MSD slope excludes diffusion (docs/transport.md, "Not diffusive").

    The slope is inconsistent with diffusion (slope 1, eq 4) when its ``ci_level``
    interval ``slope +- z err`` lies entirely outside ``1 +- slope_tolerance``.

    Parameters
    ----------
    slope : float
        ``d ln MSD / d ln t`` over the fit window (dimensionless).
    slope_err : float
        Its standard error.
    settings : FitSettings
        ``slope_tolerance`` and ``ci_level``.

    Returns
    -------
    str
        ``"sub-diffusive"`` or ``"super-diffusive"``, or ``""`` when the slope is
        consistent with 1 or not finite.
    """
    z = float(stats.norm.ppf(0.5 + 0.5 * settings.ci_level))
    band = (1.0 - settings.slope_tolerance, 1.0 + settings.slope_tolerance)
    if np.isfinite(slope) and (slope + z * slope_err < band[0] or slope - z * slope_err > band[1]):
        return "sub-diffusive" if slope < 1 else "super-diffusive"
    return ""


def fit_einstein(
    curves: Sequence[MSDCurve],
    settings: FitSettings | None = None,
    *,
    t_start_ps: float | None = None,
    cage_test: bool = True,
) -> DiffusionFit:
    """Einstein D (eq 4) from the MSD of one or more replicas, by GLS (module doc).

    Fit window ``[t_start, t_max]`` (:func:`fit_window`): ``t_max = max_lag_fraction x``
    the shortest run; ``t_start`` from :func:`fit_start_time` on the replica-pooled
    curve unless given. Model ``MSD = 6 D t + c`` with the covariance of
    :func:`msd_variance_model` (eq C3 with ``V(o) = (2/3)(6 D o)^2 + kappa o``, eq C2,
    plus a per-lag term ``eta``): D enters through the Gaussian term and is iterated;
    ``kappa`` and ``eta`` are maximum-likelihood amplitudes from the MSD data
    (:func:`variance_amplitudes`). Replicas are stacked (their information adds);
    :func:`replica_consistency` tests them against the pooled D. "Not diffusive" only
    when the data show it: MSD below ``min_msd_A2`` at the longest lag
    (``cage_test``), a fitted D <= 0, or a log-log slope over the window
    (:func:`loglog_slope`) outside ``1 +- slope_tolerance`` at the ``ci_level``
    confidence (:func:`slope_verdict`).
    """
    with threadpool_limits(1):  # small matrices: BLAS threads would only contend
        return _fit_einstein(curves, settings, t_start_ps=t_start_ps, cage_test=cage_test)


def _fit_einstein(
    curves: Sequence[MSDCurve],
    settings: FitSettings | None = None,
    *,
    t_start_ps: float | None = None,
    cage_test: bool = True,
) -> DiffusionFit:
    s = settings or FitSettings()
    if not curves:
        raise ValueError("fit_einstein needs at least one MSD curve")
    dt = curves[0].dt_ps
    if any(abs(c.dt_ps - dt) > 1e-9 * dt for c in curves):
        raise ValueError("replicas have different frame intervals; pool only equal runs")
    win = fit_window(curves, s, t_start_ps)
    max_lag, msd_max = win.t_end_ps, win.msd_end
    base: dict[str, Any] = {"n_replicas": len(curves)}
    if max_lag <= s.min_fit_time_ps:
        return _not_diffusive(
            f"too short: longest lag {max_lag:.4g} ps (max_lag_fraction {s.max_lag_fraction:g} "
            f"of the run) <= min_fit_time_ps {s.min_fit_time_ps:g}",
            max_lag,
            msd_max,
            **base,
        )
    if cage_test and not msd_max >= s.min_msd_A2:
        return _not_diffusive(
            f"caged: MSD {msd_max:.3g} A^2 at the longest lag {max_lag:.4g} ps < min_msd_A2 "
            f"{s.min_msd_A2:g} A^2",
            max_lag,
            msd_max,
            **base,
        )
    t0 = win.t_start_ps
    win_txt = f"{t0:.4g}-{max_lag:.4g} ps"
    grows_not = f"MSD does not grow: fitted D <= 0 over {win_txt}; longest lag {max_lag:.4g} ps"
    base |= {"t_start_ps": t0, "t_end_ps": max_lag, "n_lags": win.n_lags}
    if win.n_lags < 3:
        return _not_diffusive(
            f"fewer than 3 lags in the fit window {win_txt}", max_lag, msd_max, **base
        )
    d = linear_slope(win.pooled_t_ps, win.pooled_msd) / 6.0
    if not d > 0:
        return _not_diffusive(grows_not, max_lag, msd_max, **base)
    designs = [
        np.column_stack([6.0 * c.t_ps[w], np.ones(int(w.sum()))])
        for c, w in zip(curves, win.masks, strict=True)
    ]
    models = [msd_variance_model(c, w) for c, w in zip(curves, win.masks, strict=True)]
    ys = [c.msd[w] for c, w in zip(curves, win.masks, strict=True)]
    # the GLS D depends on D itself only through kappa/D and eta, fixed at the OLS D:
    # two GLS passes converge
    jump2, eta = variance_amplitudes(designs, ys, models, d, win.msd_start, dt)
    for _ in range(2):
        terms = _gls(designs, ys, [m.covariance(d, jump2, eta) for m in models])
        d = float(sum(terms[1:], terms[0]).solve()[0][0])
        if not d > 0:
            break
    if not d > 0:
        return _not_diffusive(grows_not, max_lag, msd_max, **base)
    covs = [m.covariance(d, jump2, eta) for m in models]
    terms = _gls(designs, ys, covs)
    base["kappa"] = 6.0 * d * jump2
    base["nugget"] = eta
    beta, cov = sum(terms[1:], terms[0]).solve()
    se = float(np.sqrt(cov[0, 0]))
    lo, hi = pivot_interval(float(beta[0]), se, s.ci_level)
    rep_d, rep_e, p_rep = replica_consistency(terms, beta[0])
    slope, slope_err = loglog_slope(
        [c.t_ps[w] for c, w in zip(curves, win.masks, strict=True)], ys, covs, beta[0], beta[1]
    )
    kind = slope_verdict(slope, slope_err, s)
    if kind:
        return _not_diffusive(
            f"{kind}: log-log MSD slope {slope:.3f} +- {slope_err:.3f} over {win_txt} is outside "
            f"1 +- slope_tolerance {s.slope_tolerance:g} at {100 * s.ci_level:g} %; "
            f"longest lag {max_lag:.4g} ps",
            max_lag,
            msd_max,
            **base,
            loglog_slope=slope,
            loglog_slope_err=slope_err,
        )
    fit = {
        "D": float(beta[0]),
        "D_err": se,
        "D_lo": lo,
        "D_hi": hi,
        "intercept": float(beta[1]),
        "loglog_slope": slope,
        "loglog_slope_err": slope_err,
        "replica_D": rep_d,
        "replica_err": rep_e,
        "replica_p_value": p_rep,
    }
    note = "" if win.start_found else f"slope ~ 1 not reached before {t0:.4g} ps; fitted {win_txt}"
    return DiffusionFit(True, note, max_lag, msd_max, **(base | fit))


# --------------------------------------------------------------------------------------
# Green-Kubo
# --------------------------------------------------------------------------------------
def running_integral(t_ps: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
    """Cumulative trapezoid integral starting at 0."""
    t = np.asarray(t_ps, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = np.zeros_like(y)
    out[1:] = np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(t))
    return out


VACF_MIN_FIRST_LAG_RATIO = 0.5


def vacf_resolved(vacf_A2_ps2: npt.ArrayLike, min_ratio: float = VACF_MIN_FIRST_LAG_RATIO) -> bool:
    """True when the frame interval resolves the VACF's first decay.

    The Green-Kubo integral (eq 3) on a grid coarser than the collision time is
    meaningless: we require ``VACF(dt) / VACF(0) >= min_ratio`` (default 0.5), i.e. the
    velocities must be stored at least about every 10 fs for Na-Si-S melts.
    """
    v = np.asarray(vacf_A2_ps2, dtype=np.float64)
    return bool(v.size >= 2 and v[0] > 0 and v[1] / v[0] >= min_ratio)


def green_kubo_diffusion(
    t_ps: npt.ArrayLike, vacf_A2_ps2: npt.ArrayLike, window_ps: tuple[float, float] = (2.0, 5.0)
) -> tuple[float, tuple[float, float] | None]:
    """D = 1/3 int_0^t <v(0).v(t')> dt' averaged over ``window_ps`` (eq 3), Å^2/ps.

    The window is clipped to the data; returns ``(D, used_window)`` or ``(nan, None)`` when
    fewer than 2 points remain.
    """
    t = np.asarray(t_ps, dtype=np.float64)
    run = running_integral(t, vacf_A2_ps2) / 3.0
    lo, hi = window_ps[0], min(window_ps[1], float(t[-1]) if t.size else 0.0)
    sel = (t >= lo) & (t <= hi)
    if sel.sum() < 2:
        return float("nan"), None
    return float(np.mean(run[sel])), (float(t[sel][0]), float(t[sel][-1]))


# --------------------------------------------------------------------------------------
# conductivity: Nernst-Einstein from the Einstein fits, collective from the charge MSD
# --------------------------------------------------------------------------------------
def reference_volume_A3(volumes_A3: npt.ArrayLike) -> float:
    """Cell volume at which replica-pooled conductivities are evaluated.

    The harmonic mean ``V_ref = R / sum_i (1 / V_i)`` of the R replicas' volumes.
    sigma (eq 5) and sigma_NE (eq 8) are both proportional to 1/V, so the replica
    mean of either is ``(...)/V_ref``: with this volume, independent ions with the
    same D in every replica give sigma = sigma_NE (``H_R = 1``) however the volumes
    differ (docs/transport.md, "Conductivity and Haven ratio").

    Parameters
    ----------
    volumes_A3 : (n_replicas,) float
        Cell volume of each replica, Å^3, all > 0.

    Returns
    -------
    float
        ``V_ref``, Å^3 (equal to the common volume when all are equal).
    """
    v = np.asarray(volumes_A3, dtype=np.float64)
    if v.size == 0 or not np.all(v > 0):
        raise ValueError(f"cell volumes must be > 0, got {v}")
    if np.all(v == v[0]):
        return float(v[0])  # exactly, not to within rounding
    return float(v.size / np.sum(1.0 / v))


def charge_msd_at_volume(
    msd_e2A2: npt.ArrayLike, volume_A3: float, reference_A3: float
) -> FloatArray:
    """Collective charge MSD of a cell of volume V rescaled to the volume ``V_ref``.

    sigma = e^2/(6 V kB T) d<|sum_i z_i dr_i|^2>/dt (eq 5) is proportional to MSD/V,
    so the MSD that gives the same sigma in a cell of volume ``V_ref`` is
    ``MSD x V_ref / V``. Replicas rescaled this way can be stacked and fitted with one
    slope, and :func:`collective_conductivity` evaluated at ``V_ref``.

    Parameters
    ----------
    msd_e2A2 : (n_lags,) float
        Charge MSD ``<|sum_i z_i dr_i(t)|^2>`` of one replica, e^2 Å^2.
    volume_A3 : float
        Volume of that replica's cell, Å^3.
    reference_A3 : float
        Reference volume ``V_ref`` (:func:`reference_volume_A3`), Å^3.

    Returns
    -------
    (n_lags,) float
        Rescaled charge MSD, e^2 Å^2.
    """
    return np.asarray(msd_e2A2, dtype=np.float64) * (reference_A3 / volume_A3)


@dataclass(frozen=True)
class ConductivityEstimate:
    """Run-level (or replica-pooled) conductivities, S/cm, and the Haven ratio.

    ``sigma_ne`` (eq 8) sums the diffusive species (``ne_species``); ``sigma`` (eq 5)
    is the GLS fit of the collective charge MSD (centre-of-mass drift removed) from the
    fit start of the species that dominates sigma_NE to the longest lag; ``*_lo/_hi``
    are ``ci_level`` intervals; ``haven_*``: ``H_R = sigma_NE / sigma`` with relative
    errors added in quadrature (interval log-symmetric). ``None`` where not defined,
    with ``reason``.
    """

    reason: str
    ne_species: str = ""
    sigma_ne: float | None = None
    sigma_ne_err: float | None = None
    sigma: float | None = None
    sigma_err: float | None = None
    sigma_lo: float | None = None
    sigma_hi: float | None = None
    haven: float | None = None
    haven_err: float | None = None
    haven_lo: float | None = None
    haven_hi: float | None = None


def conductivity_estimate(
    fits: dict[str, DiffusionFit],
    n_atoms: dict[str, float],
    charges_e: dict[str, float],
    charge_curves: Sequence[MSDCurve],
    volumes_A3: Sequence[float],
    temperature_K: float,
    settings: FitSettings | None = None,
) -> ConductivityEstimate:
    """sigma_NE (eq 8), collective sigma (eq 5) and H_R from fits of one (set of) run(s).

    ``fits``: Einstein fits per species (Å^2/ps); ``charge_curves``: one collective
    charge MSD (e^2 Å^2) per replica with its cell volume in ``volumes_A3`` (Å^3).
    Each replica's charge MSD is rescaled to the reference volume
    (:func:`charge_msd_at_volume`, ``x V_ref / V_i`` since sigma is proportional to
    MSD/V, eq 5) before the stacked fit; sigma and sigma_NE are evaluated at
    ``V_ref`` (:func:`reference_volume_A3`, the harmonic mean of the volumes).
    """
    s = settings or FitSettings()
    diff = [sp for sp, f in fits.items() if f.diffusive and f.D is not None]
    if not diff:
        return ConductivityEstimate("no species has a diffusive regime: no conductivity")
    vol = reference_volume_A3(volumes_A3)
    n = [n_atoms[sp] for sp in diff]
    z = [charges_e[sp] for sp in diff]
    contrib = [
        nernst_einstein_conductivity([a], [b], [fits[sp].D], vol, temperature_K)
        for a, b, sp in zip(n, z, diff, strict=True)
    ]
    ne = float(np.sum(contrib))
    ne_err = float(
        np.sqrt(
            sum(
                nernst_einstein_conductivity([a], [b], [fits[sp].D_err], vol, temperature_K) ** 2
                for a, b, sp in zip(n, z, diff, strict=True)
            )
        )
    )
    dom = diff[int(np.argmax(contrib))]
    scaled = [
        MSDCurve(
            c.lag_frames, charge_msd_at_volume(c.msd, v, vol), c.n_particles, c.n_frames, c.dt_ps
        )
        for c, v in zip(charge_curves, volumes_A3, strict=True)
    ]
    cf = fit_einstein(scaled, s, t_start_ps=fits[dom].t_start_ps, cage_test=False)
    out = {"ne_species": ",".join(diff), "sigma_ne": ne, "sigma_ne_err": ne_err}
    if not cf.diffusive or cf.D is None:
        return ConductivityEstimate(f"collective charge MSD: {cf.reason}", **out)

    def sig(x: float) -> float:
        return collective_conductivity(6.0 * x, vol, temperature_K)

    sigma, sigma_err = sig(cf.D), sig(cf.D_err)
    h, h_err = haven_ratio(ne, sigma, ne_err, sigma_err)
    zq = float(stats.norm.ppf(0.5 + 0.5 * s.ci_level))
    rel = h_err / h if h else float("nan")
    return ConductivityEstimate(
        f"charge MSD fitted over {cf.t_start_ps:.4g}-{cf.t_end_ps:.4g} ps "
        f"(fit start of {dom}); {cf.reason}".rstrip("; "),
        **out,
        sigma=sigma,
        sigma_err=sigma_err,
        sigma_lo=sig(cf.D_lo),
        sigma_hi=sig(cf.D_hi),
        haven=h,
        haven_err=h_err,
        haven_lo=h * float(np.exp(-zq * rel)),
        haven_hi=h * float(np.exp(zq * rel)),
    )
