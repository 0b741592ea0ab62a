"""Snakemake script: the adaptive rounds' tables (points, rounds, posterior) and figure."""

import json
from pathlib import Path

from glassflow.campaign.adaptive_rounds import points_table, posterior_table, rounds_table
from glassflow.figures.adaptive import plot_adaptive
from glassflow.io.atomic import write_parquet_atomic
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    records = [json.loads(Path(p).read_text()) for p in smk.input.records]
    points, rounds, posterior = (
        points_table(records),
        rounds_table(records),
        posterior_table(records),
    )
    write_parquet_atomic(points, smk.output.points)
    write_parquet_atomic(rounds, smk.output.rounds)
    write_parquet_atomic(posterior, smk.output.posterior)
    plot_adaptive(points, rounds, posterior, smk.output.png)
    log.info("%d rounds, %d points; stop: %s", len(records), len(points), records[-1]["stop"])
