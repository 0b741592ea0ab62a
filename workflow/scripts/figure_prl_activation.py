"""Snakemake script: prl_activation_x<x>.png/.pdf (E_A against m at fixed x)."""

import pandas as pd

from glassflow.figures_campaign import plot_prl_activation_vs_m
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    arrhenius = pd.read_parquet(smk.input.arrhenius)
    plot_prl_activation_vs_m(arrhenius, float(smk.wildcards.x), smk.output.png)
