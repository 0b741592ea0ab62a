"""Force-field cross-check: the campaign's classical potential against a machine-learned one.

For each quenched glass (docs/physics.md §2 and §6):

1. forces on the same configuration from both force fields, compared per species
   (:func:`force_errors`: RMSE, MAE, the RMS force of each, their correlation);
2. a short anneal of the glass with the machine-learned potential (heat, hold, cool,
   ASE engine), then the topology of the classical and the annealed glass with the same
   bond cutoffs: S in S-S bonds, Si coordination, bridging and non-bridging S, the
   floppy fraction f(MD) of the constraint count, and eq 1's f at the cell's (x, m)
   (:func:`topology_side_by_side`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from glassflow.analysis.topology import mean_field_floppy_fraction

#: topology columns of the side-by-side table (glassflow.analysis.topology.frame_topology)
TOPOLOGY_COLUMNS = (
    "frac_S_in_SS",
    "frac_BS",
    "frac_NBS",
    "frac_free",
    "si_cn_mean",
    "si_cn_4",
    "mean_r",
    "n_constraints",
    "f_md",
)


def force_errors(
    f_ref: npt.ArrayLike,
    f_test: npt.ArrayLike,
    symbols: Sequence[str],
    species: Sequence[str],
) -> pd.DataFrame:
    """Per-species comparison of two force sets on the same atoms.

    Parameters
    ----------
    f_ref, f_test : (N, 3) float, eV/Å
        Forces of the reference (classical) and the tested (machine-learned) potential.
    symbols : (N,) str
        Element of each atom.
    species : sequence of str
        Elements to report, in order (an element with no atoms is left out).

    Returns
    -------
    DataFrame
        One row per species (and ``all``): ``n_atoms``, ``rms_ref_eV_A`` and
        ``rms_test_eV_A`` (root mean square of the Cartesian components), ``rmse_eV_A``
        (root mean square of the component differences), ``mae_eV_A`` and ``pearson_r``
        of the components.
    """
    a = np.asarray(f_ref, dtype=np.float64)
    b = np.asarray(f_test, dtype=np.float64)
    sym = np.asarray(symbols)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 3 or sym.shape != (a.shape[0],):
        raise ValueError(f"force arrays {a.shape}, {b.shape} and symbols {sym.shape} differ")
    rows = []
    for name in [*species, "all"]:
        mask = np.ones(sym.size, bool) if name == "all" else sym == name
        if not mask.any():
            continue
        x, y = a[mask].ravel(), b[mask].ravel()
        d = y - x
        r = float(np.corrcoef(x, y)[0, 1]) if x.size > 1 and x.std() and y.std() else np.nan
        rows.append(
            {
                "species": name,
                "n_atoms": int(mask.sum()),
                "rms_ref_eV_A": float(np.sqrt(np.mean(x**2))),
                "rms_test_eV_A": float(np.sqrt(np.mean(y**2))),
                "rmse_eV_A": float(np.sqrt(np.mean(d**2))),
                "mae_eV_A": float(np.mean(np.abs(d))),
                "pearson_r": r,
            }
        )
    return pd.DataFrame(rows)


def topology_side_by_side(
    topologies: Mapping[str, pd.DataFrame], keys: Mapping[str, Any]
) -> pd.DataFrame:
    """One row per force field: the glass topology and eq 1 at the achieved (x, m).

    Parameters
    ----------
    topologies : mapping force-field label -> DataFrame
        The ``topology`` table of :func:`glassflow.analysis.runs.structure_of_glass` for
        each glass (one row, columns of ``frame_topology`` plus x_achieved, m_achieved).
    keys : mapping
        Campaign, composition and replica keys put on every row.

    Returns
    -------
    DataFrame
        ``force_field``, the keys, :data:`TOPOLOGY_COLUMNS`, ``x_achieved``,
        ``m_achieved``, ``f_eq1`` (eq 1 at the achieved composition) and
        ``delta_f`` (= f_md - f_eq1).
    """
    rows = []
    for label, table in topologies.items():
        if len(table) != 1:
            raise ValueError(f"{label}: expected one topology row, got {len(table)}")
        t = table.iloc[0]
        row = {"force_field": label, **keys}
        row.update({c: float(t[c]) for c in TOPOLOGY_COLUMNS if c in t})
        xa, ma = float(t["x_achieved"]), float(t["m_achieved"])
        row.update(x_achieved=xa, m_achieved=ma, f_eq1=mean_field_floppy_fraction(xa, ma))
        row["delta_f"] = row["f_md"] - row["f_eq1"]
        rows.append(row)
    return pd.DataFrame(rows)


def crosscheck_glass(
    glass: str | Path,
    keys: Mapping[str, Any],
    context: Mapping[str, Any],
    lammps: Any,
    mlip: Any,
    settings: Mapping[str, Any],
    relax_T_K: float,
    structure: Any,
    workdir: str | Path,
    stdout_log: str | Path,
    seed: int,
) -> dict[str, Any]:
    """The cross-check of one glass (steps 1 and 2 of the module docstring).

    Parameters
    ----------
    glass : path
        The classical glass (LAMMPS data file).
    keys : mapping
        campaign, x, m, replica of the glass (put on every row).
    context : mapping
        The composition's force-field template context (species, charges, masses, pairs).
    lammps : glassflow.md.lammps.Engine
        How LAMMPS runs the classical single point.
    mlip : glassflow.md.engines.ase.AseEngine
        The machine-learned calculator and its MD.
    settings : mapping
        The ``crosscheck`` config block (anneal temperature, hold, rate, time step, ...).
    relax_T_K : float, K
        Start and end temperature of the anneal.
    structure : StructureSettings
        Settings of the glass structure analysis (bond cutoffs from g(r)).
    workdir : path
        Scratch directory of the job (LAMMPS single point, anneal checkpoints).

    Returns
    -------
    dict
        ``forces`` (DataFrame of :func:`force_errors`, plus the keys),
        ``topology`` (DataFrame of :func:`topology_side_by_side`), ``thermo`` (the
        anneal's thermo table), ``record`` (energies, timings, versions).
    """
    from glassflow.analysis.runs import structure_of_glass
    from glassflow.md.engines.ase_md import KCAL_MOL_PER_EV
    from glassflow.md.engines.ase_stages import anneal_stages
    from glassflow.md.single_point import lammps_single_point

    workdir = Path(workdir)
    species = tuple(context["species"])
    t0 = time.perf_counter()
    e_cl, f_cl = lammps_single_point(glass, context, lammps, workdir / "single_point", stdout_log)
    t_cl = time.perf_counter() - t0
    t0 = time.perf_counter()
    e_ml, f_ml, symbols = mlip.single_point(glass, context)
    t_ml = time.perf_counter() - t0
    forces = force_errors(f_cl / KCAL_MOL_PER_EV, f_ml, symbols, species)
    for k, v in keys.items():
        forces.insert(0, k, v)

    dt = float(settings["timestep_fs"])
    stages = anneal_stages(
        float(relax_T_K),
        float(settings["anneal_T_K"]),
        float(settings["anneal_hold_ps"]),
        float(settings["anneal_rate_K_ps"]),
        dt,
    )
    protocol = {
        k: settings[k]
        for k in (
            "timestep_fs",
            "thermostat_damping_fs",
            "restart_interval_fs",
            "thermo_interval_fs",
        )
    }
    anneal_dir = workdir / "anneal"
    anneal_dir.mkdir(parents=True, exist_ok=True)
    info = mlip.anneal(anneal_dir, glass, stages, context, protocol, stdout_log, seed)
    thermo = mlip.melt_quench_thermo(anneal_dir)
    annealed = anneal_dir / "annealed.data"
    glass_keys = {**keys, "T_K": float(relax_T_K)}
    topologies = {
        f"classical ({context.get('potential_name', 'potential')})": structure_of_glass(
            glass, species, glass_keys, structure
        )["topology"],
        f"{mlip.settings.calculator} {mlip.settings.model} anneal": structure_of_glass(
            annealed, species, glass_keys, structure
        )["topology"],
    }
    n = len(symbols)
    record = {
        **keys,
        "n_atoms": n,
        "classical_energy_eV_per_atom": e_cl / KCAL_MOL_PER_EV / n,
        "mlip_energy_eV_per_atom": e_ml / n,
        "classical_single_point_s": t_cl,
        "mlip_single_point_s": t_ml,
        "anneal_steps": info["n_steps"],
        "anneal_wall_s": info["wall_time_s"],
        "anneal_s_per_step": info["wall_time_s_last_attempt"] / max(info["n_steps"], 1),
        "anneal_stages": [s.__dict__ for s in stages],
        "mlip_version": mlip.version(),
        "resumed_from_step": info["resumed_from_step"],
    }
    return {
        "forces": forces,
        "topology": topology_side_by_side(topologies, keys),
        "thermo": thermo,
        "record": record,
        "annealed": annealed,
    }
