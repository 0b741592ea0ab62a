"""Snakemake script: one campaign table (tables/<name>.parquet) as HTML + CSV for the report."""

from glassflow.figures.report_tables import render_parquet
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    written = render_parquet(smk.input.table, smk.output.html, smk.output.csv)
    log.info("wrote %s", ", ".join(map(str, written)))
