"""Snakemake script: gather the campaign's tables into tables/ and report missing runs."""

from glassflow.campaign.adaptive_rounds import add_round_column
from glassflow.campaign.tables import concat_tables, failure_reason, git_commit, missing_runs
from glassflow.config.rule_params import workflow_root
from glassflow.io.atomic import write_parquet_atomic
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake


def with_round(df):
    """Adaptive campaigns: the column round (first round that judged the composition)."""
    return add_round_column(df, smk.params.rounds) if smk.params.rounds else df


with logged(smk.log[0]) as log:
    runs = concat_tables(smk.input.runs).assign(
        config_hash=smk.params.config_hash, git_commit=git_commit(workflow_root(smk.scriptdir))
    )
    expected = [dict(e, reason=failure_reason(e["log"])) for e in smk.params.expected]
    runs = with_round(runs)
    missing = missing_runs(expected, runs)
    for _, row in missing.iterrows():
        log.warning("missing run %s: %s", row.drop("reason").to_dict(), row["reason"])
    write_parquet_atomic(missing, smk.output.missing)
    write_parquet_atomic(runs, smk.output.runs)
    transport = with_round(concat_tables(smk.input.transport, ["species"]))
    write_parquet_atomic(transport, smk.output.transport)
    write_parquet_atomic(concat_tables(smk.input.structure, ["stage"]), smk.output.structure)
    write_parquet_atomic(concat_tables(smk.input.topology, ["stage"]), smk.output.topology)
    write_parquet_atomic(with_round(concat_tables(smk.input.softness)), smk.output.softness)
    log.info("%d runs aggregated, %d missing", len(runs), len(missing))
