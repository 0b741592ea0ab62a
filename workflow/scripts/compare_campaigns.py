"""Snakemake script: this campaign's transport and Arrhenius tables beside other campaigns'.

Inputs: lists ``transport``, ``arrhenius``, ``runs`` (this campaign first, then the
campaigns of config key compare_with, same order). Outputs: ``transport`` and
``arrhenius`` comparison tables (glassflow.campaign.compare), every row compared with
this campaign.
"""

import pandas as pd

from glassflow.campaign.compare import (
    check_distinct_campaigns,
    compare_arrhenius,
    compare_transport,
)
from glassflow.io.atomic import write_parquet_atomic
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    sources = [str(p) for p in smk.input.runs]
    runs = [pd.read_parquet(p) for p in smk.input.runs]
    check_distinct_campaigns(runs, sources)
    reference = str(runs[0]["campaign"].iloc[0])
    transport = compare_transport(
        [pd.read_parquet(p) for p in smk.input.transport], runs, reference
    )
    arrhenius = compare_arrhenius(
        [pd.read_parquet(p) for p in smk.input.arrhenius], runs, reference
    )
    write_parquet_atomic(transport, smk.output.transport)
    write_parquet_atomic(arrhenius, smk.output.arrhenius)
    log.info(
        "compared with %s:\n%s",
        reference,
        transport.groupby(["campaign_label", "quantity", "species"])["delta_log10"]
        .describe()
        .to_string(),
    )
