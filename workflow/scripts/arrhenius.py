"""Snakemake script: Arrhenius fits of D_k(T) and sigma*T per composition."""

import pandas as pd

from glassflow.arrhenius import ARRHENIUS_COLUMNS, arrhenius_table
from glassflow.protocol import write_parquet_atomic
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    table = arrhenius_table(pd.read_parquet(smk.input.transport))
    write_parquet_atomic(table, smk.output.arrhenius)
    cols = [*ARRHENIUS_COLUMNS[1:8], "n_points", "reason"]
    log.info("Arrhenius fits:\n%s", table[cols].to_string())
