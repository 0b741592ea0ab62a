"""Softness of one run: samples over windows, labels, fit and relations (physics.md §7).

:func:`collect_samples` gathers, for every ion of the mobile species in every
non-overlapping window, the structure functions at the window start
(:mod:`~glassflow.analysis.softness.features`), the displacement and cumulative D2min over
the window (:mod:`~glassflow.analysis.softness.labels`) and the local environment
(:mod:`~glassflow.analysis.softness.environment`); :func:`analyse_softness` labels them,
fits the classifier (:mod:`~glassflow.analysis.softness.classifier`) and relates the
softness to the dynamics (:mod:`~glassflow.analysis.softness.relations`). Units: Å, ps,
kcal/mol, e (LAMMPS ``real``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from glassflow.analysis.softness.classifier import chance_band, fit_softness
from glassflow.analysis.softness.environment import (
    local_environment,
    pair_energies,
    voronoi_volumes,
)
from glassflow.analysis.softness.features import feature_names, radial_features
from glassflow.analysis.softness.labels import (
    cumulative_d2min,
    displacements,
    label_samples,
    window_starts,
)
from glassflow.analysis.softness.relations import correlations, rearrangement_probability
from glassflow.analysis.softness.settings import SoftnessSettings

FloatArray = npt.NDArray[np.float64]


@dataclass
class WindowSamples:
    """Pooled per-ion samples over all windows of one run (rows = ion x window)."""

    features: FloatArray
    feature_names: list[str]
    ions: pd.DataFrame  # atom_index, window_start_ps, disp_A, d2min_cum_A2, environment ...


def collect_samples(
    positions: Any,
    times_ps: npt.ArrayLike,
    box_A: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    settings: SoftnessSettings,
    charges_e: npt.ArrayLike | None = None,
    buckingham: Mapping[frozenset[str], Any] | None = None,
) -> WindowSamples:
    """Features and dynamics of every ion of ``settings.species`` in every window.

    ``positions(start, stop)`` returns unwrapped frames (frames, atoms, 3), Å (e.g.
    ``Trajectory.positions``) or ``positions`` is such an array. Windows are
    non-overlapping (:func:`window_starts`) of ``window_ps`` (clipped to the run minus one
    frame). Per sample: structure functions at the window start, displacement and
    cumulative D2min over the window, local environment, Voronoi volume and (with charges
    and Buckingham parameters) the approximate pair energy at the window start.
    """
    get = positions if callable(positions) else (lambda a, b: np.asarray(positions)[a:b])
    t = np.asarray(times_ps, dtype=np.float64)
    types = np.asarray(types, dtype=np.intp)
    box = np.asarray(box_A, dtype=np.float64)
    dt = float(np.median(np.diff(t))) if t.size > 1 else float("nan")
    centres = (
        np.flatnonzero(types == species.index(settings.species))
        if (settings.species in species)
        else np.zeros(0, np.intp)
    )
    mu = settings.mu_grid_A()
    names = feature_names(species, mu)
    empty = WindowSamples(np.zeros((0, len(names))), names, pd.DataFrame())
    if t.size < 2 or centres.size == 0:
        return empty
    wf = max(1, min(int(round(settings.window_ps / dt)), t.size - 1))
    sub = max(1, min(int(round(settings.d2min_sublag_ps / dt)), wf))
    feats, frames = [], []
    for s in window_starts(t.size, wf, settings.max_windows):
        pos = np.asarray(get(int(s), int(s) + wf + 1), dtype=np.float64)
        x0 = pos[0]
        feats.append(
            radial_features(
                x0, box, types, centres, mu, settings.width_A, settings.r_max_A, len(species)
            )
        )
        df = local_environment(
            x0, box, types, species, centres,
            settings.env_cutoff_A, settings.si_s_cutoff_A, settings.ss_bond_cutoff_A,
        )  # fmt: skip
        df.insert(0, "atom_index", centres)
        df.insert(1, "window_start_ps", float(t[s]))
        df.insert(2, "window_ps", float(t[s + wf] - t[s]))
        df["disp_A"] = displacements(x0[centres], pos[-1][centres])
        df["d2min_cum_A2"] = cumulative_d2min(
            pos, box, centres, settings.d2min_cutoff_A, sub, settings.d2min_accumulate
        )
        df["voronoi_volume_A3"] = voronoi_volumes(x0, box)[centres] if settings.voronoi else np.nan
        energy = np.full(centres.size, np.nan)
        if settings.energy and charges_e is not None and buckingham is not None:
            rc = min(settings.energy_cutoff_A, 0.5 * float(box.min()) - 1e-6)
            energy = pair_energies(
                x0, box, types, species, charges_e, buckingham, rc, settings.wolf_alpha_inv_A
            )[centres]
        df["energy_kcal_mol"] = energy
        frames.append(df)
    if not frames:
        return empty
    return WindowSamples(np.vstack(feats), names, pd.concat(frames, ignore_index=True))


def analyse_softness(
    samples: WindowSamples,
    settings: SoftnessSettings,
    meta: Mapping[str, Any],
    vanhove: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Label, fit and relate: returns (ions, summary, P_R table) for one run (or pool).

    ``ions``: keys, species, sample columns, ``label`` (Int8: 1, 0, <NA> ambiguous),
    ``split`` (train/test/none), ``softness``. ``summary``: one row with the counts,
    accuracies, ``chance_upper_2sigma`` (0.5 + 2 sqrt(0.25 / n_test): a balanced test
    accuracy above it is better than chance at ~2 sigma), correlations (over samples not
    used for training), thresholds and a ``reason`` ("" when the fit succeeded).
    """
    keys = {k: meta.get(k) for k in ("campaign", "x", "m", "T_K", "replica")}
    ions = samples.ions.copy()
    lab, th = label_samples(ions, settings, vanhove)
    groups = ions["atom_index"].to_numpy() if settings.group_split and len(ions) else None
    model = fit_softness(samples.features, lab, settings, groups)
    soft = model.softness(samples.features) if len(ions) else np.zeros(0)
    split = np.full(len(ions), "none", dtype=object)
    split[model.train_index] = "train"
    split[model.test_index] = "test"
    if len(ions):
        ions["label"] = pd.array(np.where(lab >= 0, lab, 0), dtype="Int8")
        ions.loc[lab < 0, "label"] = pd.NA
        ions["split"] = split
        ions["softness"] = soft
    else:
        ions = pd.DataFrame(columns=["atom_index", "label", "split", "softness", "disp_A"])
    held = split != "train"
    disp = ions["disp_A"].to_numpy(float) if len(ions) else np.zeros(0)
    corr = correlations(soft[held], disp[held]) if len(ions) else correlations([], [])
    high = th["threshold_high"]
    metric = (
        disp
        if settings.label_method == "displacement"
        else (ions["d2min_cum_A2"].to_numpy(float) if len(ions) else np.zeros(0))
    )
    rearr = np.where(np.isfinite(metric), (metric >= high).astype(float), np.nan)
    pr = rearrangement_probability(soft[held], rearr[held], disp[held], settings.n_bins)
    is_disp = settings.label_method == "displacement"
    nan = float("nan")
    summary = {
        **keys,
        "species": settings.species,
        "label_method": settings.label_method,
        "n_windows": int(ions["window_start_ps"].nunique()) if len(ions) else 0,
        "window_ps": float(ions["window_ps"].median()) if len(ions) else nan,
        "n_samples": int(len(ions)),
        "n_rearranging": int(np.count_nonzero(lab == 1)),
        "n_non_rearranging": int(np.count_nonzero(lab == 0)),
        "n_ambiguous": int(np.count_nonzero(lab < 0)),
        "n_features": int(samples.features.shape[1]),
        "n_features_used": int(model.feature_mask.sum()) if model.feature_mask is not None else 0,
        "n_train": model.n_train,
        "n_test": model.n_test,
        "train_accuracy": model.train_accuracy,
        "test_accuracy": model.test_accuracy,
        "test_balanced_accuracy": model.test_balanced_accuracy,
        "shuffled_test_accuracy": model.shuffled_test_accuracy,
        "chance_upper_2sigma": chance_band(model.n_test, 0.5, 2.0)[1] if model.fitted else nan,
        "split": model.split,
        **{k: corr[k] for k in ("pearson_r", "pearson_p", "spearman_rho", "spearman_p")},
        "n_corr": int(corr["n_corr"]),
        "disp_threshold_low_A": th["threshold_low"] if is_disp else nan,
        "disp_threshold_high_A": th["threshold_high"] if is_disp else nan,
        "d2min_threshold_low_A2": nan if is_disp else th["threshold_low"],
        "d2min_threshold_high_A2": nan if is_disp else th["threshold_high"],
        "threshold_source": th["threshold_source"],
        "vanhove_t_ps": th["vanhove_t_ps"],
        "reason": model.reason,
    }
    summ = pd.DataFrame([summary])
    return _with_keys(ions, keys, settings.species), summ, _with_keys(pr, keys, settings.species)


def _with_keys(df: pd.DataFrame, keys: Mapping[str, Any], species: str) -> pd.DataFrame:
    """``df`` with the run keys and ``species`` as its first columns."""
    out = df.drop(columns=[c for c in (*keys, "species") if c in df])
    for i, (c, v) in enumerate([*keys.items(), ("species", species)]):
        out.insert(i, c, v)
    return out
