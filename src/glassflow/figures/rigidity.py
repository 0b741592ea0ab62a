"""Transport against m at fixed x, with the rigidity threshold m_c(x) (physics.md §6).

The rigidity-threshold figure (isotherms of D_Na and sigma, activation energies, each
panel with the eq 1 floppy fraction f(x, m) and the MD one) and the two figures in the style of the
PRL (Micoulaut 2025): transport isotherms and activation energies against m. Inputs are the
transport summary, the Arrhenius table and optionally a topology table with columns
``x, m, f_md`` (MD-derived floppy fraction; extra columns ignored). Points are
replica-pooled as in :func:`glassflow.campaign.arrhenius.pool_log10`, drawn with their
95 % intervals (:func:`glassflow.figures.maps.point_errors`); points that missed an
optional 1 sigma relative-error target are crossed. The m axis spans the data, not the
threshold: m_c is a vertical line inside the data range and a note outside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from glassflow.analysis.rigidity import critical_m, floppy_fraction
from glassflow.campaign.arrhenius import flag_few_temperatures
from glassflow.figures.common import MARKERS, NOT_DIFFUSIVE, X_TOL, _no_data, _num, _save, color
from glassflow.figures.maps import (
    POINT_ERROR_COLUMNS,
    draw_missed_targets,
    interval_level,
    point_errors,
)


def rigidity_figure_name(x: float) -> str:
    """``rigidity_threshold_x<x>.png`` with x to two decimals (as composition labels)."""
    return f"rigidity_threshold_x{x:.2f}.png"


def _select_x(df: pd.DataFrame | None, x: float) -> pd.DataFrame:
    if df is None or df.empty or "x" not in df.columns:
        return pd.DataFrame()
    return df[np.abs(df["x"].astype(float) - x) <= X_TOL]


def m_axis_limits(ms: np.ndarray, m_c: float) -> tuple[float, float]:
    """Range of the m axis (dimensionless): the data padded by max(0.1, 8 % of their span).

    m_c is not pulled in (:func:`mark_m_c` writes it on the plot when it lies outside);
    without data, 3 units around m_c (or around 3 when m_c <= 0).
    """
    if ms.size == 0:
        centre = m_c if m_c > 0 else 3.0
        return max(0.2, centre - 1.5), centre + 1.5
    lo, hi = float(np.min(ms)), float(np.max(ms))
    pad = max(0.1, 0.08 * (hi - lo))
    return max(1e-3, lo - pad), hi + pad


def m_c_outside_text(m_c: float) -> str:
    """Text naming an m_c outside the data, e.g. ``$m_c$ = 0.06 (outside the data)``."""
    return f"$m_c$ = {m_c:.2f} (outside the data)"


def mark_m_c(
    ax: Axes,
    m_c: float,
    limits: tuple[float, float],
    label: str,
    shade: bool = False,
) -> None:
    """The rigidity threshold m_c on an axis whose m range is ``limits``.

    Inside the range: a dashed vertical line labelled ``label``; outside: a legend entry
    without a line, :func:`m_c_outside_text` with an arrow to m_c's side (the legend's
    "best" place keeps it off the data, and it makes a legend even on an empty panel);
    the axis is not stretched. ``shade``: the flexible side m > m_c within the range is
    tinted.
    """
    lo, hi = limits
    if lo <= m_c <= hi:
        ax.axvline(m_c, color="0.3", ls="--", lw=1.2, label=label)
    else:
        text = ("← " if m_c < lo else "") + m_c_outside_text(m_c) + (" →" if m_c > hi else "")
        ax.plot([], [], ls="none", label=text)
    if shade and m_c < hi:
        ax.axvspan(max(m_c, lo), hi, color=color(2), alpha=0.08, lw=0)


def _not_diffusive_vs_m(transport: pd.DataFrame, errs: pd.DataFrame) -> pd.DataFrame:
    """(T_K, m) with runs in ``transport`` but no diffusive point in ``errs``."""
    if transport.empty:
        return pd.DataFrame(columns=["T_K", "m"])
    have = set()
    if not errs.empty:
        have = set(zip(errs["T_K"].astype(float), errs["m"].astype(float), strict=True))
    runs = transport[["T_K", "m"]].astype(float).drop_duplicates()
    keep = [(t, m) not in have for t, m in zip(runs["T_K"], runs["m"], strict=True)]
    return runs[keep].sort_values(["T_K", "m"]).reset_index(drop=True)


def _transport_errors(
    transport: pd.DataFrame, quantity: str, targets: Mapping[str, float] | None
) -> pd.DataFrame:
    """:func:`glassflow.figures.maps.point_errors` per (T_K, m) (empty without runs)."""
    if transport.empty:
        return pd.DataFrame(columns=["T_K", "m", *POINT_ERROR_COLUMNS])
    return point_errors(transport, quantity, ("T_K", "m"), targets)


def _draw_isotherms(
    ax: Axes, errs: pd.DataFrame, temps: Sequence[float], ratio: bool = False
) -> bool:
    """Value against m, one curve per temperature, with confidence-interval error bars.

    ``errs``: rows of :func:`glassflow.figures.maps.point_errors` keyed (T_K, m); bars
    from ``lo`` to ``hi`` (unit of the value). ``ratio``: the legend gives, per T, the
    largest value over the one at the smallest m. Log y axis when anything is drawn.
    """
    if errs.empty:
        return False
    for i, T in enumerate(temps):
        sel = errs[errs["T_K"] == T].sort_values("m")
        if sel.empty:
            continue
        value = sel["value"].to_numpy(dtype=float)
        lo = np.nan_to_num(value - sel["lo"].to_numpy(dtype=float)).clip(min=0.0)
        hi = np.nan_to_num(sel["hi"].to_numpy(dtype=float) - value).clip(min=0.0)
        extra = ""
        if ratio and value.size > 1:
            extra = f", max/first m = x{value.max() / value[0]:.1f}"
        ax.errorbar(
            sel["m"].to_numpy(dtype=float),
            value,
            yerr=[lo, hi],
            fmt=MARKERS[i % len(MARKERS)] + "-",
            color=color(i),
            capsize=3,
            label=f"{T:.0f} K{extra}",
        )
    ax.set_yscale("log")
    return True


def _draw_missed_vs_m(
    ax: Axes, errs: pd.DataFrame, quantity: str, targets: Mapping[str, float] | None
) -> None:
    """Cross over the (m, value) points that missed ``targets[quantity]``."""
    if errs.empty or not targets or quantity not in targets:
        return
    sel = errs[errs["missed"].to_numpy(dtype=bool)]
    draw_missed_targets(
        ax, sel["m"].to_numpy(dtype=float), sel["value"].to_numpy(dtype=float), targets[quantity]
    )


def _draw_not_diffusive(ax: Axes, missing: pd.DataFrame, temps: Sequence[float]) -> None:
    """Runs without a diffusive value: hollow markers on the bottom edge of the panel
    (they have no value to plot), one row per temperature."""
    for i, T in enumerate(temps):
        miss = missing[missing["T_K"] == T] if not missing.empty else missing
        if miss.empty:
            continue
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
    *,
    targets: Mapping[str, float] | None = None,
) -> tuple[Path, Path]:
    """D_Na, sigma and E_A against m at fixed x, with the rigidity threshold (physics.md §6).

    Panels: D_Na (cm^2/s) and sigma (S/cm), one line per temperature (replica-pooled,
    log axis, 95 % error bars of :func:`glassflow.figures.maps.point_errors`: the level
    of the table's ``ci_level``, :func:`glassflow.figures.maps.interval_level`),
    and E_A (eV, with its CI) of D_Na and sigma*T. ``targets`` (quantity -> 1 sigma
    relative error, fraction; keys ``"D_Na"``, ``"sigma"``): points that missed theirs
    are crossed (legend "missed target (1σ > X %)"); none without a target. The m axis
    spans the data (:func:`m_axis_limits`); every panel marks m_c(x) (:func:`mark_m_c`:
    vertical dashed line inside the data, text outside) and carries on a secondary axis
    the constraint-count floppy fraction f(x, m) (eq 1) and, if ``topology_df`` is
    given, its ``f_md`` column as points (mean ± std over rows with that (x, m); the
    quenched glasses only when the table has ``stage == "glass"`` rows, since eq 1 is a
    T = 0 count). Compositions are matched on |x - x_req| <= 1e-6; campaigns are pooled.
    """
    fig = rigidity_threshold_figure(transport_df, arrhenius_df, topology_df, x, targets)
    return _save(fig, path_png)


def _glass_topology(topology_df: pd.DataFrame | None, x: float) -> pd.DataFrame:
    """Topology rows at x (the quenched glasses when the table has them)."""
    topo = _select_x(topology_df, x)
    if not topo.empty and "f_md" not in topo.columns:
        raise ValueError("topology table lacks column 'f_md'")
    if not topo.empty and "stage" in topo.columns and (topo["stage"] == "glass").any():
        topo = topo[topo["stage"] == "glass"]
    return topo


def _draw_floppy_twin(ax: Axes, x: float, limits: tuple[float, float], topo: pd.DataFrame) -> Axes:
    """Secondary axis with f(x, m) of eq 1 (dotted) and the MD ``f_md`` (mean ± std)."""
    m_grid = np.linspace(*limits, 200)
    twin = ax.twinx()
    twin.plot(
        m_grid, floppy_fraction(x, m_grid), ":", color=color(6), lw=1.5, label="$f(x, m)$, eq 1"
    )
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
    return twin


def rigidity_threshold_figure(
    transport_df: pd.DataFrame,
    arrhenius_df: pd.DataFrame | None,
    topology_df: pd.DataFrame | None,
    x: float,
    targets: Mapping[str, float] | None = None,
) -> Figure:
    """The figure of :func:`plot_rigidity_threshold` (not saved)."""
    transport = _select_x(transport_df, x)
    arr = _select_x(arrhenius_df, x)
    topo = _glass_topology(topology_df, x)
    m_c = float(critical_m(x))
    temps = sorted(transport["T_K"].astype(float).unique()) if len(transport) else []
    d_err = _transport_errors(transport, "D_Na", targets)
    s_err = _transport_errors(transport, "sigma", targets)
    ms = [
        t["m"].to_numpy(dtype=float)
        for t in (transport, arr, topo)
        if not t.empty and "m" in t.columns
    ]
    limits = m_axis_limits(np.concatenate(ms) if ms else np.empty(0), m_c)

    fig = Figure(figsize=(6.4, 9.0), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    drawn = []
    for ax, errs, quantity in ((axes[0], d_err, "D_Na"), (axes[1], s_err, "sigma")):
        drawn.append(_draw_isotherms(ax, errs, temps))
        _draw_missed_vs_m(ax, errs, quantity, targets)
    drawn.append(_plot_activation(axes[2], arr))
    axes[0].set_ylabel(r"$D_\mathrm{Na}$ (cm$^2$ s$^{-1}$)")
    axes[1].set_ylabel(r"$\sigma$ (S cm$^{-1}$)")
    axes[2].set_ylabel(r"$E_A$ (eV)")
    axes[2].set_xlabel("flexibility index $m$ (S:Si in SiS$_m$, dimensionless)")
    for ax, ok in zip(axes, drawn, strict=True):
        ax.set_xlim(*limits)
        mark_m_c(ax, m_c, limits, f"$m_c$ = {m_c:.2f}")
        twin = _draw_floppy_twin(ax, x, limits, topo)
        if not ok:
            _no_data(ax)
        handles, labels = ax.get_legend_handles_labels()
        h2, l2 = twin.get_legend_handles_labels()
        if handles or h2:
            ax.legend(handles + h2, labels + l2, fontsize=7, loc="best")
    inside = limits[0] <= m_c <= limits[1]
    threshold = f"rigidity threshold $m_c$ = {m_c:.2f}" if inside else m_c_outside_text(m_c)
    axes[0].set_title(
        f"x = {x:.2f}: {threshold}; error bars: {100 * interval_level(transport):g} % intervals",
        fontsize=9,
    )
    return fig


def prl_figure_name(kind: str, x: float) -> str:
    """``prl_<kind>_x<x>.png`` (kind "transport" or "activation"), x to two decimals."""
    return f"prl_{kind}_x{x:.2f}.png"


def prl_transport_figure(
    transport_df: pd.DataFrame, x: float, targets: Mapping[str, float] | None = None
) -> Figure:
    """The figure of :func:`plot_prl_transport_vs_m` (not saved)."""
    transport = _select_x(transport_df, x)
    m_c = float(critical_m(x))
    temps = sorted(transport["T_K"].astype(float).unique()) if len(transport) else []
    ms = transport["m"].to_numpy(dtype=float) if len(transport) else np.empty(0)
    limits = m_axis_limits(ms, m_c)
    fig = Figure(figsize=(6.4, 7.6), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    panels = (
        ("sigma", r"collective $\sigma$ (S cm$^{-1}$), eq 5"),
        ("D_Na", r"$D_\mathrm{Na}$ (cm$^2$ s$^{-1}$)"),
    )
    for ax, (quantity, ylabel) in zip(axes, panels, strict=True):
        errs = _transport_errors(transport, quantity, targets)
        if not _draw_isotherms(ax, errs, temps, ratio=True):
            _no_data(ax)
        _draw_missed_vs_m(ax, errs, quantity, targets)
        _draw_not_diffusive(ax, _not_diffusive_vs_m(transport, errs), temps)
        ax.set_ylabel(ylabel)
        ax.set_xlim(*limits)
        mark_m_c(ax, m_c, limits, f"$m_c(x)$ = {m_c:.2f} (eq 1)", shade=True)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=7, loc="best")
    axes[1].set_xlabel("flexibility index $m$ (S:Si in SiS$_m$)")
    where = "" if limits[0] <= m_c <= limits[1] else " (outside the data)"
    axes[0].set_title(
        f"x = {x:.2f}: transport against flexibility; $m_c$ = {m_c:.2f}{where};\n"
        f"shaded: flexible (f > 0); error bars: {100 * interval_level(transport):g} % intervals",
        fontsize=9,
    )
    return fig


def plot_prl_transport_vs_m(
    transport_df: pd.DataFrame,
    x: float,
    path_png: str | Path,
    *,
    targets: Mapping[str, float] | None = None,
) -> tuple[Path, Path]:
    """The PRL's test: collective sigma and D_Na against m at fixed x, one curve per T.

    ``transport_df``: the campaign transport table (``TRANSPORT_COLUMNS``). sigma is the
    collective conductivity ``sigma_S_cm`` (docs/physics.md §4, eq 5: the charge MSD of all
    ions with the run's charges, cross terms kept, as in the PRL); D_Na the Einstein
    diffusivity. Points are replica-pooled (mean of log10, module docstring) with 95 %
    error bars (:func:`glassflow.figures.maps.point_errors`, at the table's
    ``ci_level``); runs
    without a diffusive value are hollow markers on the bottom edge ("not diffusive").
    ``targets`` (quantity -> 1 sigma relative error, fraction; keys ``"sigma"``,
    ``"D_Na"``): points that missed theirs are crossed; none without a target. The
    legend gives, per T, the ratio of the largest value to the one at the smallest m
    (the PRL reports about x10 near m_c for NS9). The m axis spans the data; m_c(x) of
    eq 1 is the dashed line when inside it, else named in a note (:func:`mark_m_c`);
    the flexible side (m > m_c) is shaded. Compositions match x within 1e-6.
    """
    return _save(prl_transport_figure(transport_df, x, targets), path_png)


def prl_activation_figure(arrhenius_df: pd.DataFrame | None, x: float) -> Figure:
    """The figure of :func:`plot_prl_activation_vs_m` (not saved)."""
    arr = _select_x(arrhenius_df, x)
    if not arr.empty:
        arr = flag_few_temperatures(arr)
    m_c = float(critical_m(x))
    ms = arr["m"].to_numpy(dtype=float) if not arr.empty else np.empty(0)
    limits = m_axis_limits(ms, m_c)
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    if not _draw_activation_series(ax, arr):
        _no_data(ax, "no Arrhenius fit at this x")
    ax.set_xlim(*limits)
    mark_m_c(ax, m_c, limits, f"$m_c(x)$ = {m_c:.2f} (eq 1)", shade=True)
    ax.set_xlabel("flexibility index $m$ (S:Si in SiS$_m$)")
    ax.set_ylabel("activation energy $E_A$ (eV)")
    ax.set_title(
        f"x = {x:.2f}: activation energy against flexibility (PRL: minimal near $m_c$);\n"
        "error bars: confidence interval of the fit (ci_level of the Arrhenius table)",
        fontsize=9,
    )
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, loc="best")
    return fig


def _draw_activation_series(ax: Axes, arr: pd.DataFrame) -> bool:
    """E_A (eV) of sigma*T and D_Na against m with their CI; hollow: few temperatures."""
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
    return drawn


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
