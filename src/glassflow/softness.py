"""Softness: learning from the static structure which ions will move (physics.md §7).

Method (Chen et al., ACS Energy Lett. 8, 1969 (2023), following Cubuk/Schoenholz et al.):

1. **Structure functions.** For every ion i of the mobile species (Na) in the frame that
   opens a dynamics window, Behler-Parrinello G2-type radial functions per neighbour
   species b and shell centre mu::

       G(i; b, mu) = sum_{j in b, r_ij < r_max} exp(-(r_ij - mu)^2 / (2 L^2))

   (r in Å; mu grid ``mu_min_A .. mu_max_A`` step ``mu_step_A``; L = ``width_A``),
   computed with a periodic ``cKDTree(boxsize=L_box)`` (:func:`radial_features`).
2. **Labels** from the dynamics over the following window of length ``window_ps``:

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
3. **Classifier.** ``Pipeline(StandardScaler, LogisticRegression(class_weight="balanced"))``
   on a stratified train/test split with a fixed ``random_state`` (grouped by ion so
   that the windows of one ion are all train or all test). Softness of an ion is
   its signed distance to the hyperplane in the standardised feature space:
   ``S = (w . z + b) / ||w||`` = ``decision_function / ||w||`` (z standardised features,
   w the coefficients); S > 0 on the "rearranging" side. A shuffled-label control (labels
   permuted before the same split and fit) gives the chance level.
4. **Relations.** Pearson/Spearman correlation of S with the displacement over the window
   (on ions not used for training), P_R(S) (fraction with displacement >= high threshold
   per S bin), local environment (neighbour counts, S classes via
   :mod:`glassflow.topology`), Voronoi volume (:func:`voronoi_volumes`) and an
   approximate per-ion pair energy (:func:`pair_energies`).

Units: Å, ps, kcal/mol, e (LAMMPS ``real``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse, stats
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks
from scipy.spatial import ConvexHull, Voronoi, cKDTree
from scipy.special import erfc

from glassflow.settings import known_settings
from glassflow.structure import minimum_image, neighbour_pairs, wrap_positions
from glassflow.topology import bond_counts, classify_sulfur

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Coulomb constant in LAMMPS real units, kcal mol^-1 Å e^-2
COULOMB_KCAL_A = 332.06371

LABEL_METHODS = ("displacement", "d2min")


# --------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SoftnessSettings:
    """Settings of the softness analysis (``config: analysis: softness:`` block).

    Keys (type, default) and meaning:

    - ``species`` (str, "Na"): ions whose softness is learned.
    - ``mu_min_A``, ``mu_max_A``, ``mu_step_A`` (float, 1.0, 6.0, 0.2): shell centres, Å.
    - ``width_A`` (float, 0.2): Gaussian width L of each shell, Å.
    - ``r_max_A`` (float, 6.6): neighbour cutoff of the structure functions, Å.
    - ``window_ps`` (float, 5.0): dynamics window following each structure frame, ps
      (clipped to the trajectory).
    - ``max_windows`` (int, 0): at most this many windows (0: all that fit).
    - ``label_method`` (str, "displacement"): "displacement" or "d2min".
    - ``threshold_high`` (float | None, None): rearranging if value >= this (Å for
      displacement, Å^2 for d2min); None derives it from the data.
    - ``threshold_low`` (float | None, None): non-rearranging if value <= this; None:
      ``low_fraction`` x high (displacement) or the low quantile (d2min).
    - ``low_fraction`` (float, 0.5): low/high threshold ratio for displacement labels.
    - ``fallback_hop_A`` (float, 2.0): high displacement threshold, Å, when the Van Hove
      function has no resolvable minimum between cage and hopping peaks.
    - ``vanhove_lag_ps`` (float | None, None): Van Hove lag used for the threshold; None:
      the lag closest to ``window_ps`` in log t.
    - ``vanhove_smooth_A`` (float, 0.1): Gaussian smoothing of 4 pi r^2 G_s before peak
      search, Å.
    - ``vanhove_prominence`` (float, 0.05): minimum peak prominence, fraction of the max.
    - ``vanhove_min_dip`` (float, 0.2): the cage/hop minimum must lie at least this
      fraction below the lower of the two peaks.
    - ``d2min_cutoff_A`` (float, 5.0): neighbour cutoff of D2min, Å.
    - ``d2min_sublag_ps`` (float, 0.5): sub-lag of the cumulative D2min, ps.
    - ``d2min_accumulate`` (str, "sum"): "sum" (Chen's D_cum) or "max" over sub-lags.
    - ``d2min_quantiles`` (list[float, float], [0.5, 0.8]): quantiles of D2_cum giving the
      default low and high d2min thresholds.
    - ``env_cutoff_A`` (float, 3.8): cutoff, Å, of the local-environment neighbour counts
      (about the first Na-S minimum of g(r)).
    - ``si_s_cutoff_A`` (float, 2.8): Si-S bond cutoff, Å, for the S classes.
    - ``ss_bond_cutoff_A`` (float, 2.6): S-S homopolar bond cutoff, Å.
    - ``voronoi`` (bool, True): compute Voronoi volumes.
    - ``energy`` (bool, True): per-ion pair energy (needs the potential file).
    - ``energy_cutoff_A`` (float, 10.0): real-space cutoff of the per-ion energy, Å.
    - ``wolf_alpha_inv_A`` (float, 0.2): Wolf damping parameter, 1/Å.
    - ``test_fraction`` (float, 0.25): held-out fraction (stratified).
    - ``C`` (float, 1.0): inverse L2 regularisation strength of the logistic regression.
    - ``min_class_size`` (int, 5): minimum samples per class to fit.
    - ``random_state`` (int, 0): seed of the split, the fit and the label shuffle.
    - ``min_feature_occupancy`` (float, 0.02): a feature column is used only if at least
      this fraction of the labelled samples has G > 1e-3 (drops unreached shells).
    - ``group_split`` (bool, True): keep all windows of one ion on the same side of the
      train/test split (stratified group k-fold); plain stratified split otherwise.
    - ``n_bins`` (int, 10): softness bins of P_R(S).
    """

    species: str = "Na"
    mu_min_A: float = 1.0
    mu_max_A: float = 6.0
    mu_step_A: float = 0.2
    width_A: float = 0.2
    r_max_A: float = 6.6
    window_ps: float = 5.0
    max_windows: int = 0
    label_method: str = "displacement"
    threshold_high: float | None = None
    threshold_low: float | None = None
    low_fraction: float = 0.5
    fallback_hop_A: float = 2.0
    vanhove_lag_ps: float | None = None
    vanhove_smooth_A: float = 0.1
    vanhove_prominence: float = 0.05
    vanhove_min_dip: float = 0.2
    d2min_cutoff_A: float = 5.0
    d2min_sublag_ps: float = 0.5
    d2min_accumulate: str = "sum"
    d2min_quantiles: tuple[float, float] = (0.5, 0.8)
    env_cutoff_A: float = 3.8
    si_s_cutoff_A: float = 2.8
    ss_bond_cutoff_A: float = 2.6
    voronoi: bool = True
    energy: bool = True
    energy_cutoff_A: float = 10.0
    wolf_alpha_inv_A: float = 0.2
    test_fraction: float = 0.25
    C: float = 1.0
    min_class_size: int = 5
    random_state: int = 0
    min_feature_occupancy: float = 0.02
    group_split: bool = True
    n_bins: int = 10

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SoftnessSettings:
        """Build from a config mapping; unknown keys raise ``ValueError`` naming them."""
        data = known_settings(cls, data, "softness")
        s = cls(**data)
        if s.label_method not in LABEL_METHODS:
            raise ValueError(f"label_method must be one of {LABEL_METHODS}, got {s.label_method!r}")
        if s.d2min_accumulate not in ("sum", "max"):
            raise ValueError(f"d2min_accumulate must be 'sum' or 'max', got {s.d2min_accumulate!r}")
        q = s.d2min_quantiles
        if len(q) != 2 or not 0.0 <= q[0] <= q[1] <= 1.0:
            raise ValueError(f"d2min_quantiles must be [low, high] in [0, 1], got {q}")
        if not (s.mu_step_A > 0 and s.mu_min_A <= s.mu_max_A and s.width_A > 0 and s.r_max_A > 0):
            raise ValueError("need mu_step_A > 0, mu_min_A <= mu_max_A, width_A > 0, r_max_A > 0")
        if not 0.0 < s.test_fraction < 1.0:
            raise ValueError("test_fraction must be in (0, 1)")
        if not 0.0 <= s.low_fraction <= 1.0:
            raise ValueError("low_fraction must be in [0, 1]")
        if s.window_ps <= 0 or s.d2min_sublag_ps <= 0:
            raise ValueError("window_ps and d2min_sublag_ps must be > 0")
        if s.min_class_size < 2:
            raise ValueError("min_class_size must be >= 2 (stratified split)")
        return s

    def mu_grid_A(self) -> FloatArray:
        """Shell centres mu, Å (inclusive of mu_max within rounding)."""
        n = int(math.floor((self.mu_max_A - self.mu_min_A) / self.mu_step_A + 1e-9)) + 1
        return self.mu_min_A + self.mu_step_A * np.arange(n)


# --------------------------------------------------------------------------------------
# structure functions
# --------------------------------------------------------------------------------------
def radial_features(
    positions_A: npt.ArrayLike,
    box_A: npt.ArrayLike,
    types: npt.ArrayLike,
    centres: npt.ArrayLike,
    mu_A: npt.ArrayLike,
    width_A: float,
    r_max_A: float,
    n_types: int | None = None,
) -> FloatArray:
    """G2 radial structure functions of the ``centres`` (physics.md §7; Chen 2023).

    ``G[i, b * n_mu + k] = sum_{j of type b, 0 < r_ij < r_max} exp(-(r_ij - mu_k)^2 / 2L^2)``
    with periodic minimum-image distances (cKDTree with ``boxsize``). Positions in Å
    (wrapped or not); returns float64 (n_centres, n_types * n_mu), ordered type-major.
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions_A, box)
    t = np.asarray(types, dtype=np.intp)
    c = np.asarray(centres, dtype=np.intp)
    mu = np.asarray(mu_A, dtype=np.float64)
    nt = int(t.max()) + 1 if n_types is None else int(n_types)
    local = np.full(t.size, -1, dtype=np.intp)
    local[c] = np.arange(c.size)
    ci, oj, d = neighbour_pairs(x, box, c, np.arange(t.size), r_max_A)
    r = np.linalg.norm(d, axis=1)
    g = np.exp(-((r[:, None] - mu[None, :]) ** 2) / (2.0 * width_A**2))
    rows = local[ci] * nt + t[oj]
    acc = sparse.csr_matrix(
        (np.ones(rows.size), (rows, np.arange(rows.size))), shape=(c.size * nt, rows.size)
    )
    out = np.asarray(acc @ g).reshape(c.size, nt * mu.size)
    return out


