"""Snakemake script: prl_activation_x<x>.png/.pdf (E_A against m, one series).

``params.series``: the series' ``x`` and the (x, m) ``members`` (glassflow.campaign.series).
"""

import pandas as pd

from glassflow.campaign.series import select_series
from glassflow.figures.rigidity import plot_prl_activation_vs_m
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    x, members = smk.params.series["x"], smk.params.series["members"]
    arrhenius = select_series(pd.read_parquet(smk.input.arrhenius), members, x)
    plot_prl_activation_vs_m(arrhenius, x, smk.output.png)
    log.info("%s series at x = %.4f: %d compositions", smk.params.series["kind"], x, len(members))
