"""Campaign figures: Arrhenius plots, rigidity threshold at fixed x, sigma over (x, m).

Each figure is written as PNG and PDF (same stem). Inputs are the transport summary
(columns :data:`glassflow.arrhenius.TRANSPORT_COLUMNS`), the Arrhenius table of
:func:`glassflow.arrhenius.arrhenius_table` and optionally a topology table with
columns ``x, m, f_md`` (MD-derived floppy fraction; extra columns ignored).

Replica pooling for plotted points: per (composition, T) the mean of ``log10 y`` over
replicas; error bars are its standard error (>= 2 replicas) or the propagated error
``y_err / (y ln 10)`` (one replica). Missing data never raise: the affected panel
carries a "no diffusive points" note instead. Colours: Okabe-Ito (colourblind safe).
Figures are built on ``matplotlib.figure.Figure`` directly (Agg canvas, no pyplot
state), so the module is safe in headless workers.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from glassflow.arrhenius import KB_EV_K, conductivity_points, diffusivity_points
from glassflow.composition_map import (
    HoppingInputs,
    hopping_log10_field,
    interpolate_field,
    shared_limits,
)
from glassflow.constraint_diagnostics import KEY_COLUMNS, TERMS, constraint_diagnostic
from glassflow.rigidity import critical_m, critical_x, floppy_fraction

#: Okabe-Ito colourblind-safe palette, ordered for lines on white (yellow last).
PALETTE: tuple[str, ...] = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#F0E442",
)
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
X_TOL = 1e-6  # composition x matching tolerance
T_TOL_K = 0.5  # temperature matching tolerance, K
NO_DATA = "no diffusive points"

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


# --------------------------------------------------------------------------- file names


def arrhenius_figure_name(quantity: str) -> str:
    """``arrhenius_<quantity>.png``."""
    return f"arrhenius_{quantity}.png"


def rigidity_figure_name(x: float) -> str:
    """``rigidity_threshold_x<x>.png`` with x to two decimals (as composition labels)."""
    return f"rigidity_threshold_x{x:.2f}.png"


def conductivity_map_name(T_K: float) -> str:
    """``conductivity_map_T<T>.png`` with T in integer kelvin."""
    return f"conductivity_map_T{int(round(T_K))}.png"


# --------------------------------------------------------------------------- helpers


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _save(fig: Figure, path_png: str | Path) -> tuple[Path, Path]:
    png = Path(path_png)
    if png.suffix.lower() != ".png":
        png = png.with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    pdf = png.with_suffix(".pdf")
    fig.savefig(png, dpi=150)
    fig.savefig(pdf)
    return png, pdf


def _no_data(ax: Axes, text: str = NO_DATA) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=11,
        color="0.3",
        bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        zorder=10,
    )


def pool_log10(points: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per ``keys`` group: ``log10_mean``, ``log10_se`` and ``n`` (replicas) of ``y``.

    ``points`` has columns ``y`` > 0 and ``y_err`` (as from ``diffusivity_points``).
    The error is the standard error of the mean of log10 y for n >= 2, else the
    propagated ``y_err/(y ln 10)`` (NaN if unknown).
    """
    cols = [*keys, "log10_mean", "log10_se", "n"]
    if points.empty:
        return pd.DataFrame(columns=cols)
    df = points.assign(
        _l=np.log10(points["y"].to_numpy(dtype=float)),
        _e=points["y_err"].to_numpy(dtype=float) / (points["y"].to_numpy(dtype=float) * np.log(10)),
    )
    g = df.groupby(keys, sort=True)
    out = g.agg(log10_mean=("_l", "mean"), _sd=("_l", "std"), n=("_l", "size"), _e=("_e", "mean"))
    out["log10_se"] = np.where(out["n"] >= 2, out["_sd"] / np.sqrt(out["n"]), out["_e"])
    return out.reset_index()[cols]


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


def _num(v: object) -> float:
    """Float from a possibly-<NA> cell (NaN when missing)."""
    try:
        return float("nan") if v is None or pd.isna(v) else float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


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


