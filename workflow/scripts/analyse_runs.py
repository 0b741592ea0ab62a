"""Snakemake script: dynamics, structure and softness of every replica of one (comp, T).

Writes the per-run tables of each replica, then the tables of all replicas combined
(`<comp>/T<T>/tables/*.parquet`), which the composition and campaign rules read.
"""

from glassflow.analysis import (
    DYNAMICS_TABLES,
    SOFTNESS_TABLES,
    STRUCTURE_TABLES,
    analyse_production_run,
    combine_tables,
)
from glassflow.protocol import write_parquet_atomic
from glassflow.runlog import logged
from glassflow.tables import runs_table

smk = snakemake  # noqa: F821 - injected by Snakemake
STAGES = (
    ("dynamics", DYNAMICS_TABLES),
    ("structure", STRUCTURE_TABLES),
    ("softness", SOFTNESS_TABLES),
)

with logged(smk.log[0]):
    pairs = zip(smk.input.trajectories, smk.input.run_jsons, strict=True)
    for i, (trajectory, run_json) in enumerate(pairs):
        outputs = {
            stage: {name: smk.output[f"{stage}_{name}"][i] for name in names}
            for stage, names in STAGES
        }
        outputs["softness_png"] = {"png": smk.output.softness_png[i]}
        analyse_production_run(
            trajectory, run_json, outputs, smk.params.settings, smk.params.potential, smk.threads
        )
    tables = [f"{stage}_{name}" for stage, names in STAGES for name in names]
    combine_tables(
        {t: list(smk.output[t]) for t in tables}, {t: smk.output[f"all_{t}"] for t in tables}
    )
    write_parquet_atomic(runs_table(smk.input.run_jsons), smk.output.all_runs)
