"""Thermodynamic traces of the MD stages: T, E and P against time, and E(T) of the quench.

Input: the ``thermo.parquet`` tables of melt-quench and production runs
(:func:`glassflow.md.lammps_io.parse_thermo`: ``stage, step, time_ps, temp_K, pe_kcal_mol,
ke_kcal_mol, etotal_kcal_mol, press_atm, vol_A3``; LAMMPS ``units real``, energies are
totals over the cell in kcal/mol). Several runs may be concatenated with a ``replica``
column: each replica is then one line.

Time axis: LAMMPS resets the step at some stages (after minimisation, at the start of
production), so the figures use an *elapsed* time that runs on across stages
(:func:`elapsed_time`). Energy minimisation has no physical time and is left out.

Figures use ``matplotlib.figure.Figure`` directly (no pyplot state) and write PNG + PDF
through :func:`glassflow.figures.common._save`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure

from glassflow.campaign.arrhenius import aicc
from glassflow.figures.common import _no_data, _save, color

#: 1 kcal/mol in eV (per particle); thermochemical calorie, N_A and e (CODATA 2018).
KCAL_MOL_TO_EV = 4184.0 / (6.02214076e23 * 1.602176634e-19)
#: Stages without a physical time axis (LAMMPS energy minimisation, lines before a marker).
UNTIMED_STAGES: tuple[str, ...] = ("minimize", "setup")
THERMO_COLUMNS: tuple[str, ...] = ("stage", "time_ps", "temp_K", "pe_kcal_mol", "press_atm")


class RunThermo(NamedTuple):
    """Thermo tables of several runs of one composition, one curve label per run."""

    thermo: pd.DataFrame
    metas: list[dict]
    n_atoms: int | None
    name: str | None  # "x = 0.50, m = 2.00", or None without runs


def runs_thermo(
    thermo_paths: Sequence[str | Path], meta_name: str, label: Callable[[dict], str]
) -> RunThermo:
    """Concatenate thermo.parquet files with a ``replica`` column ``label(meta)``.

    ``meta`` is the JSON file ``meta_name`` (glass.json, run.json) beside each table,
    written by the same job: replica, T_K, x, m and the atom counts.
    """
    metas = [json.loads((Path(p).parent / meta_name).read_text()) for p in thermo_paths]
    frames = [
        pd.read_parquet(p).assign(replica=label(m))
        for p, m in zip(thermo_paths, metas, strict=True)
    ]
    thermo = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=THERMO_COLUMNS)
    )
    if not metas:
        return RunThermo(thermo, metas, None, None)
    n_atoms = int(sum(metas[0]["counts"].values()))
    return RunThermo(thermo, metas, n_atoms, f"x = {metas[0]['x']:.2f}, m = {metas[0]['m']:.2f}")


def check_thermo_columns(thermo: pd.DataFrame, name: str = "thermo table") -> None:
    """Raise ValueError naming the missing thermo columns (see :data:`THERMO_COLUMNS`)."""
    missing = [c for c in THERMO_COLUMNS if c not in thermo.columns]
    if missing:
        raise ValueError(
            f"{name} lacks columns {missing}; expected those of glassflow.md.lammps_io.parse_thermo"
        )


def elapsed_time(thermo: pd.DataFrame) -> pd.DataFrame:
    """Timed rows (stages not in :data:`UNTIMED_STAGES`) with ``elapsed_ps`` added.

    Stages are taken in their order of appearance (per ``replica`` if present); within a
    stage elapsed time follows ``time_ps``; each stage starts where the previous one ended,
    so resets of the LAMMPS step counter do not fold the axis back.
    """
    check_thermo_columns(thermo)
    df = thermo[~thermo["stage"].isin(UNTIMED_STAGES)].copy()
    df["elapsed_ps"] = np.nan
    groups = df.groupby("replica", sort=True) if "replica" in df.columns else [(None, df)]
    for _, run in groups:
        offset = 0.0
        for stage in pd.unique(run["stage"]):
            idx = run.index[run["stage"] == stage]
            t = df.loc[idx, "time_ps"].to_numpy(dtype=float)
            df.loc[idx, "elapsed_ps"] = offset + (t - t[0])
            offset += float(t[-1] - t[0])
    return df


def _energy(df: pd.DataFrame, column: str, n_atoms: int | None) -> npt.NDArray[np.float64]:
    e = df[column].to_numpy(dtype=float)
    return e * KCAL_MOL_TO_EV / n_atoms if n_atoms else e


def _energy_label(n_atoms: int | None) -> str:
    return "(eV/atom)" if n_atoms else "(kcal/mol, whole cell)"


def thermo_figure(thermo: pd.DataFrame, title: str = "", n_atoms: int | None = None) -> Figure:
    """The figure of :func:`plot_thermo` (not saved)."""
    df = elapsed_time(thermo)
    fig = Figure(figsize=(7.0, 8.0), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    if df.empty:
        for ax in axes:
            _no_data(ax, "no timed thermo rows")
        return fig
    stages = list(pd.unique(df["stage"]))
    runs = list(df.groupby("replica", sort=True)) if "replica" in df.columns else [(None, df)]
    energy_cols = [("pe_kcal_mol", "potential")]
    if "etotal_kcal_mol" in df.columns:
        energy_cols.append(("etotal_kcal_mol", "total"))
    for r, (rep, run) in enumerate(runs):
        suffix = f", replica {rep}" if rep is not None else ""
        for si, stage in enumerate(stages):
            sel = run[run["stage"] == stage]
            if sel.empty:
                continue
            t = sel["elapsed_ps"].to_numpy(dtype=float)
            first = r == 0
            c = color(si + 1)
            axes[0].plot(t, sel["temp_K"], color=c, lw=0.8, label=stage if first else None)
            for ls, (col, word) in zip(("-", "--"), energy_cols, strict=False):
                axes[1].plot(
                    t,
                    _energy(sel, col, n_atoms),
                    ls,
                    color=c,
                    lw=0.8,
                    label=f"{word}{suffix}" if si == 0 and r == 0 else None,
                )
            axes[2].plot(t, sel["press_atm"].to_numpy(dtype=float) / 1e4, color=c, lw=0.8)
    # stage boundaries of the first run
    first_run = runs[0][1]
    for stage in stages[1:]:
        t0 = first_run.loc[first_run["stage"] == stage, "elapsed_ps"]
        if len(t0):
            for ax in axes:
                ax.axvline(float(t0.iloc[0]), color="0.6", lw=0.6, ls=":")
    axes[0].set_ylabel("T (K)")
    axes[1].set_ylabel(f"E {_energy_label(n_atoms)}")
    axes[2].set_ylabel("P (10$^4$ atm ≈ GPa)")
    axes[2].set_xlabel("elapsed time (ps), stages in order (minimisation left out)")
    axes[0].legend(fontsize=7, loc="best", title="stage", title_fontsize=7)
    axes[1].legend(fontsize=7, loc="best")
    axes[0].set_title(title or "thermodynamic traces", fontsize=10)
    return fig


def plot_thermo(
    thermo: pd.DataFrame,
    path_png: str | Path,
    title: str = "",
    n_atoms: int | None = None,
) -> tuple[Path, Path]:
    """T (K), E and P (10^4 atm) against elapsed time for every stage of a run.

    ``thermo``: a ``thermo.parquet`` table of a melt-quench or production run (columns
    :data:`THERMO_COLUMNS`; optional ``etotal_kcal_mol`` is drawn dashed, optional
    ``replica`` gives one line per replica). Colours mark stages, dotted lines their
    boundaries. Energies are per atom in eV when ``n_atoms`` is given, else cell totals
    in kcal/mol. Missing columns raise a ValueError naming them.
    """
    return _save(thermo_figure(thermo, title, n_atoms), path_png)


# --------------------------------------------------------------------------- quench E(T)


def quench_rows(thermo: pd.DataFrame) -> pd.DataFrame:
    """Rows of the cooling stages (``quench`` or ``quench_*``, see glassflow.md.lammps)."""
    check_thermo_columns(thermo)
    return thermo[thermo["stage"].astype(str).str.startswith("quench")].reset_index(drop=True)


class HingeFit(NamedTuple):
    """``E = intercept + slope_glass T + (slope_liquid - slope_glass) max(T - T_f_K, 0)``."""

    T_f_K: float
    intercept: float
    slope_glass: float
    slope_liquid: float
    rss: float

    def __call__(self, T_K: npt.ArrayLike) -> npt.NDArray[np.float64]:
        T = np.asarray(T_K, dtype=float)
        kink = (self.slope_liquid - self.slope_glass) * np.maximum(T - self.T_f_K, 0.0)
        return self.intercept + self.slope_glass * T + kink


def hinge_fit(
    T_K: npt.ArrayLike, E: npt.ArrayLike, n_grid: int = 200, min_side: int = 3
) -> HingeFit | None:
    """Continuous two-line least-squares fit of E(T) (:class:`HingeFit`).

    Slopes are in E units per K. The breakpoint minimises the squared error over a grid
    that keeps ``min_side`` points on each side; None with fewer than ``2 min_side``
    points or a flat T range. T_f is the fictive temperature at which the glass line
    leaves the liquid line during cooling (at MD cooling rates, far above the
    experimental Tg).
    """
    T = np.asarray(T_K, dtype=float).ravel()
    e = np.asarray(E, dtype=float).ravel()
    ok = np.isfinite(T) & np.isfinite(e)
    T, e = T[ok], e[ok]
    if T.size < 2 * min_side or np.ptp(T) <= 0:
        return None
    ts = np.sort(T)
    grid = np.linspace(ts[min_side - 1], ts[T.size - min_side], n_grid)
    hinge = np.maximum(T[None, :] - grid[:, None], 0.0)  # (G, n)
    basis = np.stack([np.ones_like(hinge), np.broadcast_to(T, hinge.shape), hinge], axis=-1)
    coef = np.stack([np.linalg.lstsq(b, e, rcond=None)[0] for b in basis])  # (G, 3)
    resid = e[None, :] - np.einsum("gni,gi->gn", basis, coef)
    rss = np.sum(resid * resid, axis=1)
    i = int(np.argmin(rss))
    a, b_glass, db = (float(v) for v in coef[i])
    return HingeFit(float(grid[i]), a, b_glass, b_glass + db, float(rss[i]))


def break_is_supported(
    T_K: npt.ArrayLike, E: npt.ArrayLike, fit: HingeFit, margin: float = 2.0
) -> bool:
    """True when the two-line fit beats one straight line by more than ``margin`` in AICc.

    Gaussian likelihood with the scale profiled out: k = 3 for the line (intercept,
    slope, scale) and 5 for the hinge (two slopes, intercept, breakpoint, scale), as for
    the two-regime Arrhenius fit (:func:`glassflow.campaign.arrhenius.aicc`).
    """
    T = np.asarray(T_K, dtype=float).ravel()
    e = np.asarray(E, dtype=float).ravel()
    ok = np.isfinite(T) & np.isfinite(e)
    T, e = T[ok], e[ok]
    coef = np.polyfit(T, e, 1)
    rss_line = float(np.sum((e - np.polyval(coef, T)) ** 2))
    return aicc(fit.rss, T.size, 5) < aicc(rss_line, T.size, 3) - margin


def binned_means(
    x: npt.ArrayLike, y: npt.ArrayLike, width: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Means of x and y in bins of x of ``width`` (empty bins dropped)."""
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if xa.size == 0:
        return np.empty(0), np.empty(0)
    k = np.floor((xa - xa.min()) / width).astype(int)
    n = np.bincount(k)
    keep = n > 0
    return (np.bincount(k, xa)[keep] / n[keep], np.bincount(k, ya)[keep] / n[keep])


