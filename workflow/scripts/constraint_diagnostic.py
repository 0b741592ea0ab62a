"""Snakemake script: constraint terms MD vs eq 1 per composition (quenched glasses).

Outputs: ``diagnostic`` (term table), ``gap`` (per-composition gap and its parts) and
the figure ``png`` (+ ``pdf``); log: ``log[0]``.
"""

import pandas as pd

from glassflow.campaign.constraint_diagnostics import constraint_diagnostic, gap_summary
from glassflow.figures.constraints import plot_constraint_diagnostic
from glassflow.io.atomic import write_parquet_atomic
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    topology = pd.read_parquet(smk.input.topology)
    diagnostic = constraint_diagnostic(topology, stage="glass")
    gap = gap_summary(diagnostic)
    write_parquet_atomic(diagnostic, smk.output.diagnostic)
    write_parquet_atomic(gap, smk.output.gap)
    plot_constraint_diagnostic(topology, smk.output.png, stage="glass")
    log.info("gap f_MD - f_eq1 per composition:\n%s", gap.to_string())
