"""The analyses of one production run or one glass, writing their tidy tables.

The workflow bundles these per (composition, temperature) for production runs and per
composition for glasses, so a campaign of 10^4 runs stays a DAG Snakemake builds in
seconds; each run still gets its own tables (keys: campaign, x, m, T_K, replica).
Every output is written via ``*.part`` and renamed, so an interrupted job leaves
nothing that looks complete.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from glassflow.analysis.dynamics.correlations import DynamicsSettings
from glassflow.analysis.dynamics.tables import analyse_run
from glassflow.analysis.structure.settings import StructureSettings
from glassflow.analysis.structure.tables import (
    analyse_configurations,
    load_trajectory_frames,
    read_lammps_data,
)
from glassflow.analysis.table_names import (  # noqa: F401 (named here before)
    DYNAMICS_TABLES,
    SOFTNESS_TABLES,
    STRUCTURE_TABLES,
)
from glassflow.io.atomic import write_parquet_atomic
from glassflow.io.trajectory import Trajectory, open_trajectory

KEYS = ("campaign", "x", "m", "T_K", "replica")

log = logging.getLogger("glassflow")


def read_keys(run_json: str | Path) -> dict[str, Any]:
    """Run keys (and the rest of the run record) from a run.json / glass.json."""
    return json.loads(Path(run_json).read_text())


def write_tables(tables: Mapping[str, pd.DataFrame], paths: Mapping[str, str | Path]) -> None:
    for name, path in paths.items():
        write_parquet_atomic(tables[name], path)


def dynamics_of_run(
    traj: Trajectory, meta: Mapping[str, Any], settings: Mapping[str, Any] | None
) -> dict[str, pd.DataFrame]:
    """MSD, alpha2, Van Hove, transport summary and fast/slow tables (physics.md §4)."""
    return analyse_run(traj, meta, DynamicsSettings.from_dict(settings))


def structure_settings(settings: Mapping[str, Any] | None, threads: int) -> StructureSettings:
    raw = dict(settings or {})
    s = StructureSettings.from_dict(raw)
    return s if "workers" in raw else dataclasses.replace(s, workers=max(1, threads))


def structure_of_trajectory(
    path: str | Path, keys: Mapping[str, Any], settings: StructureSettings
) -> dict[str, pd.DataFrame]:
    """Structure and topology time-averaged over strided frames (physics.md §5-6)."""
    positions, types, species, box = load_trajectory_frames(str(path), settings.max_frames)
    k = {key: keys[key] for key in KEYS} | {"stage": "production"}
    return analyse_configurations(positions, types, species, box, k, settings)


def structure_of_glass(
    data_file: str | Path,
    species: tuple[str, ...],
    keys: Mapping[str, Any],
    settings: StructureSettings,
) -> dict[str, pd.DataFrame]:
    """Structure and topology of one quenched glass (a LAMMPS data file)."""
    pos, types, box = read_lammps_data(str(data_file), species)
    k = {key: keys[key] for key in KEYS} | {"stage": "glass"}
    return analyse_configurations(pos[None], types, species, box, k, settings)


def softness_of_run(
    traj: Trajectory,
    meta: Mapping[str, Any],
    vanhove: pd.DataFrame,
    settings: Mapping[str, Any] | None,
    potential_file: str | Path | None,
) -> dict[str, pd.DataFrame]:
    """Softness of the mobile ions (physics.md §7): per-ion table and summary."""
    from glassflow.analysis.softness.analyse import analyse_softness, collect_samples
    from glassflow.analysis.softness.settings import SoftnessSettings
    from glassflow.md.potential import load_potential

    s = SoftnessSettings.from_dict(settings)
    pot = load_potential(potential_file) if (s.energy and potential_file) else None
    buck = pot.pairs if pot is not None and pot.is_buckingham_table else None
    samples = collect_samples(
        traj.positions,
        traj.times_ps,
        traj.box_A,
        traj.types,
        traj.species,
        s,
        charges_e=traj.charges,
        buckingham=buck,
    )
    ions, summary, _ = analyse_softness(samples, s, meta, vanhove)
    return {"ions": ions, "summary": summary}


def analyse_production_run(
    trajectory: str | Path,
    run_json: str | Path,
    settings: Mapping[str, Mapping[str, Any]],
    potential_file: str | Path | None = None,
    threads: int = 1,
) -> dict[str, pd.DataFrame]:
    """Dynamics, structure and softness tables of one production run.

    Returns ``{"<stage>_<table>": DataFrame}`` for stage in dynamics, structure,
    softness (table names in DYNAMICS_TABLES, STRUCTURE_TABLES, SOFTNESS_TABLES); every
    row carries the run keys. ``settings`` holds the ``analysis`` config sections.
    """
    meta = read_keys(run_json)
    traj = open_trajectory(trajectory, verify="stream")  # every frame read is CRC-checked
    t0 = time.perf_counter()
    dyn = dynamics_of_run(traj, meta, settings.get("dynamics"))
    t1 = time.perf_counter()
    st = structure_of_trajectory(
        trajectory, meta, structure_settings(settings.get("structure"), threads)
    )
    t2 = time.perf_counter()
    soft = softness_of_run(traj, meta, dyn["vanhove"], settings.get("softness"), potential_file)
    t3 = time.perf_counter()
    for _, row in dyn["summary"].iterrows():
        log.info(
            "%s T=%s rep %s %s: diffusive=%s D=%s +- %s cm2/s (%s), D_GK=%s",
            meta["comp"],
            meta["T_K"],
            meta["replica"],
            row["species"],
            row["diffusive"],
            row["D_cm2_s"],
            row["D_err_cm2_s"],
            row["reason"],
            row["D_gk_cm2_s"],
        )
    log.info(
        "%s: dynamics %.1f s, structure %.1f s, softness %.1f s",
        trajectory,
        t1 - t0,
        t2 - t1,
        t3 - t2,
    )
    tables = {f"dynamics_{k}": v for k, v in dyn.items()}
    tables |= {f"structure_{k}": v for k, v in st.items()}
    tables |= {f"softness_{k}": v for k, v in soft.items()}
    return tables


def combine(per_run: list[Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Concatenate each table over several runs (rows keep their run keys); the
    dynamics summary gets the replica-pooled transport columns (docs/transport.md)."""
    from glassflow.analysis.dynamics.tables import pool_dynamics_tables
    from glassflow.campaign.tables import sort_by_keys

    names = per_run[0].keys() if per_run else []
    return pool_dynamics_tables(
        {
            n: sort_by_keys(pd.concat([r[n] for r in per_run if len(r[n])], ignore_index=True))
            if any(len(r[n]) for r in per_run)
            else per_run[0][n]
            for n in names
        }
    )