def feature_names(species: Sequence[str], mu_A: npt.ArrayLike) -> list[str]:
    """Column names ``G_<species>_<mu>A`` in the order of :func:`radial_features`."""
    return [f"G_{s}_{m:.2f}A" for s in species for m in np.asarray(mu_A, dtype=float)]


# --------------------------------------------------------------------------------------
# dynamics labels
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# classifier
# --------------------------------------------------------------------------------------
@dataclass
class SoftnessModel:
    """Fitted softness classifier and its scores (NaN + ``reason`` when not fitted)."""

    pipeline: Any | None
    n_train: int = 0
    n_test: int = 0
    train_accuracy: float = float("nan")
    test_accuracy: float = float("nan")
    test_balanced_accuracy: float = float("nan")
    shuffled_test_accuracy: float = float("nan")
    reason: str = ""
    split: str = ""
    feature_mask: npt.NDArray[np.bool_] | None = None
    train_index: IntArray = field(default_factory=lambda: np.zeros(0, np.intp))
    test_index: IntArray = field(default_factory=lambda: np.zeros(0, np.intp))

    @property
    def fitted(self) -> bool:
        return self.pipeline is not None

    def softness(self, features: npt.ArrayLike) -> FloatArray:
        """Signed distance to the hyperplane in standardised feature space (S > 0: soft)."""
        x = np.asarray(features, dtype=np.float64)
        if self.pipeline is None:
            return np.full(x.shape[0], np.nan)
        if self.feature_mask is not None:
            x = x[:, self.feature_mask]
        return softness_from_pipeline(self.pipeline, x)


