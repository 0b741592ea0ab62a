"""Snakemake script: rigidity_threshold_x<x>.png/.pdf for one composition series.

``params.series``: the series' ``x`` and the (x, m) ``members`` (glassflow.campaign.series); the
tables are cut to its compositions and drawn at its x.
``params.targets`` (optional): quantity ("sigma", "D_Na") -> 1 sigma relative-error target
(fraction); points that missed it are crossed on the figure.
"""

import pandas as pd

from glassflow.campaign.series import select_series
from glassflow.figures.rigidity import plot_rigidity_threshold
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    x, members = smk.params.series["x"], smk.params.series["members"]
    transport = select_series(pd.read_parquet(smk.input.transport), members, x)
    arrhenius = select_series(pd.read_parquet(smk.input.arrhenius), members, x)
    topology = select_series(pd.read_parquet(smk.input.topology), members, x)
    topology = topology if len(topology) else None
    targets = dict(getattr(smk.params, "targets", None) or {})
    plot_rigidity_threshold(transport, arrhenius, topology, x, smk.output.png, targets=targets)
    log.info("%s series at x = %.4f: %d compositions", smk.params.series["kind"], x, len(members))
