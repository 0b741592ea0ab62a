"""Snakemake script: Arrhenius fits of D_k(T) and sigma*T per composition.

The table gets the ``few_temperatures`` flag (fits through fewer than 3 temperatures),
which the figures and the report tables show.
"""

import pandas as pd

from glassflow.campaign.arrhenius import ARRHENIUS_COLUMNS, arrhenius_table, flag_few_temperatures
from glassflow.io.atomic import write_parquet_atomic
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    table = flag_few_temperatures(arrhenius_table(pd.read_parquet(smk.input.transport)))
    write_parquet_atomic(table, smk.output.arrhenius)
    cols = [*ARRHENIUS_COLUMNS[1:8], "n_points", "few_temperatures", "reason"]
    log.info("Arrhenius fits:\n%s", table[cols].to_string())
