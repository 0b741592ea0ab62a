"""Snakemake script: dynamics, structure and softness of every replica of one (comp, T)."""

from glassflow.analysis import (
    DYNAMICS_TABLES,
    SOFTNESS_TABLES,
    STRUCTURE_TABLES,
    analyse_production_run,
)
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    for i, (trajectory, run_json) in enumerate(
        zip(smk.input.trajectories, smk.input.run_jsons, strict=True)
    ):
        outputs = {
            stage: {name: smk.output[f"{stage}_{name}"][i] for name in names}
            for stage, names in (
                ("dynamics", DYNAMICS_TABLES),
                ("structure", STRUCTURE_TABLES),
                ("softness", SOFTNESS_TABLES),
            )
        }
        outputs["softness_png"] = {"png": smk.output.softness_png[i]}
        analyse_production_run(
            trajectory, run_json, outputs, smk.params.settings, smk.params.potential, smk.threads
        )
