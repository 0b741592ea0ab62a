"""Snakemake script: a point's pooled estimate after its convergence rounds, for the
adaptive rounds (glassflow.campaign.adaptive_rounds.write_point_estimate)."""

from glassflow.campaign.adaptive_rounds import write_point_estimate
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    doc = write_point_estimate(
        list(smk.input.rounds), smk.params.quantity, smk.params.point, smk.output.estimate
    )
    log.info("%s: %s", smk.params.point, doc)
