"""Snakemake script: rigidity_threshold_x<x>.png/.pdf."""

import pandas as pd

from glassflow.figures_campaign import plot_rigidity_threshold
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    transport = pd.read_parquet(smk.input.transport)
    arrhenius = pd.read_parquet(smk.input.arrhenius)
    topology = pd.read_parquet(smk.input.topology)
    topology = topology if len(topology) else None
    plot_rigidity_threshold(transport, arrhenius, topology, float(smk.wildcards.x), smk.output.png)
