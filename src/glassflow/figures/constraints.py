"""Constraint diagnostic figure: per-species constraint terms, MD against ideal (eq 1).

Input: the topology table; the terms come from
:func:`glassflow.campaign.constraint_diagnostics.constraint_diagnostic` (docs/physics.md §6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from glassflow.campaign.constraint_diagnostics import KEY_COLUMNS, TERMS, constraint_diagnostic
from glassflow.figures.common import _no_data, _num, _save

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
    :func:`glassflow.analysis.topology.frame_topology` plus keys and ``x_achieved, m_achieved``).
    Left: stacked n_c per atom for the MD bonds and for the ideal network, by term (Si by
    coordination, S classes, Na; :mod:`glassflow.campaign.constraint_diagnostics`), with n_c = 3
    (f = 0) dashed. Right: the per-term differences Delta f, stacked, and their sum, the
    gap f_MD - f_eq1 (black bar; docs/physics.md §6, eq 1). Rows of ``stage`` only,
    averaged over replicas.
    """
    return _save(constraint_figure(topology_df, stage), path_png)
