"""Labels of the softness method from the dynamics over a window (physics.md §7).

Labels come from the dynamics over the window of length ``window_ps`` that follows each
structure frame:

* ``displacement`` (default): |r_i(t0 + W) - r_i(t0)| (unwrapped, Å). The high
  threshold is the first minimum of the radial self Van Hove function
  4 pi r^2 G_s(r, t) of the species between the cage peak and the hopping peak, at the
  Van Hove lag closest (in log t) to W that shows such a minimum (lags tried in order
  of closeness; :func:`vanhove_threshold`). Without a resolvable hopping peak at any
  lag the fallback ``fallback_hop_A`` (2.0 Å, a typical fraction
  of the Na-Na site distance, ~3.5 Å, beyond any cage rattling) is used. The low
  threshold is ``low_fraction`` x high (default 0.5).
* ``d2min``: cumulative non-affine displacement D2_cum (Falk & Langer 1998; Chen 2023
  "sum of D2min values during small increments of time"): the window is cut into
  sub-lags of ``d2min_sublag_ps``; for each sub-lag, D2min of ion i is the residual of
  the best affine map J of its neighbour vectors (all species within ``d2min_cutoff_A``
  at the sub-lag start), divided by the number of neighbours (Å^2, per neighbour); D2_cum
  is the sum (``d2min_accumulate = "sum"``, Chen) or the maximum (``"max"``) over the
  sub-lags. Default thresholds are quantiles of the pooled D2_cum (``d2min_quantiles``,
  low 0.5, high 0.8): a relative definition (there is no Van Hove analogue).

Ions with value >= high are rearranging (label 1), <= low non-rearranging (label 0);
the ambiguous middle is excluded from training (Chen/Cubuk use such a gap).
Windows are non-overlapping, starting at frames 0, W, 2W, ...; samples are pooled.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from glassflow.analysis.softness.settings import SoftnessSettings
from glassflow.analysis.structure.geometry import neighbour_pairs, wrap_positions

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def window_starts(n_frames: int, window_frames: int, max_windows: int = 0) -> IntArray:
    """Start frames of non-overlapping windows ``[s, s + W]`` inside ``n_frames`` frames."""
    if window_frames < 1 or n_frames <= window_frames:
        return np.zeros(0, dtype=np.intp)
    starts = np.arange(0, n_frames - window_frames, window_frames, dtype=np.intp)
    return starts[:max_windows] if max_windows > 0 else starts


def displacements(start_A: npt.ArrayLike, end_A: npt.ArrayLike) -> FloatArray:
    """|r(end) - r(start)| of unwrapped positions (atoms, 3), Å."""
    d = np.asarray(end_A, dtype=np.float64) - np.asarray(start_A, dtype=np.float64)
    return np.linalg.norm(d, axis=-1)


def d2min(
    d0: npt.ArrayLike,
    d1: npt.ArrayLike,
    centre: npt.ArrayLike,
    n_centres: int,
    normalise: bool = True,
) -> FloatArray:
    """Falk-Langer non-affine displacement D2min of each centre (Å^2).

    ``d0``/``d1`` (pairs, 3) are neighbour vectors r_j - r_i at the reference and the later
    time, ``centre`` (pairs,) the centre index 0..n_centres-1 of each pair. The best affine
    map J minimises sum_j |d1 - J d0|^2: J = Y X^-1 with X = sum d0 d0^T, Y = sum d1 d0^T
    (pseudo-inverse for degenerate X); D2min = min residual, divided by the number of
    neighbours when ``normalise`` (mean per neighbour). Centres with fewer than 3
    neighbours get NaN.
    """
    a = np.asarray(d0, dtype=np.float64)
    b = np.asarray(d1, dtype=np.float64)
    c = np.asarray(centre, dtype=np.intp)
    outer_x = np.einsum("pi,pj->pij", a, a).reshape(-1, 9)
    outer_y = np.einsum("pi,pj->pij", b, a).reshape(-1, 9)
    acc = sparse.csr_matrix((np.ones(c.size), (c, np.arange(c.size))), shape=(n_centres, c.size))
    xm = np.asarray(acc @ outer_x).reshape(n_centres, 3, 3)
    ym = np.asarray(acc @ outer_y).reshape(n_centres, 3, 3)
    jm = ym @ np.linalg.pinv(xm, hermitian=True)
    res = b - np.einsum("pij,pj->pi", jm[c], a)
    d2 = np.bincount(c, weights=np.einsum("pi,pi->p", res, res), minlength=n_centres)
    n = np.bincount(c, minlength=n_centres)
    out = d2 / np.maximum(n, 1) if normalise else d2
    out[n < 3] = np.nan
    return out


def cumulative_d2min(
    positions_A: npt.ArrayLike,
    box_A: npt.ArrayLike,
    centres: npt.ArrayLike,
    cutoff_A: float,
    sublag_frames: int,
    accumulate: str = "sum",
) -> FloatArray:
    """Cumulative D2min (Å^2 per neighbour) of ``centres`` over a window (Chen 2023).

    ``positions_A`` (frames, atoms, 3) are the unwrapped frames of one window; the window is
    cut into consecutive sub-lags of ``sublag_frames``; for each, neighbours (any species)
    within ``cutoff_A`` at the sub-lag start define d0 (minimum image) and
    d1 = d0 + (u_j - u_i) with u the unwrapped displacements over the sub-lag. Returns the
    sum (or max) over sub-lags of :func:`d2min`.
    """
    pos = np.asarray(positions_A, dtype=np.float64)
    box = np.asarray(box_A, dtype=np.float64)
    c = np.asarray(centres, dtype=np.intp)
    local = np.full(pos.shape[1], -1, dtype=np.intp)
    local[c] = np.arange(c.size)
    lag = max(1, int(sublag_frames))
    starts = range(0, pos.shape[0] - lag, lag)
    values = []
    for s in starts:
        x = wrap_positions(pos[s], box)
        ci, oj, d0 = neighbour_pairs(x, box, c, np.arange(pos.shape[1]), cutoff_A)
        u = pos[s + lag] - pos[s]
        d1 = d0 + u[oj] - u[ci]
        values.append(d2min(d0, d1, local[ci], c.size))
    if not values:
        return np.full(c.size, np.nan)
    v = np.vstack(values)
    return np.nansum(v, axis=0) if accumulate == "sum" else np.nanmax(v, axis=0)


def vanhove_threshold(
    r_A: npt.ArrayLike,
    radial_gs: npt.ArrayLike,
    smooth_A: float = 0.1,
    prominence: float = 0.05,
    min_dip: float = 0.2,
) -> tuple[float, str]:
    """First minimum of 4 pi r^2 G_s(r, t) between the cage and the hopping peak, Å.

    The curve is smoothed with a Gaussian of ``smooth_A``; peaks need a prominence of
    ``prominence`` x max. The first peak is the cage peak, the next one the hopping peak;
    the threshold is the position of the smallest value between them, accepted only if
    that value is at most (1 - ``min_dip``) x the lower of the two peak heights (so noise
    wiggles of a diffusive, single-peaked curve are rejected). Returns
    (threshold_A, "vanhove_minimum") or (nan, reason).
    """
    r = np.asarray(r_A, dtype=np.float64)
    y = np.nan_to_num(np.asarray(radial_gs, dtype=np.float64))
    order = np.argsort(r)
    r, y = r[order], y[order]
    if r.size < 5 or not np.any(y > 0):
        return float("nan"), "empty Van Hove curve"
    dr = float(np.median(np.diff(r)))
    ys = gaussian_filter1d(y, max(smooth_A / dr, 1e-6), mode="constant")
    peaks, _ = find_peaks(ys, prominence=prominence * float(ys.max()))
    if peaks.size < 2:
        return float("nan"), "no hopping peak in Van Hove function"
    lo, hi = peaks[0], peaks[1]
    k = lo + int(np.argmin(ys[lo : hi + 1]))
    if ys[k] > (1.0 - min_dip) * min(ys[lo], ys[hi]):
        return float("nan"), "Van Hove minimum too shallow"
    return float(r[k]), "vanhove_minimum"


def select_vanhove_lag(lags_ps: npt.ArrayLike, window_ps: float) -> float:
    """The available Van Hove lag closest to ``window_ps`` in log t (ps)."""
    order = lags_by_distance(lags_ps, window_ps)
    return float(order[0]) if order.size else float("nan")


def lags_by_distance(lags_ps: npt.ArrayLike, window_ps: float) -> FloatArray:
    """Positive lags (ps) sorted by |log t - log window| (ties: shorter first)."""
    lags = np.unique(np.asarray(lags_ps, dtype=np.float64))
    lags = lags[lags > 0]
    dist = np.abs(np.log(lags) - math.log(window_ps))
    return lags[np.lexsort((lags, dist))]


def displacement_thresholds(
    vanhove: pd.DataFrame | None, settings: SoftnessSettings, window_ps: float
) -> dict[str, Any]:
    """Low and high displacement thresholds (Å) with their provenance.

    High: ``settings.threshold_high`` if set; else the Van Hove minimum
    (:func:`vanhove_threshold`) of ``settings.species``, trying the lags in order of
    closeness to ``window_ps`` in log t (only ``vanhove_lag_ps`` if set) and taking the first
    with a valid cage/hop minimum; else ``fallback_hop_A``. Low: ``settings.threshold_low``
    if set, else ``low_fraction`` x high. ``vanhove_t_ps`` reports the lag used (NaN if none).
    """
    out: dict[str, Any] = {"vanhove_t_ps": float("nan")}
    if settings.threshold_high is not None:
        high, source = float(settings.threshold_high), "settings"
    else:
        high, source = float("nan"), "no Van Hove table"
        if vanhove is not None and len(vanhove):
            vh = vanhove[vanhove["species"] == settings.species]
            source = f"no Van Hove curve for {settings.species}"
            t_all = vh["t_ps"].to_numpy(float)
            lags = (
                [float(settings.vanhove_lag_ps)]
                if settings.vanhove_lag_ps is not None
                else lags_by_distance(t_all, window_ps)
            )
            for lag in lags:
                sel = vh[np.isclose(t_all, lag)]
                if not len(sel):
                    continue
                th, why = vanhove_threshold(
                    sel["r_A"].to_numpy(float),
                    sel["radial_Gs_inv_A"].to_numpy(float),
                    settings.vanhove_smooth_A,
                    settings.vanhove_prominence,
                    settings.vanhove_min_dip,
                )
                source = why
                if np.isfinite(th):
                    high = th
                    out["vanhove_t_ps"] = float(lag)
                    break
        if not np.isfinite(high):
            high, source = float(settings.fallback_hop_A), f"fallback ({source} at any lag)"
    low = (
        float(settings.threshold_low)
        if settings.threshold_low is not None
        else settings.low_fraction * high
    )
    if low > high:
        raise ValueError(f"threshold_low {low} > threshold_high {high}")
    out.update(threshold_low=low, threshold_high=high, threshold_source=source)
    return out


def quantile_thresholds(values: npt.ArrayLike, settings: SoftnessSettings) -> dict[str, Any]:
    """D2min thresholds (Å^2): settings values, else ``d2min_quantiles`` of the values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    ql, qh = settings.d2min_quantiles
    lo = settings.threshold_low
    hi = settings.threshold_high
    src = "settings"
    if lo is None or hi is None:
        src = f"quantiles {ql:g}/{qh:g}"
        if v.size == 0:
            return {"threshold_low": np.nan, "threshold_high": np.nan, "threshold_source": src}
        lo = float(np.quantile(v, ql)) if lo is None else lo
        hi = float(np.quantile(v, qh)) if hi is None else hi
    return {"threshold_low": float(lo), "threshold_high": float(hi), "threshold_source": src}


