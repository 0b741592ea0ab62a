"""Maps over the composition plane (m, x): log10 sigma or log10 D_Na at one temperature.

Three panels: the Gaussian-process mean (:mod:`glassflow.campaign.composition_map`),
washed out where its standard deviation is large; that standard deviation; and the
hopping-model prediction of the PRL (eq 3) when its inputs are given. Every panel shows
the contours of f(x, m), the isostatic line f = 0 (docs/physics.md §6, eq 1) and the
measured compositions (hollow where not diffusive). Fewer than 3 compositions, or all
on one line: points only, with a note.
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

from glassflow.analysis.rigidity import critical_x, floppy_fraction
from glassflow.campaign.arrhenius import (
    conductivity_points,
    diffusivity_points,
    pool_log10,
)
from glassflow.campaign.composition_map import (
    HoppingInputs,
    hopping_log10_field,
    interpolate_field,
    shared_limits,
)
from glassflow.figures.common import NO_DATA, NOT_DIFFUSIVE, T_TOL_K, _no_data, _save, color


def conductivity_map_name(T_K: float) -> str:
    """``conductivity_map_T<T>.png`` with T in integer kelvin."""
    return f"conductivity_map_T{int(round(T_K))}.png"


#: Map quantities: points function, colour-bar label, title word.
MAP_QUANTITIES: dict[str, tuple[str, str]] = {
    "sigma": (r"$\log_{10} \sigma$ (S cm$^{-1}$)", "conductivity"),
    "D_Na": (r"$\log_{10} D_\mathrm{Na}$ (cm$^2$ s$^{-1}$)", "Na diffusivity"),
}


#: GP standard deviation (decades) contoured on the mean panel (the wash fades with the std).
MAP_STD_CONTOUR_DEC = 0.3


#: Upper end of the (fixed) colour scale of the GP standard-deviation panel, decades.
MAP_STD_MAX_DEC = 1.0


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
    rounded outwards to 0.25 decade (:func:`glassflow.campaign.composition_map.shared_limits`);
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

    Panels: (1) GP mean of log10 sigma (:mod:`glassflow.campaign.composition_map`: per-point noise
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
