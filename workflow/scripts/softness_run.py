"""Snakemake script: softness of the mobile ions of one production run (physics.md §7).

Inputs: ``trajectory`` (.gtrj), ``run_json`` (campaign, x, m, T_K, replica),
``vanhove`` (per-run Van Hove parquet of the dynamics rule; default displacement
threshold); params: ``settings`` (``glassflow.softness.SoftnessSettings``), optional
``potential`` (a ``glassflow.potential.Potential`` or the path of its YAML file; without it
the per-ion energy column is <NA>); outputs: ``ions``, ``summary`` parquet, ``png``;
log: ``log[0]``.
"""

import json
import time
from pathlib import Path

import pandas as pd

from glassflow.figures_softness import plot_softness_overview
from glassflow.potential import Potential, load_potential
from glassflow.runlog import logged
from glassflow.softness import SoftnessSettings, analyse_softness, collect_samples
from glassflow.trajectory import open_trajectory

snakemake = globals()["snakemake"]

with logged(snakemake.log[0]) as log:
    t0 = time.perf_counter()
    settings = SoftnessSettings.from_dict(dict(snakemake.params.settings or {}))
    with open(snakemake.input.run_json) as fh:
        meta = json.load(fh)
    traj = open_trajectory(snakemake.input.trajectory)
    log.info("%s: %d frames, %d atoms, %s", traj.path, traj.n_frames, traj.n_atoms, traj.species)
    vanhove = pd.read_parquet(snakemake.input.vanhove)

    pot = getattr(snakemake.params, "potential", None)
    if isinstance(pot, str | Path):
        pot = load_potential(pot)
    buck = pot.pairs if isinstance(pot, Potential) and settings.energy else None
    if buck is None and settings.energy:
        log.info("no potential given: per-ion energy left <NA>")

    samples = collect_samples(
        traj.positions,
        traj.times_ps,
        traj.box_A,
        traj.types,
        traj.species,
        settings,
        charges_e=traj.charges,
        buckingham=buck,
    )
    ions, summary, pr = analyse_softness(samples, settings, meta, vanhove)
    ions.to_parquet(snakemake.output.ions, index=False)
    summary.to_parquet(snakemake.output.summary, index=False)
    plot_softness_overview(ions, summary, pr, snakemake.output.png)
    for k, v in summary.iloc[0].items():
        log.info("summary %s = %s", k, v)
    log.info("done in %.1f s", time.perf_counter() - t0)
