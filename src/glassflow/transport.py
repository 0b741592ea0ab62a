"""Transport coefficients from dynamics curves: Einstein and Green-Kubo D, conductivity.

Equations refer to /work/shared/physics.md §4:
eq 3 (Green-Kubo D), eq 4 (Einstein D), eq 5 (collective conductivity with cross terms),
eq 8 (Nernst-Einstein), Haven ratio ``H_R = sigma_NE / sigma``.

Diffusive-regime criteria (:func:`find_diffusive_regime`), all on the log-spaced MSD
curve of one species:

1. usable lags: ``min_fit_time_ps <= t <= max_fit_time_ps`` (the upper bound is half
   an independent time block, so that every block can be fitted over the same window)
   and ``MSD >= min_msd_A2`` (rattling in a cage stays below ~1 Å^2);
2. diffusive lags: usable lags whose local log-log slope ``d ln MSD / d ln t`` is within
   ``slope_tolerance`` of 1 (this excludes the ballistic part, slope 2, and the cage
   plateau, slope ~0);
3. the window is the longest contiguous run of diffusive lags (ties: the later one); it
   must hold at least 3 points and span ``t_max / t_min >= min_fit_span``.

Otherwise there is no diffusive regime: ``diffusive=False``, a ``reason`` string, and no
D (never a fitted number).

Standard errors come from ``n_blocks`` independent, contiguous time blocks of the
trajectory: the same fit on each block's all-origins MSD gives D_b; the error of the
full-trajectory D is ``t_{0.975, n-1} / 1.96 * std(D_b) / sqrt(n)``, i.e. the block
standard error inflated by the Student-t factor so that ``D +- 1.96 err`` is an honest
95 % interval even with only a handful of blocks (correlated MSD points within one run
are never treated as independent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.spatial import cKDTree

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
# diffusive regime and Einstein fit
# --------------------------------------------------------------------------------------
def local_loglog_slope(t: npt.ArrayLike, msd: npt.ArrayLike) -> FloatArray:
    """d ln MSD / d ln t on the (log-spaced) lag grid; NaN where MSD <= 0."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(msd, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.where(y > 0, np.log(y), np.nan)
    if t.size < 2:
        return np.full_like(t, np.nan)
    return np.gradient(ly, np.log(t))