def _pipeline(c: float, random_state: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "logit",
                LogisticRegression(
                    C=c, class_weight="balanced", max_iter=5000, random_state=random_state
                ),
            ),
        ]
    )


def softness_from_pipeline(pipeline: Any, features: npt.ArrayLike) -> FloatArray:
    """``decision_function / ||w||``: signed hyperplane distance (standardised units)."""
    w = np.asarray(pipeline.named_steps["logit"].coef_, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(w))
    dec = np.asarray(pipeline.decision_function(np.asarray(features, float)), dtype=np.float64)
    return dec / norm if norm > 0 else np.full(dec.shape, np.nan)


def _split_fit(
    x: FloatArray,
    y: npt.NDArray[np.int8],
    s: SoftnessSettings,
    groups: npt.NDArray[np.int64] | None = None,
) -> tuple[Any, IntArray, IntArray, str]:
    """Stratified train/test split (grouped by ``groups`` when possible) and fit.

    With groups (the ion index), all windows of one ion fall on the same side
    (``StratifiedGroupKFold`` with k = round(1/test_fraction), first fold = test), so
    near-identical samples of a slow ion cannot leak from train to test; falls back to a
    plain stratified split when there are too few groups per class. Returns
    (pipeline, train rows, test rows, split kind).
    """
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    idx = np.arange(y.size)
    tr = te = None
    kind = "stratified"
    if groups is not None:
        k = max(2, round(1.0 / s.test_fraction))
        per_class = min(np.unique(groups[y == c]).size for c in (0, 1))
        if per_class >= k:
            cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=s.random_state)
            tr, te = next(cv.split(idx, y, groups))
            if np.unique(y[tr]).size < 2 or np.unique(y[te]).size < 2:
                tr = te = None
            else:
                kind = "stratified_grouped_by_ion"
    if tr is None or te is None:
        tr, te = train_test_split(
            idx, test_size=s.test_fraction, stratify=y, random_state=s.random_state
        )
    pipe = _pipeline(s.C, s.random_state).fit(x[tr], y[tr])
    return pipe, np.sort(tr), np.sort(te), kind


