"""Snakemake script: prl_transport_x<x>.png/.pdf (sigma and D_Na against m at fixed x)."""

import pandas as pd

from glassflow.figures_campaign import plot_prl_transport_vs_m
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    transport = pd.read_parquet(smk.input.transport)
    plot_prl_transport_vs_m(transport, float(smk.wildcards.x), smk.output.png)
