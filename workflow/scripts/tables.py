"""Snakemake script: gather every per-run table of the campaign into tables/."""

from pathlib import Path

import pandas as pd

from glassflow.protocol import write_parquet_atomic
from glassflow.runlog import logged
from glassflow.tables import concat_tables, failure_reason, missing_runs, runs_table

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    glass = {}
    for p in smk.input.glass_jsons:
        parts = Path(p).parts  # .../<comp>/repNN/glass/glass.json
        glass[(parts[-4], int(parts[-3].removeprefix("rep")))] = p
    runs = runs_table(smk.input.run_jsons, glass, smk.params.config_hash, smk.params.git_commit)
    expected = [dict(e, reason=failure_reason(e["log"])) for e in smk.params.expected]
    missing = missing_runs(expected, runs)
    for _, row in missing.iterrows():
        log.warning("missing run %s: %s", dict(row.drop("reason")), row["reason"])
    write_parquet_atomic(missing, smk.output.missing)
    write_parquet_atomic(runs, smk.output.runs)
    write_parquet_atomic(concat_tables(smk.input.transport, ["species"]), smk.output.transport)
    write_parquet_atomic(concat_tables(smk.input.structure, ["stage"]), smk.output.structure)
    write_parquet_atomic(concat_tables(smk.input.topology, ["stage"]), smk.output.topology)
    write_parquet_atomic(concat_tables(smk.input.softness), smk.output.softness)
    log.info("%d runs aggregated, %d missing", len(runs), len(missing))
    if len(missing):
        print(pd.DataFrame(missing).to_string())
