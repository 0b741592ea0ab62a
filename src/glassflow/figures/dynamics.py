"""Composition-level dynamics figures (matplotlib Agg, colourblind-safe palettes).

Inputs are the tidy tables of :mod:`glassflow.analysis.dynamics.tables`: pooled curves
(``quantity, t_ps, value`` per ``T_K, species``), the composition summary (fit windows)
and the per-run Van Hove table.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: Okabe-Ito palette (colourblind safe)
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def temperature_colours(temps: list[float]) -> dict[float, tuple]:
    """Colour per temperature from the (colourblind-safe, monotone) viridis map."""
    cmap = plt.get_cmap("viridis")
    n = max(1, len(temps) - 1)
    return {t: cmap(0.9 * i / n) for i, t in enumerate(sorted(temps))}


def _species_axes(n: int, title: str):
    fig, axes = plt.subplots(1, max(1, n), figsize=(4.2 * max(1, n), 3.6), squeeze=False)
    fig.suptitle(title)
    return fig, axes[0]


def _save(fig, path: str | Path) -> Path:
    """Write a figure (PNG at 130 dpi) and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)


def plot_msd(pooled: pd.DataFrame, summary: pd.DataFrame, path: str | Path) -> Path:
    """MSD(t) log-log per species, one curve per T; the replica-pooled Einstein fit window
    (docs/transport.md) drawn thick where the pooled fit is diffusive."""
    msd = pooled[pooled["quantity"] == "msd_A2"]
    species = sorted(msd["species"].unique())
    fig, axes = _species_axes(len(species), "Mean-squared displacement (replica-pooled)")
    cols = temperature_colours(sorted(msd["T_K"].unique()))
    for ax, sp in zip(axes, species, strict=False):
        for temp, g in msd[msd["species"] == sp].groupby("T_K"):
            g = g.sort_values("t_ps")
            t, y = g["t_ps"].to_numpy(float), g["value"].to_numpy(float, na_value=np.nan)
            ax.loglog(t, y, color=cols[temp], lw=1.2, label=f"{temp:.0f} K")
            row = summary[(summary["species"] == sp) & (summary["T_K"] == temp)]
            if len(row) and bool(row["diffusive_pooled"].fillna(False).iloc[0]):
                lo, hi = float(row["fit_t_min_ps"].iloc[0]), float(row["fit_t_max_ps"].iloc[0])
                sel = (t >= lo) & (t <= hi)
                ax.loglog(t[sel], y[sel], color=cols[temp], lw=4, alpha=0.45)
        ax.set_xlabel("t (ps)")
        ax.set_ylabel(r"$\langle r^2(t)\rangle$ ($\AA^2$)")
        ax.set_title(f"{sp}  (thick: pooled GLS fit window)", fontsize=9)
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_alpha2(pooled: pd.DataFrame, path: str | Path) -> Path:
    """Non-Gaussian parameter alpha2(t) (eq 13) per species, one curve per T."""
    a2 = pooled[pooled["quantity"] == "alpha2"]
    species = sorted(a2["species"].unique())
    fig, axes = _species_axes(len(species), "Non-Gaussian parameter (replica-pooled)")
    cols = temperature_colours(sorted(a2["T_K"].unique()))
    for ax, sp in zip(axes, species, strict=False):
        for temp, g in a2[a2["species"] == sp].groupby("T_K"):
            g = g.sort_values("t_ps")
            ax.semilogx(
                g["t_ps"],
                g["value"].to_numpy(float, na_value=np.nan),
                color=cols[temp],
                label=f"{temp:.0f} K",
            )
        ax.axhline(0.0, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel("t (ps)")
        ax.set_ylabel(r"$\alpha_2(t)$ (dimensionless)")
        ax.set_title(sp, fontsize=9)
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_vanhove(vanhove: pd.DataFrame, path: str | Path, species: str = "Na") -> Path:
    """4 pi r^2 G_s(r, t) (eq 11, replica-pooled) with Gaussian references (eq 12, dashed)."""
    vh = vanhove[vanhove["species"] == species] if species in set(vanhove["species"]) else vanhove
    temps = sorted(vh["T_K"].unique())
    fig, axes = _species_axes(len(temps), f"Self Van Hove function, {species}")
    for ax, temp in zip(axes, temps, strict=False):
        g = vh[vh["T_K"] == temp]
        for i, (t, gt) in enumerate(g.groupby("t_ps")):
            w = gt["n_atoms"].astype(float) * gt["n_origins"].astype(float)
            agg = (
                gt.assign(w=w, a=gt["radial_Gs_inv_A"] * w, b=gt["radial_Gs_gauss_inv_A"] * w)
                .groupby("r_A")[["a", "b", "w"]]
                .sum()
            )
            c = OKABE_ITO[i % len(OKABE_ITO)]
            ax.plot(agg.index, agg["a"] / agg["w"], color=c, label=f"t = {t:g} ps")
            ax.plot(agg.index, agg["b"] / agg["w"], color=c, ls="--", lw=0.9)
        ax.set_xscale("log")
        ax.set_xlabel("r (Å)")
        ax.set_ylabel(r"$4\pi r^2 G_s(r,t)$ (Å$^{-1}$)")
        ax.set_title(f"{temp:.0f} K (dashed: Gaussian, eq 12)", fontsize=9)
        ax.legend(fontsize=7)
    return _save(fig, path)
