"""Snakemake script: arrhenius_<quantity>.png/.pdf."""

import pandas as pd

from glassflow.figures.arrhenius import plot_arrhenius
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    transport = pd.read_parquet(smk.input.transport)
    arrhenius = pd.read_parquet(smk.input.arrhenius)
    plot_arrhenius(transport, arrhenius, smk.wildcards.quantity, smk.output.png)
