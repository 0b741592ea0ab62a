"""Snakemake script: conductivity_map_T<T>.png/.pdf.

``params.targets`` (optional): quantity ("sigma", "D_Na") -> 1 sigma relative-error target
(fraction); points that missed it are crossed on the figure.
"""

import pandas as pd

from glassflow.figures.maps import plot_conductivity_map
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    transport = pd.read_parquet(smk.input.transport)
    targets = dict(getattr(smk.params, "targets", None) or {})
    plot_conductivity_map(transport, float(smk.wildcards.T), smk.output.png, targets=targets)
