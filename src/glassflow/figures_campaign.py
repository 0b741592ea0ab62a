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

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.tri import Triangulation

from glassflow.arrhenius import KB_EV_K, conductivity_points, diffusivity_points
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


def plot_arrhenius(
    transport_df: pd.DataFrame,
    arrhenius_df: pd.DataFrame | None,
    quantity: str,
    path_png: str | Path,
) -> tuple[Path, Path]:
    """Arrhenius plot (physics.md §4 eq 10): log10 y against 1000/T, one colour per composition.

    ``quantity``: "D_Na", "D_Si", "D_S" (D in cm^2/s) or "sigmaT" (sigma*T in S K/cm).
    Points: replica-pooled (module docstring); lines: the fits of ``arrhenius_df``
    over their fitted T range; legend: composition and E_A with its CI (eV).
    Returns the PNG and PDF paths (file name by convention
    :func:`arrhenius_figure_name`).
    """
    if quantity not in ARRHENIUS_QUANTITIES:
        raise ValueError(
            f"quantity must be one of {sorted(ARRHENIUS_QUANTITIES)}, got {quantity!r}"
        )
    q, species = ARRHENIUS_QUANTITIES[quantity]
    points = _points_for(transport_df, q, species)
    pooled = pool_log10(points, ["campaign", "x", "m", "T_K"])
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.subplots()
    comps = pooled[["campaign", "x", "m"]].drop_duplicates().sort_values(["campaign", "x", "m"])
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
        name = (f"{comp.campaign} " if several else "") + f"x={comp.x:.2f}, m={comp.m:.2f}"
        label = f"{name}: {_ea_label(row)}" if row else name
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
            ax.plot(1000.0 / tt, fitted_log10(row, tt), "-", color=color(i), lw=1.2)
    ax.set_xlabel(r"$1000/T$ (K$^{-1}$)")
    ax.set_ylabel(_YLABELS[quantity])
    if comps.empty:
        _no_data(ax, f"{NO_DATA} for {quantity}")
    else:
        ax.legend(fontsize=7, loc="best")
    ax.set_title(f"Arrhenius: {quantity}")
    return _save(fig, path_png)


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
    its ``f_md`` column as points (mean ± std over rows with that (x, m)).
    Compositions are matched on |x - x_req| <= 1e-6; campaigns are pooled.
    """
    transport = _select_x(transport_df, x)
    arr = _select_x(arrhenius_df, x)
    topo = _select_x(topology_df, x)
    if not topo.empty and "f_md" not in topo.columns:
        raise ValueError("topology table lacks column 'f_md'")
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
    return _save(fig, path_png)


# --------------------------------------------------------------------------- (x, m) map


def _non_collinear(m: np.ndarray, x: np.ndarray) -> bool:
    """True when >= 3 distinct points span a 2-D area (coordinates scaled to unit range)."""
    pts = np.unique(np.column_stack([m, x]), axis=0)
    if pts.shape[0] < 3:
        return False
    span = np.ptp(pts, axis=0)
    if np.any(span == 0):
        return False
    scaled = (pts - pts.min(axis=0)) / span
    sv = np.linalg.svd(scaled - scaled.mean(axis=0), compute_uv=False)
    return bool(sv[-1] > 1e-6 * sv[0])


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


def plot_conductivity_map(
    transport_df: pd.DataFrame, T_K: float, path_png: str | Path
) -> tuple[Path, Path]:
    """sigma (S/cm, log10 colour scale) over the (m, x) plane at temperature ``T_K``.

    Runs within 0.5 K of ``T_K`` with a diffusive conductivity are pooled per (x, m)
    (mean of log10 sigma over replicas). With >= 3 non-collinear compositions the
    field is a ``tricontourf`` over the measured points (interpolation inside their
    convex hull only), otherwise a scatter coloured by sigma; measured points are
    always marked. The isostatic line x_c(m) (f = 0, eq 1) is drawn and the
    "flexible" (f > 0) and "stressed rigid" (f < 0) regions are labelled.
    """
    points = conductivity_points(transport_df)
    points = points[np.abs(points["T_K"].astype(float) - T_K) <= T_TOL_K]
    pooled = pool_log10(points, ["x", "m"])
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.subplots()
    if pooled.empty:
        m_lo, m_hi, x_lo, x_hi = 1.5, 5.0, 0.0, 0.6
    else:
        mv = pooled["m"].to_numpy(dtype=float)
        xv = pooled["x"].to_numpy(dtype=float)
        m_pad = max(0.25, 0.1 * np.ptp(mv))
        x_pad = max(0.05, 0.1 * np.ptp(xv))
        m_lo, m_hi = max(0.05, mv.min() - m_pad), mv.max() + m_pad
        x_lo, x_hi = max(0.0, xv.min() - x_pad), min(0.99, xv.max() + x_pad)
        # always show the isostatic line x_c(m) and both regions, even far from the runs
        x_c = np.asarray(critical_x(np.linspace(m_lo, min(m_hi, 11.9), 50)))
        x_lo = max(0.0, min(x_lo, float(x_c.min()) - 0.05))
        x_hi = max(x_hi, min(0.99, float(x_c.max()) + 0.05))
        z = pooled["log10_mean"].to_numpy(dtype=float)
        vmin, vmax = float(z.min()), float(z.max())
        if vmax - vmin < 1e-9:
            vmin, vmax = vmin - 0.5, vmax + 0.5
        cbar_label = r"$\log_{10} \sigma$ (S cm$^{-1}$)"
        if _non_collinear(mv, xv):
            tri = Triangulation(mv, xv)
            levels = MaxNLocator(nbins=12).tick_values(vmin, vmax)
            cs = ax.tricontourf(tri, z, levels=levels, cmap="viridis", extend="both")
            ax.scatter(mv, xv, c="white", edgecolors="black", s=30, zorder=3, label="runs")
            fig.colorbar(cs, ax=ax, label=cbar_label)
        else:
            sc = ax.scatter(
                mv, xv, c=z, cmap="viridis", vmin=vmin, vmax=vmax, s=120,
                edgecolors="black", zorder=3, label="runs",
            )  # fmt: skip
            fig.colorbar(sc, ax=ax, label=cbar_label)
    # isostatic line and regions
    m_line = np.linspace(m_lo, m_hi, 300)
    m_line = m_line[np.abs(m_line - 12.0) > 1e-9]
    x_line = np.asarray(critical_x(m_line))
    inside = (x_line >= x_lo) & (x_line <= x_hi)
    if inside.any():
        ax.plot(m_line[inside], x_line[inside], "--", color=color(5), lw=1.8,
                label=r"isostatic $x_c(m)$, $f = 0$")  # fmt: skip
    mm, xx = np.meshgrid(np.linspace(m_lo, m_hi, 60), np.linspace(x_lo, x_hi, 60))
    f = np.asarray(floppy_fraction(xx, mm))
    for text, mask in (("flexible", f > 0), ("stressed rigid", f < 0)):
        where = _region_label_point(mm, xx, mask)
        if where is not None:
            ax.text(*where, text, ha="center", va="center", fontsize=10, style="italic",
                    color="0.15", bbox={"fc": "white", "ec": "none", "alpha": 0.6})  # fmt: skip
    ax.set_xlim(m_lo, m_hi)
    ax.set_ylim(x_lo, x_hi)
    ax.set_xlabel("flexibility index $m$ (S:Si in SiS$_m$, dimensionless)")
    ax.set_ylabel(r"modifier fraction $x$ (mole fraction Na$_2$S)")
    ax.set_title(f"conductivity at T = {T_K:.0f} K")
    if pooled.empty:
        _no_data(ax, f"{NO_DATA} at T = {T_K:.0f} K")
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path_png)
