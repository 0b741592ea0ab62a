"""Snakemake script: diffusivity_map_T<T>.png/.pdf (D_Na over the (m, x) plane)."""

import pandas as pd

from glassflow.figures.maps import plot_diffusivity_map
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    transport = pd.read_parquet(smk.input.transport)
    plot_diffusivity_map(transport, float(smk.wildcards.T), smk.output.png)