def fit_softness(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    settings: SoftnessSettings | None = None,
    groups: npt.ArrayLike | None = None,
) -> SoftnessModel:
    """Fit the softness hyperplane on samples with labels 0/1 (others are ignored).

    Returns a :class:`SoftnessModel` with train/test accuracies, the balanced test
    accuracy, and the test accuracy of the same pipeline fitted on permuted labels
    (chance level). Feature columns that are (almost) never occupied are dropped first
    (:func:`occupied_features`; the mask is kept in the model). ``groups`` (e.g. the ion
    index of each row) keeps all samples of one group on one side of the split (see
    :func:`_split_fit`); ``train_index``/``test_index`` index the rows of ``features``. When a
    class has fewer than ``min_class_size`` samples nothing is fitted and ``reason`` says
    why (never raises on degenerate data).
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    s = settings or SoftnessSettings()
    x = np.asarray(features, dtype=np.float64)
    lab = np.asarray(labels)
    rows = np.flatnonzero((lab == 0) | (lab == 1))
    ok = rows[np.all(np.isfinite(x[rows]), axis=1)] if x.ndim == 2 and x.shape[1] else rows[:0]
    y = lab[ok].astype(np.int8)
    n1, n0 = int(np.count_nonzero(y == 1)), int(np.count_nonzero(y == 0))
    if x.ndim != 2 or x.shape[1] == 0:
        return SoftnessModel(None, reason="no features")
    if min(n0, n1) < s.min_class_size:
        return SoftnessModel(
            None,
            reason=f"too few samples per class (rearranging {n1}, non-rearranging {n0}; "
            f"need >= {s.min_class_size} each)",
        )
    mask = occupied_features(x[ok], s.min_feature_occupancy)
    if not mask.any():
        return SoftnessModel(None, reason="no occupied features")
    xs = x[ok][:, mask]
    g = None if groups is None else np.asarray(groups)[ok]
    pipe, tr, te, kind = _split_fit(xs, y, s, g)
    model = SoftnessModel(
        pipe,
        n_train=int(tr.size),
        n_test=int(te.size),
        train_accuracy=float(accuracy_score(y[tr], pipe.predict(xs[tr]))),
        test_accuracy=float(accuracy_score(y[te], pipe.predict(xs[te]))),
        test_balanced_accuracy=float(balanced_accuracy_score(y[te], pipe.predict(xs[te]))),
        train_index=ok[tr],
        test_index=ok[te],
        split=kind,
        feature_mask=mask,
    )
    rng = np.random.default_rng(s.random_state)
    y_shuf = rng.permutation(y)
    pipe_s, _, te_s, _ = _split_fit(xs, y_shuf, s, g)
    model.shuffled_test_accuracy = float(accuracy_score(y_shuf[te_s], pipe_s.predict(xs[te_s])))
    return model


def occupied_features(
    features: npt.ArrayLike, min_occupancy: float = 0.02, floor: float = 1e-3
) -> npt.NDArray[np.bool_]:
    """Columns where at least ``min_occupancy`` of the samples exceed ``floor``.

    Shells a species (almost) never reaches (e.g. Na-Na below 2 Å) carry only Gaussian tails
    ~1e-12; standardising such a column blows those tails up to huge z values and a few
    samples would get absurd softness. They are dropped before the fit.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        return np.zeros(x.shape[-1] if x.ndim == 2 else 0, dtype=bool)
    return np.mean(x > floor, axis=0) >= min_occupancy