@dataclass(frozen=True)
class DiffusiveWindow:
    """Result of :func:`find_diffusive_regime` (indices into the curve, inclusive)."""

    diffusive: bool
    reason: str
    i_min: int = -1
    i_max: int = -1
    t_min_ps: float = float("nan")
    t_max_ps: float = float("nan")


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of consecutive True values."""
    out, start = [], None
    for i, v in enumerate(mask):
        if v and start is None:
            start = i
        if not v and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


def find_diffusive_regime(
    t_ps: npt.ArrayLike,
    msd_A2: npt.ArrayLike,
    *,
    min_fit_time_ps: float = 1.0,
    max_fit_time_ps: float = np.inf,
    slope_tolerance: float = 0.15,
    min_fit_span: float = 3.0,
    min_msd_A2: float = 1.0,
) -> DiffusiveWindow:
    """Locate the diffusive (slope ~ 1) window of an MSD curve (criteria: module doc)."""
    t = np.asarray(t_ps, dtype=np.float64)
    y = np.asarray(msd_A2, dtype=np.float64)
    slope = local_loglog_slope(t, y)
    in_time = (t >= min_fit_time_ps) & (t <= max_fit_time_ps) & np.isfinite(y)
    if not np.any(in_time):
        return DiffusiveWindow(
            False,
            f"no lag between min_fit_time_ps={min_fit_time_ps:g} and the longest fittable "
            f"lag {max_fit_time_ps:g} ps (trajectory too short)",
        )
    usable = in_time & (y >= min_msd_A2)
    if not np.any(usable):
        return DiffusiveWindow(
            False,
            f"MSD stays below min_msd_A2={min_msd_A2:g} A^2 (max {np.nanmax(y[in_time]):.3g} "
            f"A^2 up to t={t[in_time][-1]:.4g} ps): caged/vibrational, no diffusive regime",
        )
    ok = usable & (np.abs(slope - 1.0) <= slope_tolerance)
    runs = [(a, b) for a, b in _runs(ok) if b - a + 1 >= 3]
    if not runs:
        s = slope[usable]
        return DiffusiveWindow(
            False,
            f"local log-log slope of MSD in [{np.nanmin(s):.2f}, {np.nanmax(s):.2f}] over "
            f"usable lags: never 1 +- {slope_tolerance:g} on >= 3 consecutive lags "
            "(sub-diffusive or ballistic)",
        )
    spans = [t[b] / t[a] for a, b in runs]
    k = max(range(len(runs)), key=lambda i: (spans[i], i))
    a, b = runs[k]
    if spans[k] < min_fit_span:
        return DiffusiveWindow(
            False,
            f"slope~1 window {t[a]:.4g}-{t[b]:.4g} ps spans a factor {spans[k]:.2f} "
            f"< min_fit_span={min_fit_span:g}",
        )
    return DiffusiveWindow(True, "", a, b, float(t[a]), float(t[b]))


def linear_slope(t: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Least-squares slope of y = a t + c."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    tc = t - t.mean()
    return float(np.dot(tc, y - y.mean()) / np.dot(tc, tc))


def block_standard_error(values: npt.ArrayLike) -> float:
    """Student-t inflated standard error of the mean of independent block estimates.

    ``t_{0.975, n-1}/1.96 * std(ddof=1)/sqrt(n)``: ``mean +- 1.96 err`` is a 95 % interval.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan")
    factor = stats.t.ppf(0.975, v.size - 1) / stats.norm.ppf(0.975)
    return float(factor * np.std(v, ddof=1) / np.sqrt(v.size))


@dataclass(frozen=True)
class EinsteinResult:
    """Einstein diffusivity (eq 4) in Å^2/ps with its block error and window."""

    D_A2_ps: float | None
    D_err_A2_ps: float | None
    window: DiffusiveWindow
    block_D_A2_ps: tuple[float, ...] = ()

    @property
    def diffusive(self) -> bool:
        return self.window.diffusive


def fit_in_window(
    t_ps: npt.ArrayLike, msd: npt.ArrayLike, t_min_ps: float, t_max_ps: float
) -> float:
    """Slope of MSD(t) over lags with ``t_min <= t <= t_max`` divided by 6 (eq 4)."""
    t = np.asarray(t_ps, dtype=np.float64)
    y = np.asarray(msd, dtype=np.float64)
    sel = (t >= t_min_ps * (1 - 1e-9)) & (t <= t_max_ps * (1 + 1e-9)) & np.isfinite(y)
    if sel.sum() < 2:
        return float("nan")
    return linear_slope(t[sel], y[sel]) / 6.0


