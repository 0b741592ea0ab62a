"""The adaptive rounds in one figure: measured points by round, posterior, located position.

One panel per judged temperature: the pooled log10 value of every composition (error
bars 1 sigma, colour = the round that first judged it; compositions without an estimate
are listed in a note), the last round's posterior mean
of the GP along m with its +-1 std band and, for the goals maximum and jump, the located
position (median) with its 95 % interval (a median on a bound is labelled as the one-sided
interval it is: :func:`location_label`). Inputs are the tables of
:mod:`glassflow.campaign.adaptive_rounds` (:func:`points_table`, :func:`rounds_table`,
:func:`posterior_table`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from glassflow.figures.common import _no_data, _save, color

_LABELS = {"sigma": r"$\log_{10}\,\sigma$ (S/cm)"}


def _ylabel(quantity: str) -> str:
    return _LABELS.get(quantity, rf"$\log_{{10}}\,D_{{\rm {quantity[2:]}}}$ (cm$^2$/s)")


def location_label(lo: float, median: float, hi: float, m_lo: float, m_hi: float) -> str:
    """Legend text of a located position, honest about the bounds.

    A median on a bound (within 1e-6) is not a located position: the posterior paths
    still rise (or fall) there, and the data cannot tell it from one beyond the bound;
    the text then gives the side of the interval that is known, or says that it is not
    located when the interval spans both bounds.

    Parameters
    ----------
    lo, median, hi : float
        The 95 % interval and median of the position, m.
    m_lo, m_hi : float
        The bounds of the adaptive rounds (the posterior's m range).

    Returns
    -------
    str
    """
    on_upper, on_lower = median >= m_hi - 1e-6, median <= m_lo + 1e-6
    if (on_upper or on_lower) and lo <= m_lo + 1e-6 and hi >= m_hi - 1e-6:
        return f"not located: 95 % interval [{lo:.2f}, {hi:.2f}] spans the bounds"
    if on_upper:
        return f"on the upper bound: m ≥ {lo:.2f} (95 %)"
    if on_lower:
        return f"on the lower bound: m ≤ {hi:.2f} (95 %)"
    return f"located at m = {median:.2f} [{lo:.2f}, {hi:.2f}]"


def plot_adaptive(
    points: pd.DataFrame,
    rounds: pd.DataFrame,
    posterior: pd.DataFrame,
    path_png: str | Path,
) -> tuple[Path, Path]:
    """Draw the adaptive figure (PNG and PDF beside it).

    Parameters
    ----------
    points : DataFrame
        ``T_K, m, round, y, y_se, used, quantity`` (y in decades).
    rounds : DataFrame
        ``round, T_K, location_m, lo_m, hi_m, stop``.
    posterior : DataFrame
        ``round, T_K, m, mean_dec, std_dec``.
    path_png : path
        Output PNG; the PDF gets the same stem.

    Returns
    -------
    (Path, Path)
        The PNG and PDF written.
    """
    temps = sorted(points["T_K"].unique()) if len(points) else [None]
    fig = Figure(figsize=(6.4, 3.6 * len(temps)), layout="constrained")
    axes = fig.subplots(len(temps), 1, squeeze=False)[:, 0]
    n_rounds = int(rounds["round"].max()) + 1 if len(rounds) else 1
    for ax, t in zip(axes, temps, strict=True):
        if t is None:
            _no_data(ax, "no adaptive round")
            continue
        pts = points[(points["T_K"] == t) & points["used"].astype(bool)]
        last = int(posterior.loc[posterior["T_K"] == t, "round"].max())
        post = posterior[(posterior["T_K"] == t) & (posterior["round"] == last)]
        m, mean, std = (post[c].to_numpy(float) for c in ("m", "mean_dec", "std_dec"))
        ax.fill_between(m, mean - std, mean + std, color="0.85", label="posterior ±1 std")
        ax.plot(m, mean, color="0.3", lw=1.2, label=f"posterior mean (round {last})")
        for r in range(n_rounds):
            sel = pts[pts["round"] == r]
            if len(sel):
                ax.errorbar(
                    sel["m"].to_numpy(float),
                    sel["y"].to_numpy(float),
                    yerr=sel["y_se"].to_numpy(float),
                    fmt="o",
                    color=color(r + 1),
                    ms=5,
                    capsize=2,
                    label="initial grid" if r == 0 else f"round {r - 1} choice",
                )
        row = rounds[(rounds["T_K"] == t) & (rounds["round"] == last)]
        if len(row) and np.isfinite(float(row["location_m"].iloc[0])):
            lo, med, hi = (float(row[c].iloc[0]) for c in ("lo_m", "location_m", "hi_m"))
            ax.axvspan(lo, hi, color=color(5), alpha=0.15, label="95 % interval")
            text = location_label(lo, med, hi, float(m.min()), float(m.max()))
            ax.axvline(med, color=color(5), lw=1.2, label=text)
        missing = points[(points["T_K"] == t) & ~points["used"].astype(bool)]
        if len(missing):  # measured, out of the fit
            ms = ", ".join(f"{m:.2f}" for m in missing["m"])
            ax.text(0.01, 0.02, f"no estimate at m = {ms}", transform=ax.transAxes, fontsize=7)
        ax.set_xlabel("m")
        ax.set_ylabel(_ylabel(str(points["quantity"].iloc[0])))
        ax.set_title(f"T = {t} K", fontsize=10)
        ax.legend(fontsize=7, loc="best")
    return _save(fig, path_png)
