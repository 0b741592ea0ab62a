"""Structure figures (matplotlib Agg, Okabe-Ito colourblind-safe palette, units on axes).

Inputs are the tidy tables of :mod:`glassflow.analysis.structure.tables` (concatenated over runs);
curves are averaged over replicas and drawn per (stage, T_K).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

OKABE_ITO: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

S_CLASS_COLUMNS: tuple[str, ...] = (
    "frac_BS",
    "frac_NBS",
    "frac_free",
    "frac_SS_only",
    "frac_SS_Si",
    "frac_S_3Si",
)


def _colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def _conditions(df: pd.DataFrame) -> list[tuple[str, float]]:
    cond = df[["stage", "T_K"]].drop_duplicates().sort_values(["stage", "T_K"])
    return [(str(s), float(t)) for s, t in cond.itertuples(index=False)]


def _label(stage: str, t_k: float) -> str:
    return "glass 300 K" if stage == "glass" else f"{t_k:.0f} K"


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _mean_curve(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    return df.groupby(x, as_index=False)[y].mean()


def plot_pair_distributions(gr: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """g_ab(r) of the unordered pairs, one panel each, curves per condition."""
    pairs = [p for p in dict.fromkeys(gr["pair"]) if _is_canonical(p, gr["pair"].unique())]
    n = max(1, len(pairs))
    ncol = min(3, n)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    for ax, pair in zip(axes.ravel(), pairs, strict=False):
        sub = gr[gr["pair"] == pair]
        for i, (stage, t_k) in enumerate(_conditions(sub)):
            cur = _mean_curve(sub[(sub["stage"] == stage) & (sub["T_K"] == t_k)], "r_A", "g")
            ax.plot(cur["r_A"], cur["g"], color=_colour(i), lw=1.2, label=_label(stage, t_k))
        ax.axhline(1.0, color="0.6", lw=0.6, ls=":")
        ax.set_title(pair)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def _is_canonical(pair: str, all_pairs: Sequence[str]) -> bool:
    """Keep "A-B" and drop its mirror "B-A" (g is symmetric) - first one seen wins."""
    a, b = pair.split("-")
    mirror = f"{b}-{a}"
    order = list(dict.fromkeys(all_pairs))
    return a == b or mirror not in order or order.index(pair) < order.index(mirror)


def plot_structure_factors(
    sk: pd.DataFrame, summary: pd.DataFrame | None, path: str | Path, title: str = ""
) -> Path:
    """X-ray S(k), X-ray I(k) = k[S-1] (Fourier route) and S_NaNa(k) with the prepeak."""
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6))
    conds = _conditions(sk)
    for i, (stage, t_k) in enumerate(conds):
        sel = sk[(sk["stage"] == stage) & (sk["T_K"] == t_k)]
        xr = sel[(sel["pair"] == "xray") & (sel["method"] == "fourier")]
        cur = _mean_curve(xr, "k_inv_A", "S")
        lab = _label(stage, t_k)
        axes[0].plot(cur["k_inv_A"], cur["S"], color=_colour(i), lw=1.1, label=lab)
        cur = _mean_curve(xr, "k_inv_A", "I_k")
        axes[1].plot(cur["k_inv_A"], cur["I_k"] + 3.0 * i, color=_colour(i), lw=1.1, label=lab)
        nn = sel[(sel["pair"] == "Na-Na") & (sel["method"] == "direct")]
        cur = _mean_curve(nn, "k_inv_A", "S")
        axes[2].plot(cur["k_inv_A"], cur["S"], color=_colour(i), lw=1.1, marker=".", ms=3)
        if summary is not None and "k_pp_inv_A" in summary:
            s = summary[(summary["stage"] == stage) & (summary["T_K"] == t_k)]
            kpp = float(s["k_pp_inv_A"].mean()) if len(s) else float("nan")
            if np.isfinite(kpp):
                axes[2].axvline(kpp, color=_colour(i), lw=0.8, ls="--")
    axes[0].set_ylabel("S(k), X-ray (Faber-Ziman)")
    axes[1].set_ylabel("I(k) = k[S(k) - 1] (1/Å), shifted by +3")
    axes[2].set_ylabel("S_NaNa(k), direct k-space sum")
    axes[2].set_xlim(0, 4)
    axes[2].axvspan(0.6, 1.5, color="#E69F00", alpha=0.12, lw=0)
    for ax in axes:
        ax.set_xlabel("k (1/Å)")
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_bond_angles(angles: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Bond-angle distributions, one panel per triplet (centre in the middle)."""
    trips = list(dict.fromkeys(angles["triplet"])) if len(angles) else []
    n = max(1, len(trips))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.3), squeeze=False)
    for ax, trip in zip(axes.ravel(), trips, strict=False):
        sub = angles[angles["triplet"] == trip]
        for i, (stage, t_k) in enumerate(_conditions(sub)):
            cur = _mean_curve(
                sub[(sub["stage"] == stage) & (sub["T_K"] == t_k)], "theta_deg", "density"
            )
            ax.plot(cur["theta_deg"], cur["density"], color=_colour(i), label=_label(stage, t_k))
        if trip == "S-Si-S":
            ax.axvline(109.47, color="0.5", lw=0.7, ls=":")
        ax.set_title(trip)
        ax.set_xlabel("angle (deg)")
        ax.set_ylabel("density (1/deg)")
        ax.set_xlim(0, 180)
    axes.ravel()[0].legend(fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_topology(topology: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """One composition: S classes, Si CN and floppy fractions versus condition (T)."""
    df = topology.copy()
    df["cond"] = [_label(s, t) for s, t in zip(df["stage"], df["T_K"], strict=True)]
    order = [_label(s, t) for s, t in _conditions(df)]
    g = df.groupby("cond").mean(numeric_only=True).reindex(order)
    xs = np.arange(len(order))
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6))
    for i, col in enumerate(c for c in S_CLASS_COLUMNS if c in g):
        axes[0].plot(xs, g[col], marker="o", color=_colour(i), label=col.removeprefix("frac_"))
    axes[0].set_ylabel("fraction of S")
    cn_cols = [c for c in ("si_cn_le2", "si_cn_3", "si_cn_4", "si_cn_5", "si_cn_ge6") if c in g]
    for i, col in enumerate(cn_cols):
        axes[1].plot(xs, g[col], marker="s", color=_colour(i), label=col.removeprefix("si_"))
    axes[1].set_ylabel("fraction of Si")
    for col, c, mk in (("f_md", 0, "o"), ("f_mean_field", 1, "")):
        if col in g:
            axes[2].plot(xs, g[col], marker=mk or None, color=_colour(c), label=col)
    axes[2].axhline(0.0, color="0.6", lw=0.6, ls=":")
    axes[2].set_ylabel("floppy fraction f = 3 - n_c (per atom)")
    for ax in axes:
        ax.set_xticks(xs, order, rotation=30, fontsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_topology_vs_m(
    topology: pd.DataFrame, path: str | Path, stage: str = "glass", title: str = ""
) -> Path:
    """Campaign level: S classes, <r> and f (MD and mean-field eq 1) versus m, per x and T."""
    df = topology[topology["stage"] == stage]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
    groups = df.groupby(["x", "T_K"])
    for gi, ((x, t_k), sub) in enumerate(groups):
        g = sub.groupby("m").mean(numeric_only=True).sort_index()
        e = sub.groupby("m").std(numeric_only=True).sort_index()
        lab = f"x = {x:.2f}, {t_k:.0f} K"
        ls = ["-", "--", ":", "-."][gi % 4]
        for i, col in enumerate(c for c in S_CLASS_COLUMNS if c in g):
            if g[col].max() <= 0:
                continue
            axes[0].plot(
                g.index,
                g[col],
                ls=ls,
                marker="o",
                color=_colour(i),
                label=f"{col.removeprefix('frac_')} ({lab})",
            )
        axes[1].errorbar(g.index, g["mean_r"], yerr=e["mean_r"], ls=ls, marker="o", label=lab)
        axes[2].errorbar(
            g.index, g["f_md"], yerr=e["f_md"], ls=ls, marker="o", color=_colour(gi), label=lab
        )
        axes[2].plot(g.index, g["f_mean_field"], ls=":", color=_colour(gi))
    axes[0].set_ylabel("fraction of S")
    axes[1].set_ylabel("mean coordination <r> (Si, S)")
    axes[2].set_ylabel("floppy fraction f (MD: markers, eq 1: dotted)")
    axes[2].axhline(0.0, color="0.6", lw=0.6)
    for ax in axes:
        ax.set_xlabel("flexibility index m")
        ax.legend(fontsize=6, frameon=False)
    fig.suptitle(title or f"network topology ({stage})")
    fig.tight_layout()
    return _save(fig, path)
