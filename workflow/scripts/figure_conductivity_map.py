"""Snakemake script: conductivity_map_T<T>.png/.pdf."""

import pandas as pd

from glassflow.figures.maps import plot_conductivity_map
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    transport = pd.read_parquet(smk.input.transport)
    plot_conductivity_map(transport, float(smk.wildcards.T), smk.output.png)
