"""How softness relates to what the ions do (physics.md §7; Chen et al. 2023).

Pearson/Spearman correlation of S with the displacement over the window (on ions not
used for training) and P_R(S), the fraction of rearranging ions per softness bin.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats


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
