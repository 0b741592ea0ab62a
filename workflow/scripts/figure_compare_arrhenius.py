"""Snakemake script: compare_arrhenius_<quantity>.png/.pdf, campaigns side by side.

Inputs: ``transport`` (list: the transport tables of every compared campaign) and
``arrhenius`` (the comparison Arrhenius table, which names each campaign with its
neutrality policy); the Arrhenius figure then shows one series per campaign and
composition.
"""

import pandas as pd

from glassflow.campaign.compare import campaign_labels, label_campaigns
from glassflow.figures.arrhenius import plot_arrhenius
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    arrhenius = pd.read_parquet(smk.input.arrhenius)
    labels = campaign_labels(arrhenius)
    transport = pd.concat([pd.read_parquet(p) for p in smk.input.transport], ignore_index=True)
    plot_arrhenius(
        label_campaigns(transport, labels),
        label_campaigns(arrhenius, labels),
        smk.wildcards.quantity,
        smk.output.png,
    )