# --------------------------------------------------------------------------- Arrhenius


#: Legend lines of the Arrhenius plot are wrapped at this many characters (fits 6.4 in).
LEGEND_WIDTH_CHARS = 100
#: An Arrhenius line through fewer distinct temperatures than this is flagged.
MIN_FIT_TEMPERATURES = 3


def flag_few_temperatures(
    arrhenius_df: pd.DataFrame, min_temperatures: int = MIN_FIT_TEMPERATURES
) -> pd.DataFrame:
    """Copy of an Arrhenius table with a bool column ``few_temperatures``.

    True when a fit exists (finite ``E_A_eV``, when that column is present) and used
    fewer than ``min_temperatures`` distinct temperatures (column ``n_temperatures``;
    ``n_points`` when that column is absent): two temperatures always give an exact
    line, so its E_A carries no check of the Arrhenius form. Rows without a fit are False
    (their ``reason`` says why).
    """
    col = "n_temperatures" if "n_temperatures" in arrhenius_df.columns else "n_points"
    if col not in arrhenius_df.columns:
        raise KeyError("Arrhenius table needs a 'n_temperatures' or 'n_points' column")
    n = pd.to_numeric(arrhenius_df[col], errors="coerce").astype("Float64")
    few = (n < min_temperatures).fillna(False).to_numpy(dtype=bool)
    if "E_A_eV" in arrhenius_df.columns:
        e = pd.to_numeric(arrhenius_df["E_A_eV"], errors="coerce").astype("Float64")
        few &= np.isfinite(e.to_numpy(dtype=float, na_value=np.nan))
    return arrhenius_df.assign(few_temperatures=few)


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


# --------------------------------------------------------------------------- rigidity


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


# --------------------------------------------------------------------------- (x, m) map

#: Map quantities: points function, colour-bar label, title word.
MAP_QUANTITIES: dict[str, tuple[str, str]] = {
    "sigma": (r"$\log_{10} \sigma$ (S cm$^{-1}$)", "conductivity"),
    "D_Na": (r"$\log_{10} D_\mathrm{Na}$ (cm$^2$ s$^{-1}$)", "Na diffusivity"),
}
#: GP standard deviation (decades) contoured on the mean panel (the wash fades with the std).
MAP_STD_CONTOUR_DEC = 0.3
#: Upper end of the (fixed) colour scale of the GP standard-deviation panel, decades.
MAP_STD_MAX_DEC = 1.0
NOT_DIFFUSIVE = "not diffusive"


def diffusivity_map_name(T_K: float) -> str:
    """``diffusivity_map_T<T>.png`` with T in integer kelvin."""
    return f"diffusivity_map_T{int(round(T_K))}.png"


def _map_points(transport: pd.DataFrame, quantity: str) -> pd.DataFrame:
    if quantity == "sigma":
        return conductivity_points(transport)
    if quantity == "D_Na":
        return diffusivity_points(transport, "Na")
    raise ValueError(f"map quantity must be one of {sorted(MAP_QUANTITIES)}, got {quantity!r}")


