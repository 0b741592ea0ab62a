"""Arrhenius plots (physics.md §4, eq 10): log10 D or log10 sigma T against 1000/T.

Inputs are the transport summary (columns
:data:`glassflow.campaign.arrhenius.TRANSPORT_COLUMNS`) and the Arrhenius table of
:func:`glassflow.campaign.arrhenius.arrhenius_table`. Replica pooling for plotted points
(:func:`glassflow.campaign.arrhenius.pool_log10`): per (composition, T) the mean of
``log10 y`` over replicas; error bars are its standard error (>= 2 replicas) or the
propagated error ``y_err / (y ln 10)`` (one replica).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from glassflow.campaign.arrhenius import (
    KB_EV_K,
    conductivity_points,
    diffusivity_points,
    flag_few_temperatures,
    pool_log10,
)
from glassflow.figures.common import MARKERS, NO_DATA, X_TOL, _no_data, _num, _save, color

ARRHENIUS_QUANTITIES: dict[str, tuple[str, str]] = {
    "D_Na": ("D", "Na"),
    "D_Si": ("D", "Si"),
    "D_S": ("D", "S"),
    "sigmaT": ("sigmaT", "all"),
}


_YLABELS: dict[str, str] = {
    "D_Na": r"$\log_{10} D_\mathrm{Na}$ (cm$^2$ s$^{-1}$)",
    "D_Si": r"$\log_{10} D_\mathrm{Si}$ (cm$^2$ s$^{-1}$)",
    "D_S": r"$\log_{10} D_\mathrm{S}$ (cm$^2$ s$^{-1}$)",
    "sigmaT": r"$\log_{10} \sigma T$ (S K cm$^{-1}$)",
}


def arrhenius_figure_name(quantity: str) -> str:
    """``arrhenius_<quantity>.png``."""
    return f"arrhenius_{quantity}.png"


def _fit_row(arrhenius: pd.DataFrame | None, comp: tuple, quantity: str, species: str) -> dict:
    if arrhenius is None or arrhenius.empty:
        return {}
    campaign, x, m = comp
    sel = arrhenius[
        (arrhenius["campaign"] == campaign)
        & (np.abs(arrhenius["x"].astype(float) - x) <= X_TOL)
        & (np.abs(arrhenius["m"].astype(float) - m) <= X_TOL)
        & (arrhenius["quantity"] == quantity)
        & (arrhenius["species"] == species)
    ]
    return {} if sel.empty else sel.iloc[0].to_dict()


def fitted_log10(row: dict, T_K: np.ndarray) -> np.ndarray:
    """log10 of the fitted Arrhenius curve of one table row at temperatures ``T_K``.

    Single line ``ln y = ln A - E_A / kB T``; a selected two-regime row gives the
    continuous hinge (high-T line above ``T_cross_K``, slope ``E_A_low_eV`` below).
    """
    u = 1.0 / (KB_EV_K * np.asarray(T_K, dtype=float))
    if row.get("model") == "two-regime" and np.isfinite(_num(row.get("T_cross_K"))):
        ux = 1.0 / (KB_EV_K * _num(row["T_cross_K"]))
        la = np.log(_num(row["prefactor_high"]))
        e_hi, e_lo = _num(row["E_A_high_eV"]), _num(row["E_A_low_eV"])
        ln_y = la - e_hi * u - (e_lo - e_hi) * np.maximum(u - ux, 0.0)
    else:
        ln_y = np.log(_num(row.get("prefactor"))) - _num(row.get("E_A_eV")) * u
    return ln_y / np.log(10.0)


def _ea_label(row: dict) -> str:
    e = _num(row.get("E_A_eV"))
    if not np.isfinite(e):
        reason = row.get("reason")
        return "no fit" + (f" ({reason})" if isinstance(reason, str) and reason else "")
    lo, hi = _num(row.get("E_A_lo_eV")), _num(row.get("E_A_hi_eV"))
    ci = f" [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi) else " (no CI)"
    text = f"$E_A$ = {e:.3f}{ci} eV"
    if row.get("model") == "two-regime":
        text += (
            f"; two-regime $T_x$ = {_num(row['T_cross_K']):.0f} K, "
            f"{_num(row['E_A_high_eV']):.3f}/{_num(row['E_A_low_eV']):.3f} eV"
        )
    return text


def _points_for(transport: pd.DataFrame, quantity: str, species: str) -> pd.DataFrame:
    if quantity == "sigmaT":
        return conductivity_points(transport, times_T=True)
    if quantity == "sigma":
        return conductivity_points(transport, times_T=False)
    return diffusivity_points(transport, species)


#: Legend lines of the Arrhenius plot are wrapped at this many characters (fits 6.4 in).
LEGEND_WIDTH_CHARS = 100


def _inverse_1000(v: np.ndarray) -> np.ndarray:
    """1000/v, elementwise, inf at 0 (maps 1000/T <-> T in K both ways)."""
    a = np.asarray(v, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a != 0.0, 1000.0 / np.where(a != 0.0, a, 1.0), np.inf)


def add_temperature_axis(ax: Axes, temperatures_K: np.ndarray | None = None) -> Axes:
    """Top axis in K for a bottom axis of 1000/T (1/K); ticks at ``temperatures_K`` if given.

    The bottom axis limits must stay > 0 (1000/T of real temperatures).
    """
    sec = ax.secondary_xaxis("top", functions=(_inverse_1000, _inverse_1000))
    if temperatures_K is not None and len(temperatures_K):
        sec.set_xticks(np.unique(np.round(np.asarray(temperatures_K, dtype=float), 6)))
    sec.set_xlabel("$T$ (K)")
    return sec


def arrhenius_figure(
    transport_df: pd.DataFrame, arrhenius_df: pd.DataFrame | None, quantity: str
) -> Figure:
    """The figure of :func:`plot_arrhenius` (not saved)."""
    if quantity not in ARRHENIUS_QUANTITIES:
        raise ValueError(
            f"quantity must be one of {sorted(ARRHENIUS_QUANTITIES)}, got {quantity!r}"
        )
    q, species = ARRHENIUS_QUANTITIES[quantity]
    points = _points_for(transport_df, q, species)
    pooled = pool_log10(points, ["campaign", "x", "m", "T_K"])
    if arrhenius_df is not None and not arrhenius_df.empty:
        arrhenius_df = flag_few_temperatures(arrhenius_df)
    comps = pooled[["campaign", "x", "m"]].drop_duplicates().sort_values(["campaign", "x", "m"])
    # the legend goes below the axes (long labels); the figure grows with its lines
    fig = Figure(figsize=(6.4, 4.6 + 0.14 * len(comps)), layout="constrained")
    ax = fig.subplots()
    several = comps["campaign"].nunique() > 1
    for i, comp in enumerate(comps.itertuples(index=False)):
        key = (comp.campaign, float(comp.x), float(comp.m))
        sel = pooled[
            (pooled["campaign"] == comp.campaign)
            & (pooled["x"] == comp.x)
            & (pooled["m"] == comp.m)
        ]
        T = sel["T_K"].to_numpy(dtype=float)
        err = sel["log10_se"].to_numpy(dtype=float)
        row = _fit_row(arrhenius_df, key, q, species)
        few = bool(row.get("few_temperatures", False)) and np.isfinite(_num(row.get("E_A_eV")))
        name = (f"{comp.campaign} " if several else "") + f"x={comp.x:.2f}, m={comp.m:.2f}"
        label = f"{name}: {_ea_label(row)}" if row else name
        if few:
            label += f" (few temperatures: {int(_num(row.get('n_temperatures')))} T)"
        label = textwrap.fill(label, LEGEND_WIDTH_CHARS, subsequent_indent="  ")
        ax.errorbar(
            1000.0 / T,
            sel["log10_mean"].to_numpy(dtype=float),
            yerr=np.where(np.isfinite(err), err, 0.0),
            fmt=MARKERS[i % len(MARKERS)],
            color=color(i),
            capsize=3,
            label=label,
        )
        if row and np.isfinite(_num(row.get("E_A_eV"))):
            t_lo, t_hi = _num(row.get("T_min_K")), _num(row.get("T_max_K"))
            if not (np.isfinite(t_lo) and np.isfinite(t_hi)):
                t_lo, t_hi = T.min(), T.max()
            tt = np.linspace(t_lo, t_hi, 100)
            ax.plot(
                1000.0 / tt, fitted_log10(row, tt), "--" if few else "-", color=color(i), lw=1.2
            )
    ax.set_xlabel(r"$1000/T$ (K$^{-1}$)")
    ax.set_ylabel(_YLABELS[quantity])
    if comps.empty:
        _no_data(ax, f"{NO_DATA} for {quantity}")
    else:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.14), frameon=False)
        add_temperature_axis(ax, pooled["T_K"].to_numpy(dtype=float))
    ax.set_title(f"Arrhenius: {quantity}")
    return fig


def plot_arrhenius(
    transport_df: pd.DataFrame,
    arrhenius_df: pd.DataFrame | None,
    quantity: str,
    path_png: str | Path,
) -> tuple[Path, Path]:
    """Arrhenius plot (physics.md §4 eq 10): log10 y against 1000/T, one colour per composition.

    ``quantity``: "D_Na", "D_Si", "D_S" (D in cm^2/s) or "sigmaT" (sigma*T in S K/cm).
    Points: replica-pooled (module docstring); lines: the fits of ``arrhenius_df``
    over their fitted T range; legend: composition and E_A with its CI (eV). A fit on
    fewer than :data:`MIN_FIT_TEMPERATURES` temperatures is dashed and flagged "few
    temperatures" in the legend (:func:`flag_few_temperatures`). The top axis gives T in
    K, with ticks at the measured temperatures.
    Returns the PNG and PDF paths (file name by convention
    :func:`arrhenius_figure_name`).
    """
    return _save(arrhenius_figure(transport_df, arrhenius_df, quantity), path_png)