def two_threshold_labels(values: npt.ArrayLike, low: float, high: float) -> npt.NDArray[np.int8]:
    """1 if value >= high (rearranging), 0 if <= low, -1 ambiguous or NaN."""
    v = np.asarray(values, dtype=np.float64)
    lab = np.full(v.shape, -1, dtype=np.int8)
    lab[v <= low] = 0
    lab[v >= high] = 1  # high wins when low == high
    return lab


def label_samples(
    ions: pd.DataFrame,
    settings: SoftnessSettings,
    vanhove: pd.DataFrame | None = None,
) -> tuple[npt.NDArray[np.int8], dict[str, Any]]:
    """Labels (1 / 0 / -1 ambiguous) of the samples and the thresholds used."""
    window = float(ions["window_ps"].median()) if len(ions) else settings.window_ps
    if settings.label_method == "displacement":
        th = displacement_thresholds(vanhove, settings, window)
        values = ions["disp_A"].to_numpy(float) if len(ions) else np.zeros(0)
    else:
        values = ions["d2min_cum_A2"].to_numpy(float) if len(ions) else np.zeros(0)
        th = quantile_thresholds(values, settings)
        th["vanhove_t_ps"] = float("nan")
    lab = two_threshold_labels(values, th["threshold_low"], th["threshold_high"])
    return lab, th