def map_data(
    transport_df: pd.DataFrame, T_K: float, quantity: str = "sigma"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pooled, not_diffusive) at ``T_K`` (+-0.5 K): the measured compositions of one map.

    ``pooled``: x, m, log10_mean, log10_se, n (replicas) of the diffusive points (log10 of
    S/cm or cm^2/s). ``not_diffusive``: x, m of compositions that have runs at T_K in the
    table but no diffusive value of ``quantity``.
    """
    points = _map_points(transport_df, quantity)
    points = points[np.abs(points["T_K"].astype(float) - T_K) <= T_TOL_K]
    pooled = pool_log10(points, ["x", "m"])
    at_t = transport_df[np.abs(transport_df["T_K"].astype(float) - T_K) <= T_TOL_K]
    comps = at_t[["x", "m"]].astype(float).drop_duplicates()
    if pooled.empty:
        missing = comps
    else:
        have = set(zip(pooled["x"].astype(float), pooled["m"].astype(float), strict=True))
        keep = [(a, b) not in have for a, b in zip(comps["x"], comps["m"], strict=True)]
        missing = comps[keep]
    return pooled, missing.sort_values(["x", "m"]).reset_index(drop=True)


def map_color_limits(transport_df: pd.DataFrame, quantity: str = "sigma") -> tuple[float, float]:
    """One colour scale (vmin, vmax of log10 y) for every temperature of a campaign.

    Computed over the replica-pooled diffusive points of *all* temperatures in the table,
    rounded outwards to 0.25 decade (:func:`glassflow.composition_map.shared_limits`);
    pass it to every per-T map so that colours mean the same value in all of them.
    (NaN, NaN) when the table has no diffusive point.
    """
    points = _map_points(transport_df, quantity)
    if points.empty:
        return float("nan"), float("nan")
    pooled = pool_log10(points, ["T_K", "x", "m"])
    return shared_limits([pooled["log10_mean"].to_numpy(dtype=float)])


def map_extent(transport_df: pd.DataFrame) -> tuple[float, float, float, float]:
    """(m_lo, m_hi, x_lo, x_hi) shared by the maps of a campaign (all its compositions).

    The measured compositions padded, extended so that the isostatic line x_c(m) (eq 1)
    and both rigidity regions are visible.
    """
    if transport_df.empty:
        return 1.5, 5.0, 0.0, 0.6
    mv = transport_df["m"].to_numpy(dtype=float)
    xv = transport_df["x"].to_numpy(dtype=float)
    m_pad = max(0.25, 0.1 * np.ptp(mv))
    x_pad = max(0.05, 0.1 * np.ptp(xv))
    m_lo, m_hi = max(0.05, mv.min() - m_pad), mv.max() + m_pad
    x_lo, x_hi = max(0.0, xv.min() - x_pad), min(0.99, xv.max() + x_pad)
    x_c = np.asarray(critical_x(np.linspace(m_lo, min(m_hi, 11.9), 50)))
    x_lo = max(0.0, min(x_lo, float(x_c.min()) - 0.05))
    x_hi = max(x_hi, min(0.99, float(x_c.max()) + 0.05))
    return float(m_lo), float(m_hi), float(x_lo), float(x_hi)


def _region_label_point(
    mm: np.ndarray, xx: np.ndarray, mask: np.ndarray
) -> tuple[float, float] | None:
    """Grid point of ``mask`` nearest to the centroid of the masked region (inside it)."""
    if not mask.any():
        return None
    pm, px = mm[mask], xx[mask]
    cm, cx = pm.mean(), px.mean()
    sm = np.ptp(mm) or 1.0
    sx = np.ptp(xx) or 1.0
    i = int(np.argmin(((pm - cm) / sm) ** 2 + ((px - cx) / sx) ** 2))
    return float(pm[i]), float(px[i])


def _draw_rigidity(ax: Axes, mm: np.ndarray, xx: np.ndarray, regions: bool) -> None:
    """Contours of f(x, m) (eq 1), the isostatic line f = 0 and the region labels."""
    f = np.asarray(floppy_fraction(xx, mm))
    levels = [v for v in (-0.4, -0.2, 0.2, 0.4, 0.6) if f.min() < v < f.max()]
    if levels:
        cs = ax.contour(mm, xx, f, levels=levels, colors="0.35", linewidths=0.6, alpha=0.8)
        ax.clabel(cs, fmt=lambda v: f"f={v:+.1f}", fontsize=6)
    if f.min() < 0.0 < f.max():
        ax.contour(mm, xx, f, levels=[0.0], colors=color(5), linewidths=1.8, linestyles="--")
        ax.plot([], [], "--", color=color(5), lw=1.8, label=r"isostatic $f = 0$ (eq 1)")
    if regions:
        for text, mask in (("flexible", f > 0), ("stressed rigid", f < 0)):
            where = _region_label_point(mm, xx, mask)
            if where is not None:
                ax.text(
                    *where,
                    text,
                    ha="center",
                    va="center",
                    fontsize=9,
                    style="italic",
                    color="0.15",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.6},
                )


def _draw_points(
    ax: Axes, pooled: pd.DataFrame, missing: pd.DataFrame, norm: Normalize | None, cmap: str
) -> None:
    """Measured compositions: filled (coloured by value) if diffusive, hollow otherwise."""
    if not pooled.empty:
        mv = pooled["m"].to_numpy(dtype=float)
        xv = pooled["x"].to_numpy(dtype=float)
        z = pooled["log10_mean"].to_numpy(dtype=float)
        kw = {"c": z, "cmap": cmap, "norm": norm} if norm is not None else {"c": "white"}
        ax.scatter(
            mv,
            xv,
            s=70,
            edgecolors="black",
            linewidths=1.0,
            zorder=4,
            label="diffusive (replica mean)",
            **kw,
        )
        for a, b, v in zip(mv, xv, z, strict=True):
            ax.annotate(
                f"{v:.2f}", (a, b), xytext=(5, 5), textcoords="offset points", fontsize=6, zorder=5
            )
    if not missing.empty:
        ax.scatter(
            missing["m"].to_numpy(dtype=float),
            missing["x"].to_numpy(dtype=float),
            s=70,
            facecolors="none",
            edgecolors="black",
            linewidths=1.2,
            zorder=4,
            label=NOT_DIFFUSIVE,
        )


def map_figure(
    transport_df: pd.DataFrame,
    T_K: float,
    quantity: str = "sigma",
    color_limits: tuple[float, float] | None = None,
    hopping: HoppingInputs | None = None,
    n_grid: int = 60,
) -> Figure:
    """The figure of :func:`plot_conductivity_map` / :func:`plot_diffusivity_map` (not saved)."""
    if quantity not in MAP_QUANTITIES:
        raise ValueError(f"map quantity must be one of {sorted(MAP_QUANTITIES)}, got {quantity!r}")
    cbar_label, word = MAP_QUANTITIES[quantity]
    pooled, missing = map_data(transport_df, T_K, quantity)
    vmin, vmax = (
        color_limits if color_limits is not None else map_color_limits(transport_df, quantity)
    )
    m_lo, m_hi, x_lo, x_hi = map_extent(transport_df)
    m_grid = np.linspace(m_lo, m_hi, n_grid)
    x_grid = np.linspace(x_lo, x_hi, n_grid)
    mm, xx = np.meshgrid(m_grid, x_grid)
    cmap = "viridis"
    norm = Normalize(vmin, vmax) if np.isfinite(vmin) and np.isfinite(vmax) else None

    note = None
    field = None
    if pooled.empty:
        note = f"{NO_DATA} at T = {T_K:.0f} K"
    else:
        try:
            field = interpolate_field(
                pooled["m"], pooled["x"], pooled["log10_mean"], pooled["log10_se"], m_grid, x_grid
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            note = f"GP failed ({exc}): points only"
        else:
            if field.fit is None:
                note = f"{field.note}: points only"
                field = None

    fig = Figure(figsize=(14.0, 4.8), layout="constrained")
    ax_mean, ax_std, ax_hop = fig.subplots(1, 3, sharex=True, sharey=True)
    if field is not None and norm is not None:
        step = 0.25 if vmax - vmin <= 4.0 else 0.5
        levels = np.arange(vmin, vmax + 0.5 * step, step)
        cs = ax_mean.contourf(
            mm, xx, field.mean, levels=levels, cmap=cmap, norm=norm, extend="both"
        )
        fig.colorbar(cs, ax=ax_mean, label=cbar_label + " (GP mean)")
        # uncertainty on the mean panel: white wash growing with the GP std, and its
        # MAP_STD_CONTOUR_DEC contour
        wash = np.zeros((*field.std.shape, 4))
        wash[..., :3] = 1.0
        wash[..., 3] = 0.75 * np.clip(field.std / MAP_STD_MAX_DEC, 0.0, 1.0)
        ax_mean.imshow(
            wash,
            extent=(m_lo, m_hi, x_lo, x_hi),
            origin="lower",
            aspect="auto",
            interpolation="bilinear",
            zorder=2,
        )
        if np.nanmin(field.std) < MAP_STD_CONTOUR_DEC < np.nanmax(field.std):
            ax_mean.contour(
                mm,
                xx,
                field.std,
                levels=[MAP_STD_CONTOUR_DEC],
                colors="black",
                linewidths=1.0,
                linestyles=":",
                zorder=3,
            )
            ax_mean.plot(
                [],
                [],
                ":",
                color="black",
                lw=1.0,
                label=f"GP std = {MAP_STD_CONTOUR_DEC} decade (faded: larger)",
            )
        cs_std = ax_std.contourf(
            mm,
            xx,
            field.std,
            levels=np.linspace(0, MAP_STD_MAX_DEC, 11),
            cmap="Greys",
            extend="max",
        )
        fig.colorbar(
            cs_std, ax=ax_std, label="GP std of " + cbar_label.split(" (")[0] + " (decades)"
        )
        h = field.fit.hyper
        ax_std.set_title(
            f"GP std; l_m = {h.length_m * field.fit.scale[0]:.2g}, "
            f"l_x = {h.length_x * field.fit.scale[1]:.2g}, "
            rf"$\sigma_f$ = {h.sigma_f:.2g} dec",
            fontsize=9,
        )
    else:
        if norm is not None:
            fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax_mean, label=cbar_label)
        _no_data(ax_std, "no GP field:\n" + textwrap.fill(note or NO_DATA, 32))
        ax_std.set_title("GP std", fontsize=9)
    _draw_points(ax_mean, pooled, missing, norm, cmap)
    if note:
        ax_mean.text(
            0.02,
            0.02,
            note,
            transform=ax_mean.transAxes,
            fontsize=8,
            color="0.2",
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        )

    if hopping is not None:
        hop = hopping_log10_field(m_grid, x_grid, hopping)
        if np.isfinite(hop).any():
            ch = ax_hop.contourf(mm, xx, hop, levels=12, cmap="cividis")
            fig.colorbar(ch, ax=ax_hop, label=r"$\log_{10} \sigma_\mathrm{hop}$ (relative)")
        else:
            _no_data(ax_hop, "hopping model undefined here\n(needs x <= 1/3, m >= 2)")
        ax_hop.set_title(f"hopping model (PRL eq 3), $k_BT$ = {hopping.kT:g}", fontsize=9)
    else:
        _no_data(
            ax_hop,
            "hopping model (PRL eq 2-4) not drawn:\nneeds the cluster tables "
            "W_jk, E_jk, N_jk, N_c(jk)\nof the PRL supplement (HoppingInputs)",
        )
        ax_hop.set_title("hopping model (PRL eq 3)", fontsize=9)

    for i, ax in enumerate((ax_mean, ax_std, ax_hop)):
        _draw_rigidity(ax, mm, xx, regions=i == 0)
        if i > 0:
            ax.scatter(pooled["m"], pooled["x"], s=25, c="white", edgecolors="black", zorder=4)
            if not missing.empty:
                ax.scatter(
                    missing["m"],
                    missing["x"],
                    s=25,
                    facecolors="none",
                    edgecolors="black",
                    zorder=4,
                )
        ax.set_xlim(m_lo, m_hi)
        ax.set_ylim(x_lo, x_hi)
        ax.set_xlabel("flexibility index $m$ (S:Si in SiS$_m$)")
    ax_mean.set_ylabel(r"modifier fraction $x$ (mole fraction Na$_2$S)")
    ax_mean.set_title(f"{word} at T = {T_K:.0f} K (GP mean, shared colour scale)", fontsize=9)
    ax_mean.legend(
        fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.13), ncols=2, frameon=False
    )
    return fig


def plot_conductivity_map(
    transport_df: pd.DataFrame,
    T_K: float,
    path_png: str | Path,
    *,
    color_limits: tuple[float, float] | None = None,
    hopping: HoppingInputs | None = None,
) -> tuple[Path, Path]:
    """Collective sigma (S/cm) over the (m, x) plane at ``T_K``: GP field with uncertainty.

    Panels: (1) GP mean of log10 sigma (:mod:`glassflow.composition_map`: per-point noise
    from the replica spread, hyperparameters by maximum restricted marginal likelihood),
    washed out in proportion to the GP std, with the :data:`MAP_STD_CONTOUR_DEC` contour
    dotted; (2) the GP std; (3) the
    hopping-model prediction (PRL eq 3) when ``hopping`` is given, else a note. Every panel
    has contours of f(x, m) and the isostatic line f = 0 (docs/physics.md §6, eq 1) and the
    measured compositions: filled if diffusive, hollow ("not diffusive") if the runs at
    T_K have no diffusive conductivity. ``color_limits`` (log10 S/cm) default to
    :func:`map_color_limits` over *all* temperatures of ``transport_df``, so that maps of
    one campaign share one colour scale; the extent (:func:`map_extent`) is shared too.
    Fewer than 3 compositions, or all on one line: points only, with a note.
    """
    fig = map_figure(transport_df, T_K, "sigma", color_limits, hopping)
    return _save(fig, path_png)


def plot_diffusivity_map(
    transport_df: pd.DataFrame,
    T_K: float,
    path_png: str | Path,
    *,
    color_limits: tuple[float, float] | None = None,
) -> tuple[Path, Path]:
    """D_Na (cm^2/s) over the (m, x) plane at ``T_K``; as :func:`plot_conductivity_map`.

    The hopping panel carries a note (the model predicts sigma, not D).
    """
    fig = map_figure(transport_df, T_K, "D_Na", color_limits, None)
    return _save(fig, path_png)


# --------------------------------------------------------------------------- PRL figures


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


# --------------------------------------------------------------------------- constraints

_TERM_COLOURS: dict[str, str] = {
    "Si(<=2)": "#c6dbef",
    "Si(3)": "#9ecae1",
    "Si(4)": "#4292c6",
    "Si(5)": "#08519c",
    "Si(>=6)": "#08306b",
    "S:BS": "#fdae6b",
    "S:NBS": "#fd8d3c",
    "S:S-S": "#E69F00",
    "S:3Si": "#a63603",
    "S:free": "#fee6ce",
    "Na": "#009E73",
    "unresolved": "0.6",
    "composition": "#CC79A7",
}


def _stacked_bar(
    ax: Axes, x: float, values: dict[str, float], width: float, seen: set[str], min_abs: float
) -> float:
    """Stack ``values`` (term -> value) at ``x``: positives upwards, negatives downwards.

    Terms are coloured by :data:`_TERM_COLOURS` and labelled once per figure (``seen``);
    non-finite values and those below ``min_abs`` are skipped. Returns the top of the
    positive stack.
    """
    up, down = 0.0, 0.0
    for t, v in values.items():
        if not np.isfinite(v) or abs(v) < min_abs:
            continue
        ax.bar(
            x,
            v,
            width,
            bottom=up if v > 0 else down,
            color=_TERM_COLOURS[t],
            edgecolor="white",
            lw=0.5,
            label=t if t not in seen else None,
        )
        seen.add(t)
        if v > 0:
            up += v
        else:
            down += v
    return up


def constraint_figure(topology_df: pd.DataFrame, stage: str = "glass") -> Figure:
    """The figure of :func:`plot_constraint_diagnostic` (not saved)."""
    diag = constraint_diagnostic(topology_df, stage=stage)
    fig = Figure(figsize=(12.0, 4.8), layout="constrained")
    ax_nc, ax_df = fig.subplots(1, 2)
    if diag.empty:
        _no_data(ax_nc, f"no topology rows for stage {stage!r}")
        _no_data(ax_df, f"no topology rows for stage {stage!r}")
        return fig
    keys = list(KEY_COLUMNS)
    groups = list(diag.groupby(keys, dropna=False, sort=True))
    several_t = diag["T_K"].nunique(dropna=False) > 1
    several_c = diag["campaign"].nunique() > 1
    labels = []
    for kv, _ in groups:
        lab = f"x={kv[1]:.2f}\nm={kv[2]:.2f}"
        if several_t and np.isfinite(_num(kv[4])):
            lab += f"\n{_num(kv[4]):.0f} K"
        if several_c:
            lab = f"{kv[0]}\n" + lab
        labels.append(lab)
    pos = np.arange(len(groups), dtype=float)
    width = 0.38
    terms = [t for t in TERMS if t != "unresolved"] + ["unresolved"]
    seen: set[str] = set()
    for gi, (_, sub) in enumerate(groups):
        by = sub.set_index("term")
        for side, col, off in (("MD", "n_c_md", -width / 2), ("eq 1", "n_c_ideal", width / 2)):
            values = {t: _num(by.at[t, col]) if t in by.index else float("nan") for t in terms}
            top = _stacked_bar(ax_nc, pos[gi] + off, values, width, seen, min_abs=1e-12)
            ax_nc.text(pos[gi] + off, top + 0.03, side, ha="center", va="bottom", fontsize=7)
        d = sub.set_index("term")["delta_f"]
        values = {t: _num(d.get(t, np.nan)) for t in [*terms, "composition"]}
        _stacked_bar(ax_df, pos[gi], values, 0.6, seen, min_abs=1e-4)
        gap = float(np.nansum(d.to_numpy(dtype=float)))
        ax_df.plot(
            [pos[gi] - 0.35, pos[gi] + 0.35],
            [gap, gap],
            "k-",
            lw=2.0,
            label="gap $f_{MD} - f_{eq 1}$" if gi == 0 else None,
        )
        ax_df.annotate(f"{gap:+.2f}", (pos[gi] + 0.36, gap), fontsize=7, va="center")
    ax_nc.axhline(3.0, color="0.2", ls="--", lw=1.0, label="$n_c$ = 3 (isostatic, f = 0)")
    ax_nc.set_ylabel("constraints per atom $n_c$ (stretching + bending)")
    ax_nc.set_title(f"constraint count by term ({stage}): MD bonds vs ideal network", fontsize=9)
    ax_df.axhline(0.0, color="0.2", lw=0.8)
    ax_df.set_ylabel(r"$\Delta f$ per term = $-(n_{c,MD} - n_{c,ideal})$")
    ax_df.set_title(
        "where the gap $f_{MD} - f_{eq 1}$ comes from (terms sum to the bar)", fontsize=9
    )
    for ax in (ax_nc, ax_df):
        ax.set_xticks(pos, labels, fontsize=8)
    ax_df.set_xlim(-0.6, pos[-1] + 0.8)  # room for the gap values printed right of the bars
    handles, labs = [], []
    for ax in (ax_nc, ax_df):
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labs += lab
    fig.legend(handles, labs, loc="outside right center", fontsize=7, frameon=False)
    return fig


def plot_constraint_diagnostic(
    topology_df: pd.DataFrame, path_png: str | Path, stage: str = "glass"
) -> tuple[Path, Path]:
    """MD constraint count against the ideal network of eq 1, term by term, per composition.

    ``topology_df``: the campaign topology table (tables/topology.parquet; columns of
    :func:`glassflow.topology.frame_topology` plus keys and ``x_achieved, m_achieved``).
    Left: stacked n_c per atom for the MD bonds and for the ideal network, by term (Si by
    coordination, S classes, Na; :mod:`glassflow.constraint_diagnostics`), with n_c = 3
    (f = 0) dashed. Right: the per-term differences Delta f, stacked, and their sum, the
    gap f_MD - f_eq1 (black bar; docs/physics.md §6, eq 1). Rows of ``stage`` only,
    averaged over replicas.
    """
    return _save(constraint_figure(topology_df, stage), path_png)
