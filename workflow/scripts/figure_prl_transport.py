"""Snakemake script: prl_transport_x<x>.png/.pdf (sigma and D_Na against m, one series).

``params.series``: the series' ``x`` and the (x, m) ``members`` (glassflow.campaign.series).
``params.targets`` (optional): quantity ("sigma", "D_Na") -> 1 sigma relative-error target
(fraction); points that missed it are crossed on the figure.
"""

import pandas as pd

from glassflow.campaign.series import select_series
from glassflow.figures.rigidity import plot_prl_transport_vs_m
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    x, members = smk.params.series["x"], smk.params.series["members"]
    transport = select_series(pd.read_parquet(smk.input.transport), members, x)
    targets = dict(getattr(smk.params, "targets", None) or {})
    plot_prl_transport_vs_m(transport, x, smk.output.png, targets=targets)
    log.info("%s series at x = %.4f: %d compositions", smk.params.series["kind"], x, len(members))
