"""Transport against m at fixed x, with the rigidity threshold m_c(x) (physics.md §6).

The rigidity-threshold figure (isotherms of D_Na and sigma, activation energies, each
panel with the eq 1 floppy fraction f(x, m) and the MD one) and the two figures in the style of the
PRL (Micoulaut 2025): transport isotherms and activation energies against m. Inputs are the
transport summary, the Arrhenius table and optionally a topology table with columns
``x, m, f_md`` (MD-derived floppy fraction; extra columns ignored). Points are
replica-pooled as in :func:`glassflow.campaign.arrhenius.pool_log10`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from glassflow.analysis.rigidity import critical_m, floppy_fraction
from glassflow.campaign.arrhenius import (
    conductivity_points,
    diffusivity_points,
    flag_few_temperatures,
    pool_log10,
)
from glassflow.figures.common import MARKERS, NOT_DIFFUSIVE, X_TOL, _no_data, _num, _save, color


def rigidity_figure_name(x: float) -> str:
    """``rigidity_threshold_x<x>.png`` with x to two decimals (as composition labels)."""
    return f"rigidity_threshold_x{x:.2f}.png"


def _select_x(df: pd.DataFrame | None, x: float) -> pd.DataFrame:
    if df is None or df.empty or "x" not in df.columns:
        return pd.DataFrame()
    return df[np.abs(df["x"].astype(float) - x) <= X_TOL]


def _m_limits(ms: np.ndarray, m_c: float) -> tuple[float, float]:
    """Plot range of m: data padded; includes m_c when it lies within 2 of the data."""
    if ms.size == 0:
        centre = m_c if m_c > 0 else 3.0
        return max(0.2, centre - 1.5), centre + 1.5
    lo, hi = float(ms.min()), float(ms.max())
    if m_c > 0 and lo - 2.0 <= m_c <= hi + 2.0:
        lo, hi = min(lo, m_c), max(hi, m_c)
    pad = max(0.1, 0.08 * (hi - lo))
    return max(1e-3, lo - pad), hi + pad


def _pooled_vs_m(points: pd.DataFrame) -> pd.DataFrame:
    return pool_log10(points, ["T_K", "m"]) if not points.empty else pd.DataFrame()


def _plot_isotherms(ax: Axes, pooled: pd.DataFrame) -> bool:
    if pooled.empty:
        return False
    for i, T in enumerate(sorted(pooled["T_K"].unique())):
        sel = pooled[pooled["T_K"] == T].sort_values("m")
        mean = sel["log10_mean"].to_numpy(dtype=float)
        se = np.nan_to_num(sel["log10_se"].to_numpy(dtype=float))
        centre = 10.0**mean
        ax.errorbar(
            sel["m"].to_numpy(dtype=float),
            centre,
            yerr=[centre - 10.0 ** (mean - se), 10.0 ** (mean + se) - centre],
            fmt=MARKERS[i % len(MARKERS)] + "-",
            color=color(i),
            capsize=3,
            label=f"{T:.0f} K",
        )
    ax.set_yscale("log")
    return True


def _plot_activation(ax: Axes, arr: pd.DataFrame) -> bool:
    drawn = False
    series = (("D", "Na", r"$D_\mathrm{Na}$"), ("sigmaT", "all", r"$\sigma T$"))
    for i, (q, sp, lab) in enumerate(series):
        if arr.empty:
            break
        sel = arr[(arr["quantity"] == q) & (arr["species"] == sp)].sort_values("m")
        e = np.array([_num(v) for v in sel["E_A_eV"]])
        ok = np.isfinite(e)
        if not ok.any():
            continue
        lo = np.array([_num(v) for v in sel["E_A_lo_eV"]])[ok]
        hi = np.array([_num(v) for v in sel["E_A_hi_eV"]])[ok]
        e = e[ok]
        yerr = [np.nan_to_num(e - lo), np.nan_to_num(hi - e)]
        ax.errorbar(
            sel["m"].to_numpy(dtype=float)[ok],
            e,
            yerr=yerr,
            fmt=MARKERS[i] + "-",
            color=color(i + 4),
            capsize=3,
            label=f"$E_A$ of {lab}",
        )
        drawn = True
    return drawn


def plot_rigidity_threshold(
    transport_df: pd.DataFrame,
    arrhenius_df: pd.DataFrame | None,
    topology_df: pd.DataFrame | None,
    x: float,
    path_png: str | Path,
) -> tuple[Path, Path]:
    """D_Na, sigma and E_A against m at fixed x, with the rigidity threshold (physics.md §6).

    Panels: D_Na (cm^2/s) and sigma (S/cm), one line per temperature (replica-pooled,
    log axis), and E_A (eV, with CI) of D_Na and sigma*T. Every panel marks
    m_c(x) (vertical dashed line, when m_c > 0) and carries on a secondary axis the
    constraint-count floppy fraction f(x, m) (eq 1) and, if ``topology_df`` is given,
    its ``f_md`` column as points (mean ± std over rows with that (x, m); the quenched
    glasses only when the table has ``stage == "glass"`` rows, since eq 1 is a T = 0
    count). Compositions are matched on |x - x_req| <= 1e-6; campaigns are pooled.
    """
    fig = rigidity_threshold_figure(transport_df, arrhenius_df, topology_df, x)
    return _save(fig, path_png)


def rigidity_threshold_figure(
    transport_df: pd.DataFrame,
    arrhenius_df: pd.DataFrame | None,
    topology_df: pd.DataFrame | None,
    x: float,
) -> Figure:
    """The figure of :func:`plot_rigidity_threshold` (not saved)."""
    transport = _select_x(transport_df, x)
    arr = _select_x(arrhenius_df, x)
    topo = _select_x(topology_df, x)
    if not topo.empty and "f_md" not in topo.columns:
        raise ValueError("topology table lacks column 'f_md'")
    if not topo.empty and "stage" in topo.columns and (topo["stage"] == "glass").any():
        topo = topo[topo["stage"] == "glass"]
    m_c = float(critical_m(x))
    d_pool = _pooled_vs_m(diffusivity_points(transport, "Na")) if not transport.empty else None
    s_pool = _pooled_vs_m(conductivity_points(transport)) if not transport.empty else None
    ms = [
        t["m"].to_numpy(dtype=float)
        for t in (transport, arr, topo)
        if not t.empty and "m" in t.columns
    ]
    m_lo, m_hi = _m_limits(np.concatenate(ms) if ms else np.empty(0), m_c)
    m_grid = np.linspace(m_lo, m_hi, 200)
    f_curve = floppy_fraction(x, m_grid)

    fig = Figure(figsize=(6.4, 9.0), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    ok_d = _plot_isotherms(axes[0], d_pool if d_pool is not None else pd.DataFrame())
    ok_s = _plot_isotherms(axes[1], s_pool if s_pool is not None else pd.DataFrame())
    ok_e = _plot_activation(axes[2], arr)
    axes[0].set_ylabel(r"$D_\mathrm{Na}$ (cm$^2$ s$^{-1}$)")
    axes[1].set_ylabel(r"$\sigma$ (S cm$^{-1}$)")
    axes[2].set_ylabel(r"$E_A$ (eV)")
    axes[2].set_xlabel("flexibility index $m$ (S:Si in SiS$_m$, dimensionless)")
    for ax, ok in zip(axes, (ok_d, ok_s, ok_e), strict=True):
        ax.set_xlim(m_lo, m_hi)
        if m_lo <= m_c <= m_hi:
            ax.axvline(m_c, color="0.4", ls="--", lw=1.0, label=f"$m_c$ = {m_c:.2f}")
        twin = ax.twinx()
        twin.plot(m_grid, f_curve, ":", color=color(6), lw=1.5, label="$f(x, m)$, eq 1")
        twin.axhline(0.0, color=color(6), lw=0.5, alpha=0.5)
        if not topo.empty:
            g = topo.groupby("m")["f_md"].agg(["mean", "std"]).reset_index()
            twin.errorbar(
                g["m"].to_numpy(dtype=float),
                g["mean"].to_numpy(dtype=float),
                yerr=np.nan_to_num(g["std"].to_numpy(dtype=float)),
                fmt="D",
                mfc="none",
                color=color(6),
                capsize=2,
                label="$f$ (MD)",
            )
        twin.set_ylabel("floppy fraction $f$ (per atom)", color=color(6))
        if not ok:
            _no_data(ax)
        handles, labels = ax.get_legend_handles_labels()
        h2, l2 = twin.get_legend_handles_labels()
        if handles or h2:
            ax.legend(handles + h2, labels + l2, fontsize=7, loc="best")
    if not (m_lo <= m_c <= m_hi):
        axes[0].set_title(f"x = {x:.2f}: $m_c$ = {m_c:.2f} outside the plotted range")
    else:
        axes[0].set_title(f"x = {x:.2f}: rigidity threshold $m_c$ = {m_c:.2f}")
    return fig


def prl_figure_name(kind: str, x: float) -> str:
    """``prl_<kind>_x<x>.png`` (kind "transport" or "activation"), x to two decimals."""
    return f"prl_{kind}_x{x:.2f}.png"


def _not_diffusive_vs_m(transport: pd.DataFrame, pooled: pd.DataFrame) -> pd.DataFrame:
    """(T_K, m) with runs in ``transport`` but no pooled diffusive value."""
    have = set()
    if not pooled.empty:
        have = set(zip(pooled["T_K"].astype(float), pooled["m"].astype(float), strict=True))
    runs = transport[["T_K", "m"]].astype(float).drop_duplicates()
    keep = [(t, m) not in have for t, m in zip(runs["T_K"], runs["m"], strict=True)]
    return runs[keep].sort_values(["T_K", "m"]).reset_index(drop=True)


def _isotherms_vs_m(ax: Axes, pooled: pd.DataFrame, missing: pd.DataFrame, temps: list) -> None:
    """log-y isotherms against m; runs without a diffusive value as hollow markers at the
    bottom edge of the panel (they have no value to plot). The y axis is logarithmic only
    when there are values (a log axis without data cannot place its ticks)."""
    for i, T in enumerate(temps):
        sel = pooled[pooled["T_K"] == T].sort_values("m") if not pooled.empty else pooled
        if not sel.empty:
            mean = sel["log10_mean"].to_numpy(dtype=float)
            se = np.nan_to_num(sel["log10_se"].to_numpy(dtype=float))
            centre = 10.0**mean
            ratio = 10.0 ** (mean.max() - mean[0]) if mean.size > 1 else float("nan")
            extra = f", max/first m = x{ratio:.1f}" if np.isfinite(ratio) else ""
            ax.errorbar(
                sel["m"].to_numpy(dtype=float),
                centre,
                yerr=[centre - 10.0 ** (mean - se), 10.0 ** (mean + se) - centre],
                fmt=MARKERS[i % len(MARKERS)] + "-",
                color=color(i),
                capsize=3,
                label=f"{T:.0f} K{extra}",
            )
        miss = missing[missing["T_K"] == T] if not missing.empty else missing
        if not miss.empty:
            ax.scatter(
                miss["m"].to_numpy(dtype=float),
                np.full(len(miss), 0.03 + 0.03 * i),
                transform=ax.get_xaxis_transform(),
                marker=MARKERS[i % len(MARKERS)],
                facecolors="none",
                edgecolors=color(i),
                s=45,
                zorder=4,
                label=f"{T:.0f} K: {NOT_DIFFUSIVE}",
            )
    if not pooled.empty:
        ax.set_yscale("log")


def prl_transport_figure(transport_df: pd.DataFrame, x: float) -> Figure:
    """The figure of :func:`plot_prl_transport_vs_m` (not saved)."""
    transport = _select_x(transport_df, x)
    m_c = float(critical_m(x))
    sig = pool_log10(conductivity_points(transport), ["T_K", "m"]) if len(transport) else None
    dna = pool_log10(diffusivity_points(transport, "Na"), ["T_K", "m"]) if len(transport) else None
    temps = sorted(transport["T_K"].astype(float).unique()) if len(transport) else []
    ms = transport["m"].to_numpy(dtype=float) if len(transport) else np.empty(0)
    m_lo, m_hi = _m_limits(ms, m_c)
    fig = Figure(figsize=(6.4, 7.6), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    panels = (
        (sig, r"collective $\sigma$ (S cm$^{-1}$), eq 5"),
        (dna, r"$D_\mathrm{Na}$ (cm$^2$ s$^{-1}$)"),
    )
    for ax, (pooled, ylabel) in zip(axes, panels, strict=True):
        pooled = pooled if pooled is not None else pd.DataFrame()
        missing = _not_diffusive_vs_m(transport, pooled) if len(transport) else pd.DataFrame()
        _isotherms_vs_m(ax, pooled, missing, temps)
        if pooled.empty:
            _no_data(ax)
        ax.set_ylabel(ylabel)
        ax.set_xlim(m_lo, m_hi)
        if m_lo <= m_c <= m_hi:
            ax.axvline(m_c, color="0.3", ls="--", lw=1.2, label=f"$m_c(x)$ = {m_c:.2f} (eq 1)")
            ax.axvspan(m_c, m_hi, color=color(2), alpha=0.08, lw=0)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=7, loc="best")
    axes[1].set_xlabel("flexibility index $m$ (S:Si in SiS$_m$)")
    where = "" if m_lo <= m_c <= m_hi else " (outside the plotted range)"
    axes[0].set_title(
        f"x = {x:.2f}: transport against flexibility; $m_c$ = {m_c:.2f}{where};\n"
        "shaded: flexible (f > 0)",
        fontsize=9,
    )
    return fig


def plot_prl_transport_vs_m(
    transport_df: pd.DataFrame, x: float, path_png: str | Path
) -> tuple[Path, Path]:
    """The PRL's test: collective sigma and D_Na against m at fixed x, one curve per T.

    ``transport_df``: the campaign transport table (``TRANSPORT_COLUMNS``). sigma is the
    collective conductivity ``sigma_S_cm`` (docs/physics.md §4, eq 5: the charge MSD of all
    ions with the run's charges, cross terms kept, as in the PRL); D_Na the Einstein
    diffusivity. Points are replica-pooled (mean of log10, module docstring); runs
    without a diffusive value are hollow markers on the bottom edge ("not diffusive").
    The legend gives, per T, the ratio of the largest value to the one at the smallest
    m (the PRL reports about x10 near m_c for NS9). m_c(x) of eq 1 is the dashed line;
    the flexible side (m > m_c) is shaded. Compositions match x within 1e-6.
    """
    return _save(prl_transport_figure(transport_df, x), path_png)


def prl_activation_figure(arrhenius_df: pd.DataFrame | None, x: float) -> Figure:
    """The figure of :func:`plot_prl_activation_vs_m` (not saved)."""
    arr = _select_x(arrhenius_df, x)
    if not arr.empty:
        arr = flag_few_temperatures(arr)
    m_c = float(critical_m(x))
    ms = arr["m"].to_numpy(dtype=float) if not arr.empty else np.empty(0)
    m_lo, m_hi = _m_limits(ms, m_c)
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    drawn = False
    series = (("sigmaT", "all", r"$\sigma T$ ($\Delta$, eq 10)"), ("D", "Na", r"$D_\mathrm{Na}$"))
    for i, (q, sp, lab) in enumerate(series):
        if arr.empty:
            break
        sel = arr[(arr["quantity"] == q) & (arr["species"] == sp)].sort_values("m")
        e = np.array([_num(v) for v in sel["E_A_eV"]])
        ok = np.isfinite(e)
        if not ok.any():
            continue
        lo = np.array([_num(v) for v in sel["E_A_lo_eV"]])
        hi = np.array([_num(v) for v in sel["E_A_hi_eV"]])
        few = sel["few_temperatures"].to_numpy(dtype=bool)
        m = sel["m"].to_numpy(dtype=float)
        c = color(i + 4)
        ax.plot(m[ok], e[ok], "-", color=c, lw=1.0)
        for mask, filled, suffix in (
            (ok & ~few, True, ""),
            (ok & few, False, ", few temperatures"),
        ):
            if mask.any():
                ax.errorbar(
                    m[mask],
                    e[mask],
                    yerr=[np.nan_to_num(e[mask] - lo[mask]), np.nan_to_num(hi[mask] - e[mask])],
                    fmt=MARKERS[i],
                    color=c,
                    mfc=c if filled else "none",
                    capsize=3,
                    ls="none",
                    label=f"$E_A$ of {lab}{suffix}",
                )
        drawn = True
    if not drawn:
        _no_data(ax, "no Arrhenius fit at this x")
    ax.set_xlim(m_lo, m_hi)
    if m_lo <= m_c <= m_hi:
        ax.axvline(m_c, color="0.3", ls="--", lw=1.2, label=f"$m_c(x)$ = {m_c:.2f} (eq 1)")
        ax.axvspan(m_c, m_hi, color=color(2), alpha=0.08, lw=0)
    ax.set_xlabel("flexibility index $m$ (S:Si in SiS$_m$)")
    ax.set_ylabel("activation energy $E_A$ (eV)")
    ax.set_title(
        f"x = {x:.2f}: activation energy against flexibility (PRL: minimal near $m_c$)", fontsize=9
    )
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, loc="best")
    return fig


def plot_prl_activation_vs_m(
    arrhenius_df: pd.DataFrame | None, x: float, path_png: str | Path
) -> tuple[Path, Path]:
    """E_A of sigma*T (and of D_Na) against m at fixed x, with its CI and m_c(x) marked.

    ``arrhenius_df``: the campaign Arrhenius table (``ARRHENIUS_COLUMNS``). The conductivity
    activation is the slope of ln(sigma T) (docs/physics.md §4, eq 10). Fits through fewer
    than :data:`MIN_FIT_TEMPERATURES` temperatures are hollow and labelled "few
    temperatures" (:func:`flag_few_temperatures`).
    """
    return _save(prl_activation_figure(arrhenius_df, x), path_png)