def quench_energy_figure(
    thermo: pd.DataFrame, title: str = "", n_atoms: int | None = None, bin_K: float = 50.0
) -> Figure:
    """The figure of :func:`plot_quench_energy` (not saved)."""
    q = quench_rows(thermo)
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    if q.empty:
        _no_data(ax, "no quench stage in this thermo table")
        return fig
    T = q["temp_K"].to_numpy(dtype=float)
    e = _energy(q, "pe_kcal_mol", n_atoms)
    ax.plot(T, e, ".", ms=2, color="0.6", alpha=0.6, label="thermo lines (instantaneous T)")
    tb, eb = binned_means(T, e, bin_K)
    ax.plot(tb, eb, "o", ms=4, color=color(4), label=f"means in {bin_K:g} K bins")
    fit = hinge_fit(tb, eb)
    tt = np.linspace(tb.min(), tb.max(), 100)
    if fit is not None and break_is_supported(tb, eb, fit):
        ax.plot(
            tt,
            fit(tt),
            "-",
            color=color(5),
            lw=1.2,
            label=f"two-line fit: $T_f$ = {fit.T_f_K:.0f} K",
        )
        ax.axvline(fit.T_f_K, color=color(5), ls=":", lw=1.0)
    elif tb.size >= 2:
        ax.plot(
            tt,
            np.polyval(np.polyfit(tb, eb, 1), tt),
            "-",
            color=color(5),
            lw=1.2,
            label="one line: no break resolved (AICc)",
        )
    ax.set_xlabel("T (K), instantaneous")
    ax.set_ylabel(f"potential energy {_energy_label(n_atoms)}")
    ax.set_title(title or "potential energy during the quench", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_quench_energy(
    thermo: pd.DataFrame,
    path_png: str | Path,
    title: str = "",
    n_atoms: int | None = None,
    bin_K: float = 50.0,
) -> tuple[Path, Path]:
    """Potential energy against temperature during the quench of a melt-quench run.

    ``thermo``: the run's ``thermo.parquet`` (stages ``quench`` or ``quench_fast1/_slow/
    _fast2``). Grey: every thermo line; blue: means in ``bin_K`` bins of instantaneous T;
    red: the continuous two-line fit (:func:`hinge_fit`) on the bin means and its break,
    the fictive temperature T_f of this cooling rate - drawn only when the break is
    supported by AICc (:func:`break_is_supported`), else one straight line and no T_f.
    Energies per atom in eV with ``n_atoms``, else cell totals in kcal/mol.
    """
    return _save(quench_energy_figure(thermo, title, n_atoms, bin_K), path_png)