def einstein_diffusion(
    t_ps: npt.ArrayLike,
    msd_A2: npt.ArrayLike,
    block_t_ps: npt.ArrayLike | None = None,
    block_msd_A2: npt.ArrayLike | None = None,
    *,
    min_fit_time_ps: float = 1.0,
    max_fit_time_ps: float = np.inf,
    slope_tolerance: float = 0.15,
    min_fit_span: float = 3.0,
    min_msd_A2: float = 1.0,
) -> EinsteinResult:
    """D = slope/6 of MSD in the diffusive window (eq 4) + block standard error."""
    win = find_diffusive_regime(
        t_ps,
        msd_A2,
        min_fit_time_ps=min_fit_time_ps,
        max_fit_time_ps=max_fit_time_ps,
        slope_tolerance=slope_tolerance,
        min_fit_span=min_fit_span,
        min_msd_A2=min_msd_A2,
    )
    if not win.diffusive:
        return EinsteinResult(None, None, win)
    d = fit_in_window(t_ps, msd_A2, win.t_min_ps, win.t_max_ps)
    blocks: tuple[float, ...] = ()
    err: float | None = None
    if block_msd_A2 is not None and block_t_ps is not None and len(block_msd_A2):
        blocks = tuple(
            fit_in_window(block_t_ps, b, win.t_min_ps, win.t_max_ps) for b in block_msd_A2
        )
        e = block_standard_error(blocks)
        err = e if np.isfinite(e) else None
    return EinsteinResult(d, err, win, blocks)


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
# fast / slow ions (Sorensen 2023 §3.4.3)
# --------------------------------------------------------------------------------------
def fast_slow_partition(
    displacement2_A2: npt.ArrayLike, fraction: float = 0.25
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices (into the given array) of the top and bottom ``fraction`` by displacement."""
    d = np.asarray(displacement2_A2, dtype=np.float64)
    k = max(1, int(round(fraction * d.size)))
    order = np.argsort(d, kind="stable")
    return np.sort(order[-k:]), np.sort(order[:k])


def wrap_positions(pos_A: npt.ArrayLike, box_A: npt.ArrayLike) -> FloatArray:
    """Positions wrapped into [0, L) per axis (for periodic KD-trees)."""
    box = np.asarray(box_A, dtype=np.float64)
    w = np.mod(np.asarray(pos_A, dtype=np.float64), box)
    return np.where(w >= box, w - box, w)


def partial_rdf(
    pos_a: npt.ArrayLike,
    pos_b: npt.ArrayLike,
    box_A: npt.ArrayLike,
    r_max_A: float | None = None,
    dr_A: float = 0.05,
    same: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Partial g_ab(r) at one frame with periodic KD-tree neighbour search.

    ``g(r) = n_ab(r) / (N_a rho_b 4 pi r^2 dr)`` with exact shell volumes; for ``same``
    sets self pairs are excluded and ``rho_b = (N_b - 1)/V``. Returns (r centres Å, g).
    """
    box = np.asarray(box_A, dtype=np.float64)
    r_max = float(np.min(box) / 2.0 if r_max_A is None else r_max_A)
    edges = np.arange(0.0, r_max + 0.5 * dr_A, dr_A)
    a = wrap_positions(pos_a, box)
    b = wrap_positions(pos_b, box)
    ta, tb = cKDTree(a, boxsize=box), cKDTree(b, boxsize=box)
    sdm = ta.sparse_distance_matrix(tb, r_max, output_type="coo_matrix")
    d = sdm.data
    if same:
        d = d[sdm.row != sdm.col]
    counts = np.histogram(d, bins=edges)[0].astype(np.float64)
    nb = b.shape[0] - 1 if same else b.shape[0]
    rho_b = nb / float(np.prod(box))
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = counts / (a.shape[0] * rho_b * shell) if a.shape[0] and nb else np.zeros_like(counts)
    return 0.5 * (edges[1:] + edges[:-1]), g


def neighbours_within(
    centres_A: npt.ArrayLike, others_A: npt.ArrayLike, box_A: npt.ArrayLike, rcut_A: float
) -> npt.NDArray[np.intp]:
    """Unique indices of ``others`` within ``rcut`` of any centre (periodic)."""
    box = np.asarray(box_A, dtype=np.float64)
    t1 = cKDTree(wrap_positions(centres_A, box), boxsize=box)
    t2 = cKDTree(wrap_positions(others_A, box), boxsize=box)
    lists = t1.query_ball_tree(t2, rcut_A)
    flat = [j for li in lists for j in li]
    return np.unique(np.asarray(flat, dtype=np.intp))


def coordination_numbers(
    centres_A: npt.ArrayLike, others_A: npt.ArrayLike, box_A: npt.ArrayLike, rcut_A: float
) -> FloatArray:
    """Number of ``others`` within ``rcut`` of each centre (periodic), float."""
    box = np.asarray(box_A, dtype=np.float64)
    t1 = cKDTree(wrap_positions(centres_A, box), boxsize=box)
    t2 = cKDTree(wrap_positions(others_A, box), boxsize=box)
    return np.asarray([len(x) for x in t1.query_ball_tree(t2, rcut_A)], dtype=np.float64)
