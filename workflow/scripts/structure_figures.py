"""Snakemake script: structure figures of one composition (all replicas, stages and T).

Inputs: lists ``gr``, ``sk``, ``angles``, ``topology`` of per-run parquet tables (the summary
tables next to the sk tables are read too, for the prepeak marks, when present); outputs:
``gr_png``, ``sk_png``, ``angles_png``, ``topology_png``; log: ``log[0]``.
"""

import logging
from pathlib import Path

import pandas as pd

from glassflow.figures.structure import (
    plot_bond_angles,
    plot_pair_distributions,
    plot_structure_factors,
    plot_topology,
)

snakemake = globals()["snakemake"]
logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
log = logging.getLogger("structure_figures")


def read_all(paths):
    frames = [pd.read_parquet(p) for p in paths]
    log.info("read %d tables", len(frames))
    return pd.concat(frames, ignore_index=True)


gr = read_all(snakemake.input.gr)
sk = read_all(snakemake.input.sk)
angles = read_all(snakemake.input.angles)
topology = read_all(snakemake.input.topology)
summary_paths = [Path(p).with_name("summary.parquet") for p in snakemake.input.sk]
summary = (
    read_all([p for p in summary_paths if p.exists()])
    if any(p.exists() for p in summary_paths)
    else None
)
title = f"x = {gr['x'].iloc[0]:.2f}, m = {gr['m'].iloc[0]:.2f}"
plot_pair_distributions(gr, snakemake.output.gr_png, title)
plot_structure_factors(sk, summary, snakemake.output.sk_png, title)
plot_bond_angles(angles, snakemake.output.angles_png, title)
plot_topology(topology, snakemake.output.topology_png, title)
for name in ("gr_png", "sk_png", "angles_png", "topology_png"):
    log.info("wrote %s", getattr(snakemake.output, name))
