"""Figure of the force-field cross-check (glassflow.campaign.forcefield_crosscheck)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from glassflow.analysis.rigidity import critical_m, floppy_fraction
from glassflow.figures.common import _no_data, _save, color


def crosscheck_figure(forces: pd.DataFrame, topology: pd.DataFrame) -> Figure:
    """Three panels: force RMSE per species; S in S-S bonds vs m; f(MD) vs m with eq 1.

    Parameters
    ----------
    forces : DataFrame
        Rows of :func:`~glassflow.campaign.forcefield_crosscheck.force_errors` with the
        glass keys (x, m, replica).
    topology : DataFrame
        Rows of :func:`~glassflow.campaign.forcefield_crosscheck.topology_side_by_side`.
    """
    fig = Figure(figsize=(13.5, 4.2), layout="constrained")
    ax_f, ax_ss, ax_fl = fig.subplots(1, 3)
    per = forces[forces["species"] != "all"] if not forces.empty else forces
    if per.empty:
        _no_data(ax_f)
    else:
        mean = per.groupby("species", sort=False)[["rmse_eV_A", "rms_ref_eV_A", "rms_test_eV_A"]]
        mean = mean.mean()
        pos = np.arange(len(mean))
        width = 0.27
        for i, (col, label) in enumerate(
            [
                ("rmse_eV_A", "RMSE (difference)"),
                ("rms_ref_eV_A", "RMS force, classical"),
                ("rms_test_eV_A", "RMS force, machine-learned"),
            ]
        ):
            ax_f.bar(pos + (i - 1) * width, mean[col], width, label=label, color=color(i))
        ax_f.set_xticks(pos, list(mean.index))
        ax_f.set_ylabel("force, eV/Å (mean over glasses)")
        ax_f.set_title("forces on the classical glasses")
        ax_f.legend(fontsize=8)
    if topology.empty:
        _no_data(ax_ss)
        _no_data(ax_fl)
    else:
        for i, (label, sub) in enumerate(topology.groupby("force_field", sort=True)):
            sub = sub.groupby("m_achieved", as_index=False).mean(numeric_only=True)
            kw = dict(marker="os"[i % 2], color=color(i), label=label)
            ax_ss.plot(sub["m_achieved"], sub["frac_S_in_SS"], **kw)
            ax_fl.plot(sub["m_achieved"], sub["f_md"], **kw)
        x = float(topology["x_achieved"].mean())
        m = np.linspace(topology["m_achieved"].min() - 0.2, topology["m_achieved"].max() + 0.2)
        # ideal network: S in S-S = (m - 2)(1 - x) of the m(1 - x) + x S per formula unit
        ideal = np.clip((m - 2.0) * (1.0 - x), 0.0, None) / (m * (1.0 - x) + x)
        ax_ss.plot(m, ideal, "k--", lw=1, label="ideal network (excess S in S-S)")
        ax_fl.plot(m, floppy_fraction(x, m), "k--", lw=1, label="eq 1")
        mc = float(critical_m(x))
        for ax in (ax_ss, ax_fl):
            ax.axvline(mc, color="0.6", lw=0.8, ls=":")
            ax.set_xlabel(f"m (x = {x:.2f}); dotted: m_c = {mc:.2f}")
            ax.legend(fontsize=8)
        ax_fl.axhline(0.0, color="0.6", lw=0.8)
        ax_ss.set_ylabel("fraction of S in S-S bonds")
        ax_fl.set_ylabel("floppy fraction f")
        ax_ss.set_title("homopolar S-S bonds")
        ax_fl.set_title("constraint count")
    return fig


def plot_crosscheck(
    forces: pd.DataFrame, topology: pd.DataFrame, path_png: str | Path
) -> tuple[Path, Path]:
    """Write :func:`crosscheck_figure` as PNG and PDF."""
    return _save(crosscheck_figure(forces, topology), path_png)
