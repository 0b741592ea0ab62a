"""Settings of the softness analysis (``config: analysis: softness:``), physics.md §7.

One frozen dataclass read strictly from the config mapping; its docstring lists every key
with its type, default and meaning. Units: Å, ps, kcal/mol, e (LAMMPS ``real``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from glassflow.analysis.settings import known_settings

FloatArray = npt.NDArray[np.float64]
LABEL_METHODS = ("displacement", "d2min")


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