def chance_band(n_test: int, p: float = 0.5, z: float = 3.0) -> tuple[float, float]:
    """Accuracy band p +- z sqrt(p(1-p)/n) of a chance classifier on n test samples."""
    half = z * math.sqrt(p * (1.0 - p) / max(n_test, 1))
    return p - half, p + half


# --------------------------------------------------------------------------------------
# relations
# --------------------------------------------------------------------------------------
def correlations(softness: npt.ArrayLike, values: npt.ArrayLike) -> dict[str, float]:
    """Pearson r and Spearman rho (with p values) over finite pairs; NaN if < 3 pairs."""
    a = np.asarray(softness, dtype=np.float64)
    b = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    nan = float("nan")
    out = {"pearson_r": nan, "pearson_p": nan, "spearman_rho": nan, "spearman_p": nan}
    out["n_corr"] = float(ok.sum())
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return out
    pr = stats.pearsonr(a[ok], b[ok])
    sr = stats.spearmanr(a[ok], b[ok])
    out.update(
        pearson_r=float(pr.statistic),
        pearson_p=float(pr.pvalue),
        spearman_rho=float(sr.statistic),
        spearman_p=float(sr.pvalue),
    )
    return out


def rearrangement_probability(
    softness: npt.ArrayLike,
    rearranged: npt.ArrayLike,
    displacement_A: npt.ArrayLike | None = None,
    n_bins: int = 10,
) -> pd.DataFrame:
    """P_R(S): fraction rearranging per softness bin (equal-count bins: quantiles of S).

    Columns: ``S_lo, S_hi, S_mid, n, P_R`` (+ ``P_R_err`` binomial standard error) and,
    with ``displacement_A``, ``mean_disp_A``.
    """
    s = np.asarray(softness, dtype=np.float64)
    r = np.asarray(rearranged, dtype=np.float64)
    disp = None if displacement_A is None else np.asarray(displacement_A, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(r)
    cols = ["S_lo", "S_hi", "S_mid", "n", "P_R", "P_R_err", "mean_disp_A"]
    if ok.sum() == 0:
        return pd.DataFrame(columns=cols)
    edges = np.unique(np.quantile(s[ok], np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    n_bins = edges.size - 1
    k = np.clip(np.searchsorted(edges, s[ok], side="right") - 1, 0, n_bins - 1)
    n = np.bincount(k, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.bincount(k, weights=r[ok], minlength=n_bins) / n
        err = np.sqrt(p * (1 - p) / n)
        md = (
            np.bincount(k, weights=np.nan_to_num(disp[ok]), minlength=n_bins) / n
            if disp is not None
            else np.full(n_bins, np.nan)
        )
    return pd.DataFrame(
        {
            "S_lo": edges[:-1],
            "S_hi": edges[1:],
            "S_mid": 0.5 * (edges[:-1] + edges[1:]),
            "n": n.astype(int),
            "P_R": p,
            "P_R_err": err,
            "mean_disp_A": md,
        }
    )


def local_environment(
    positions_A: npt.ArrayLike,
    box_A: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    centres: npt.ArrayLike,
    env_cutoff_A: float = 3.8,
    si_s_cutoff_A: float = 2.8,
    ss_bond_cutoff_A: float = 2.6,
) -> pd.DataFrame:
    """Neighbour counts of each centre within ``env_cutoff_A`` and the classes of its S.

    Columns ``n_<species>`` (all species) and, when Si and S exist, ``n_BS``, ``n_NBS``,
    ``n_free_S`` (S with no Si/S bond), ``n_SS`` (S in any S-S bond) and ``n_S_other``:
    counts of S neighbours of each class (classes of :func:`glassflow.topology.classify_sulfur`
    with the Si-S and S-S bond cutoffs, Å).
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions_A, box)
    t = np.asarray(types, dtype=np.intp)
    c = np.asarray(centres, dtype=np.intp)
    local = np.full(t.size, -1, dtype=np.intp)
    local[c] = np.arange(c.size)
    ci, oj, _ = neighbour_pairs(x, box, c, np.arange(t.size), env_cutoff_A)
    out: dict[str, Any] = {}
    for k, sp in enumerate(species):
        out[f"n_{sp}"] = np.bincount(local[ci[t[oj] == k]], minlength=c.size)
    if "Si" in species and "S" in species:
        cutoffs = {"Si-S": si_s_cutoff_A, "S-S": ss_bond_cutoff_A, "Na-S": env_cutoff_A}
        bc = bond_counts(x, t, species, box, cutoffs)
        s_idx = np.flatnonzero(t == species.index("S"))
        cls_of_atom = np.full(t.size, "", dtype=object)
        cls_of_atom[s_idx] = classify_sulfur(bc.s_nsi, bc.s_nss)
        ss_of_atom = np.zeros(t.size, dtype=bool)
        ss_of_atom[s_idx] = bc.s_nss > 0
        is_s = t[oj] == species.index("S")
        cs, js = local[ci[is_s]], oj[is_s]
        cl = cls_of_atom[js]
        for name, mask in (
            ("n_BS", cl == "BS"),
            ("n_NBS", cl == "NBS"),
            ("n_free_S", cl == "free"),
            ("n_SS", ss_of_atom[js]),
        ):
            out[name] = np.bincount(cs[mask], minlength=c.size)
        # over-coordinated S (S_3Si); n_SS counts S-S bonded S of classes SS_only + SS_Si
        out["n_S_other"] = out["n_S"] - out["n_BS"] - out["n_NBS"] - out["n_free_S"] - out["n_SS"]
    return pd.DataFrame(out)


def voronoi_volumes(
    positions_A: npt.ArrayLike, box_A: npt.ArrayLike, skin_A: float | None = None
) -> FloatArray:
    """Voronoi cell volumes (Å^3) of all atoms in an orthorhombic periodic box.

    Plain (unweighted) Voronoi tessellation with :class:`scipy.spatial.Voronoi` of the
    wrapped atoms plus their periodic images within ``skin_A`` of the box faces (default:
    half the shortest box length, which closes every cell of a non-pathological
    configuration); each original atom's cell volume is the convex hull of its region's
    vertices. Atom sizes are ignored (no radical/Laguerre weighting). Cells that are open
    (should not happen with a sufficient skin) get NaN.
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions_A, box)
    n = x.shape[0]
    skin = 0.5 * float(box.min()) if skin_A is None else float(skin_A)
    shifts = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"))
    shifts = shifts.reshape(3, -1).T
    shifts = shifts[np.any(shifts != 0, axis=1)]
    images = x[None, :, :] + shifts[:, None, :] * box
    keep = np.all((images > -skin) & (images < box + skin), axis=2)
    pts = np.vstack([x, images[keep]])
    vor = Voronoi(pts)
    vol = np.full(n, np.nan)
    for i in range(n):
        region = vor.regions[vor.point_region[i]]
        if len(region) == 0 or -1 in region:
            continue
        vol[i] = ConvexHull(vor.vertices[region]).volume
    return vol


def pair_energies(
    positions_A: npt.ArrayLike,
    box_A: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    charges_e: npt.ArrayLike,
    buckingham: Mapping[frozenset[str], Any],
    r_cut_A: float = 10.0,
    alpha_inv_A: float = 0.2,
) -> FloatArray:
    """Approximate per-atom potential energy, kcal/mol (Buckingham + Wolf Coulomb).

    E_i = 1/2 sum_{j, r<rc} [A exp(-r/rho) - C/r^6]
          + k_e [1/2 sum_{j, r<rc} q_i q_j (erfc(a r)/r - erfc(a rc)/rc)
                 - q_i^2 (erfc(a rc)/(2 rc) + a/sqrt(pi))]

    (Wolf et al., J. Chem. Phys. 110, 8254 (1999), shifted, no force shift). The Wolf sum
    approximates the Ewald energy of a charge-neutral cutoff sphere; per-atom values are
    a real-space partition, not unique, and the Buckingham part is cut at ``r_cut_A``
    without shift. ``buckingham`` maps frozenset({a, b}) to objects with ``A_kcal_mol``,
    ``rho_A``, ``C_kcal_A6_mol`` (:class:`glassflow.potential.PairParameters`). Requires
    r_cut < half the shortest box length.
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions_A, box)
    t = np.asarray(types, dtype=np.intp)
    q = np.asarray(charges_e, dtype=np.float64)
    n = t.size
    if r_cut_A > 0.5 * float(box.min()):
        raise ValueError(f"r_cut_A {r_cut_A} exceeds half the box {box.min() / 2:.3f} Å")
    ns = len(species)
    a_tab = np.zeros((ns, ns))
    rho_tab = np.ones((ns, ns))
    c_tab = np.zeros((ns, ns))
    for i, a in enumerate(species):
        for j, b in enumerate(species):
            p = buckingham[frozenset((a, b))]
            a_tab[i, j], rho_tab[i, j], c_tab[i, j] = p.A_kcal_mol, p.rho_A, p.C_kcal_A6_mol
    tree = cKDTree(x, boxsize=box)
    m = tree.sparse_distance_matrix(tree, r_cut_A, output_type="ndarray")
    i, j = m["i"], m["j"]
    keep = i != j
    i, j = i[keep], j[keep]
    r = np.linalg.norm(minimum_image(x[j] - x[i], box), axis=1)
    ti, tj = t[i], t[j]
    buck = a_tab[ti, tj] * np.exp(-r / rho_tab[ti, tj]) - c_tab[ti, tj] / r**6
    shift = erfc(alpha_inv_A * r_cut_A) / r_cut_A
    coul = q[i] * q[j] * (erfc(alpha_inv_A * r) / r - shift)
    e = 0.5 * np.bincount(i, weights=buck + COULOMB_KCAL_A * coul, minlength=n)
    self_term = erfc(alpha_inv_A * r_cut_A) / (2 * r_cut_A) + alpha_inv_A / math.sqrt(math.pi)
    return e - COULOMB_KCAL_A * q**2 * self_term


# --------------------------------------------------------------------------------------
# one trajectory
# --------------------------------------------------------------------------------------
@dataclass
class WindowSamples:
    """Pooled per-ion samples over all windows of one run (rows = ion x window)."""

    features: FloatArray
    feature_names: list[str]
    ions: pd.DataFrame  # atom_index, window_start_ps, disp_A, d2min_cum_A2, environment ...


def collect_samples(
    positions: Any,
    times_ps: npt.ArrayLike,
    box_A: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    settings: SoftnessSettings,
    charges_e: npt.ArrayLike | None = None,
    buckingham: Mapping[frozenset[str], Any] | None = None,
) -> WindowSamples:
    """Features and dynamics of every ion of ``settings.species`` in every window.

    ``positions(start, stop)`` returns unwrapped frames (frames, atoms, 3), Å (e.g.
    ``Trajectory.positions``) or ``positions`` is such an array. Windows are
    non-overlapping (:func:`window_starts`) of ``window_ps`` (clipped to the run minus one
    frame). Per sample: structure functions at the window start, displacement and
    cumulative D2min over the window, local environment, Voronoi volume and (with charges
    and Buckingham parameters) the approximate pair energy at the window start.
    """
    get = positions if callable(positions) else (lambda a, b: np.asarray(positions)[a:b])
    t = np.asarray(times_ps, dtype=np.float64)
    types = np.asarray(types, dtype=np.intp)
    box = np.asarray(box_A, dtype=np.float64)
    dt = float(np.median(np.diff(t))) if t.size > 1 else float("nan")
    centres = (
        np.flatnonzero(types == species.index(settings.species))
        if (settings.species in species)
        else np.zeros(0, np.intp)
    )
    mu = settings.mu_grid_A()
    names = feature_names(species, mu)
    empty = WindowSamples(np.zeros((0, len(names))), names, pd.DataFrame())
    if t.size < 2 or centres.size == 0:
        return empty
    wf = max(1, min(int(round(settings.window_ps / dt)), t.size - 1))
    sub = max(1, min(int(round(settings.d2min_sublag_ps / dt)), wf))
    feats, frames = [], []
    for s in window_starts(t.size, wf, settings.max_windows):
        pos = np.asarray(get(int(s), int(s) + wf + 1), dtype=np.float64)
        x0 = pos[0]
        feats.append(
            radial_features(
                x0, box, types, centres, mu, settings.width_A, settings.r_max_A, len(species)
            )
        )
        df = local_environment(
            x0, box, types, species, centres,
            settings.env_cutoff_A, settings.si_s_cutoff_A, settings.ss_bond_cutoff_A,
        )  # fmt: skip
        df.insert(0, "atom_index", centres)
        df.insert(1, "window_start_ps", float(t[s]))
        df.insert(2, "window_ps", float(t[s + wf] - t[s]))
        df["disp_A"] = displacements(x0[centres], pos[-1][centres])
        df["d2min_cum_A2"] = cumulative_d2min(
            pos, box, centres, settings.d2min_cutoff_A, sub, settings.d2min_accumulate
        )
        df["voronoi_volume_A3"] = voronoi_volumes(x0, box)[centres] if settings.voronoi else np.nan
        energy = np.full(centres.size, np.nan)
        if settings.energy and charges_e is not None and buckingham is not None:
            rc = min(settings.energy_cutoff_A, 0.5 * float(box.min()) - 1e-6)
            energy = pair_energies(
                x0, box, types, species, charges_e, buckingham, rc, settings.wolf_alpha_inv_A
            )[centres]
        df["energy_kcal_mol"] = energy
        frames.append(df)
    if not frames:
        return empty
    return WindowSamples(np.vstack(feats), names, pd.concat(frames, ignore_index=True))


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


def analyse_softness(
    samples: WindowSamples,
    settings: SoftnessSettings,
    meta: Mapping[str, Any],
    vanhove: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Label, fit and relate: returns (ions, summary, P_R table) for one run (or pool).

    ``ions``: keys, species, sample columns, ``label`` (Int8: 1, 0, <NA> ambiguous),
    ``split`` (train/test/none), ``softness``. ``summary``: one row with the counts,
    accuracies, ``chance_upper_2sigma`` (0.5 + 2 sqrt(0.25 / n_test): a balanced test
    accuracy above it is better than chance at ~2 sigma), correlations (over samples not
    used for training), thresholds and a ``reason`` ("" when the fit succeeded).
    """
    keys = {k: meta.get(k) for k in ("campaign", "x", "m", "T_K", "replica")}
    ions = samples.ions.copy()
    lab, th = label_samples(ions, settings, vanhove)
    groups = ions["atom_index"].to_numpy() if settings.group_split and len(ions) else None
    model = fit_softness(samples.features, lab, settings, groups)
    soft = model.softness(samples.features) if len(ions) else np.zeros(0)
    split = np.full(len(ions), "none", dtype=object)
    split[model.train_index] = "train"
    split[model.test_index] = "test"
    if len(ions):
        ions["label"] = pd.array(np.where(lab >= 0, lab, 0), dtype="Int8")
        ions.loc[lab < 0, "label"] = pd.NA
        ions["split"] = split
        ions["softness"] = soft
    else:
        ions = pd.DataFrame(columns=["atom_index", "label", "split", "softness", "disp_A"])
    held = split != "train"
    disp = ions["disp_A"].to_numpy(float) if len(ions) else np.zeros(0)
    corr = correlations(soft[held], disp[held]) if len(ions) else correlations([], [])
    high = th["threshold_high"]
    metric = (
        disp
        if settings.label_method == "displacement"
        else (ions["d2min_cum_A2"].to_numpy(float) if len(ions) else np.zeros(0))
    )
    rearr = np.where(np.isfinite(metric), (metric >= high).astype(float), np.nan)
    pr = rearrangement_probability(soft[held], rearr[held], disp[held], settings.n_bins)
    is_disp = settings.label_method == "displacement"
    nan = float("nan")
    summary = {
        **keys,
        "species": settings.species,
        "label_method": settings.label_method,
        "n_windows": int(ions["window_start_ps"].nunique()) if len(ions) else 0,
        "window_ps": float(ions["window_ps"].median()) if len(ions) else nan,
        "n_samples": int(len(ions)),
        "n_rearranging": int(np.count_nonzero(lab == 1)),
        "n_non_rearranging": int(np.count_nonzero(lab == 0)),
        "n_ambiguous": int(np.count_nonzero(lab < 0)),
        "n_features": int(samples.features.shape[1]),
        "n_features_used": int(model.feature_mask.sum()) if model.feature_mask is not None else 0,
        "n_train": model.n_train,
        "n_test": model.n_test,
        "train_accuracy": model.train_accuracy,
        "test_accuracy": model.test_accuracy,
        "test_balanced_accuracy": model.test_balanced_accuracy,
        "shuffled_test_accuracy": model.shuffled_test_accuracy,
        "chance_upper_2sigma": chance_band(model.n_test, 0.5, 2.0)[1] if model.fitted else nan,
        "split": model.split,
        **{k: corr[k] for k in ("pearson_r", "pearson_p", "spearman_rho", "spearman_p")},
        "n_corr": int(corr["n_corr"]),
        "disp_threshold_low_A": th["threshold_low"] if is_disp else nan,
        "disp_threshold_high_A": th["threshold_high"] if is_disp else nan,
        "d2min_threshold_low_A2": nan if is_disp else th["threshold_low"],
        "d2min_threshold_high_A2": nan if is_disp else th["threshold_high"],
        "threshold_source": th["threshold_source"],
        "vanhove_t_ps": th["vanhove_t_ps"],
        "reason": model.reason,
    }
    summ = pd.DataFrame([summary])
    return _with_keys(ions, keys, settings.species), summ, _with_keys(pr, keys, settings.species)


def _with_keys(df: pd.DataFrame, keys: Mapping[str, Any], species: str) -> pd.DataFrame:
    """``df`` with the run keys and ``species`` as its first columns."""
    out = df.drop(columns=[c for c in (*keys, "species") if c in df])
    for i, (c, v) in enumerate([*keys.items(), ("species", species)]):
        out.insert(i, c, v)
    return out
