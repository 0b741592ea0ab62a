"""Softness figures (physics.md §7; Chen 2023): matplotlib Agg, Okabe-Ito colours.

Inputs are the tables of :func:`glassflow.analysis.softness.analyse.analyse_softness`: the per-ion
table (``softness``, ``label``, ``split``, ``disp_A``, environment columns, ``voronoi_volume_A3``,
``energy_kcal_mol``), the one-row summary and the P_R(S) table. Tables of several runs
may be concatenated: groups are (x, m, T_K).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from glassflow.analysis.softness.relations import correlations, rearrangement_probability  # noqa: E402

#: Okabe-Ito palette (colourblind safe)
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
SOFT_LABEL = "softness S (standardised units)"
GROUP_KEYS = ("x", "m", "T_K")


def _groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    keys = [k for k in GROUP_KEYS if k in df and df[k].notna().any()]
    if not keys:
        return [("", df)]
    out = []
    for vals, g in df.groupby(keys, sort=True):
        vals = vals if isinstance(vals, tuple) else (vals,)
        name = ", ".join(
            f"{k}={v:.0f} K" if k == "T_K" else f"{k}={v:.2f}"
            for k, v in zip(keys, vals, strict=True)
        )
        out.append((name, g))
    return out


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=8)


def _finite(df: pd.DataFrame, col: str) -> pd.DataFrame:
    if col not in df or "softness" not in df:
        return df.iloc[:0]
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
    s = pd.to_numeric(df["softness"], errors="coerce").to_numpy(float)
    return df[np.isfinite(v) & np.isfinite(s)]


def plot_softness_distribution(ax: Axes, ions: pd.DataFrame) -> Axes:
    """Histograms of S for rearranging (solid) and non-rearranging (dashed) ions per group."""
    d = _finite(ions, "softness")
    if d.empty:
        _empty(ax, "no softness (classifier not fitted)")
        return ax
    edges = np.histogram_bin_edges(d["softness"].to_numpy(float), bins=30)
    for i, (name, g) in enumerate(_groups(d)):
        c = OKABE_ITO[i % len(OKABE_ITO)]
        lab = g["label"].astype("Int8")
        for val, ls, txt in ((1, "-", "rearranging"), (0, "--", "non-rearranging")):
            s = g.loc[(lab == val).fillna(False).to_numpy(bool), "softness"].to_numpy(float)
            if s.size:
                ax.hist(s, edges, density=True, histtype="step", color=c, ls=ls, lw=1.4,
                        label=f"{name} {txt} (n={s.size})".strip())  # fmt: skip
    ax.axvline(0.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel(SOFT_LABEL)
    ax.set_ylabel("probability density (1/unit S)")
    ax.legend(fontsize=6)
    return ax


def plot_pr_vs_softness(ax: Axes, pr: pd.DataFrame) -> Axes:
    """P_R(S) with binomial errors (left axis) and mean displacement (right axis)."""
    if pr.empty or not np.isfinite(pr["P_R"].to_numpy(float)).any():
        _empty(ax, "no P_R(S) (classifier not fitted)")
        return ax
    ax2 = ax.twinx()
    for i, (name, g) in enumerate(_groups(pr)):
        c = OKABE_ITO[i % len(OKABE_ITO)]
        g = g[g["n"] > 0]
        ax.errorbar(g["S_mid"], g["P_R"], yerr=g["P_R_err"], color=c, marker="o", ms=3,
                    capsize=2, label=f"{name} P_R".strip())  # fmt: skip
        ax2.plot(g["S_mid"], g["mean_disp_A"], color=c, ls="--", marker="s", ms=3, mfc="none")
    ax.set_xlabel(SOFT_LABEL)
    ax.set_ylabel("P_R (fraction rearranging)")
    ax.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("mean displacement over window (Å), dashed")
    ax.legend(fontsize=6, loc="upper left")
    return ax


def plot_softness_by_environment(ax: Axes, ions: pd.DataFrame, column: str = "n_NBS") -> Axes:
    """Box plot of S by an integer environment column (e.g. number of NBS around the ion)."""
    d = _finite(ions, column)
    if d.empty:
        _empty(ax, f"no {column}")
        return ax
    vals = d[column].astype(int)
    cats = sorted(vals.unique())
    data = [d.loc[vals == k, "softness"].to_numpy(float) for k in cats]
    bp = ax.boxplot(data, positions=range(len(cats)), widths=0.6, patch_artist=True,
                    showfliers=False)  # fmt: skip
    for patch in bp["boxes"]:
        patch.set_facecolor(OKABE_ITO[5])
        patch.set_alpha(0.6)
    ax.set_xticks(range(len(cats)), [f"{k}\n(n={len(v)})" for k, v in zip(cats, data, strict=True)])
    ax.tick_params(axis="x", labelsize=6)
    ax.axhline(0.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel(f"{column} (count within the environment cutoff)")
    ax.set_ylabel(SOFT_LABEL)
    return ax


def plot_softness_vs(ax: Axes, ions: pd.DataFrame, column: str, xlabel: str) -> Axes:
    """Scatter of a per-ion quantity against S with Spearman rho in the title."""
    d = _finite(ions, column)
    if d.empty:
        _empty(ax, f"no {column}")
        return ax
    for i, (name, g) in enumerate(_groups(d)):
        ax.scatter(g["softness"], g[column], s=5, alpha=0.5, color=OKABE_ITO[i % len(OKABE_ITO)],
                   label=name or None)  # fmt: skip
    c = correlations(d["softness"], d[column])
    ax.set_title(f"Spearman rho = {c['spearman_rho']:.2f} (n = {int(c['n_corr'])})", fontsize=8)
    ax.set_xlabel(SOFT_LABEL)
    ax.set_ylabel(xlabel)
    return ax


def _title(summary: pd.DataFrame) -> str:
    if summary.empty:
        return "Softness"
    r = summary.iloc[0]

    def f(v: object) -> str:
        return "NA" if v is None or pd.isna(v) else f"{float(v):.2f}"

    txt = (
        f"Softness of {r.get('species', '')}: {r.get('label_method', '')} labels, "
        f"train acc {f(r.get('train_accuracy'))}, test acc {f(r.get('test_accuracy'))} "
        f"(balanced {f(r.get('test_balanced_accuracy'))}), shuffled "
        f"{f(r.get('shuffled_test_accuracy'))}; n_train={r.get('n_train', 0)}, "
        f"n_test={r.get('n_test', 0)}"
    )
    if r.get("reason"):
        txt += f"\n{r['reason']}"
    return txt


def plot_softness_overview(
    ions: pd.DataFrame, summary: pd.DataFrame, pr: pd.DataFrame | None, path: str | Path
) -> Path:
    """Six panels: S distributions, P_R(S), S by NBS and by S-S neighbours, S vs Voronoi
    volume and vs per-ion energy. ``pr`` None: recomputed from ``ions`` (held-out ions,
    rearranging = label 1)."""
    if pr is None:
        held = ions[ions.get("split", "none") != "train"] if len(ions) else ions
        rearr = pd.to_numeric(held.get("label"), errors="coerce") if len(held) else []
        pr = rearrangement_probability(held.get("softness", []), rearr, held.get("disp_A"))
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 7.5))
    plot_softness_distribution(axes[0, 0], ions)
    plot_pr_vs_softness(axes[0, 1], pr)
    plot_softness_by_environment(axes[0, 2], ions, "n_NBS")
    plot_softness_by_environment(axes[1, 0], ions, "n_SS")
    plot_softness_vs(axes[1, 1], ions, "voronoi_volume_A3", "Voronoi volume (Å$^3$)")
    plot_softness_vs(axes[1, 2], ions, "energy_kcal_mol", "per-ion pair energy (kcal/mol)")
    fig.suptitle(_title(summary), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)
