"""Snakemake script: prl_activation_x<x>.png/.pdf (E_A against m, one series).

``params.series``: the series' ``x`` and the (x, m) ``members`` (glassflow.series).
"""

import pandas as pd

from glassflow.figures_campaign import plot_prl_activation_vs_m
from glassflow.runlog import logged
from glassflow.series import select_series

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    x, members = smk.params.series["x"], smk.params.series["members"]
    arrhenius = select_series(pd.read_parquet(smk.input.arrhenius), members, x)
    plot_prl_activation_vs_m(arrhenius, x, smk.output.png)
    log.info("%s series at x = %.4f: %d compositions", smk.params.series["kind"], x, len(members))
