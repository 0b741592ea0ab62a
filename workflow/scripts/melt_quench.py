"""Snakemake script: melt, quench and relax one random cell with the configured MD engine."""

from pathlib import Path

from glassflow.config.rule_params import execution_settings, script_config
from glassflow.md.engines import engine_from_config
from glassflow.md.jobs import melt_quench_job
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    keys = smk.params.run_keys
    context = dict(
        smk.params.force_field,
        label=smk.params.label,
        replica=keys["replica"],
        seed=smk.params.seed,
    )
    # physics from params; how the engine is launched from the validated config (not a param)
    cfg = script_config(smk.config, smk.scriptdir)
    engine_settings = dict(smk.params.engine, **execution_settings(cfg)["engine"])
    melt_quench_job(
        engine_from_config(engine_settings),
        workdir=Path(smk.output.glass).parent,
        context=context,
        protocol=smk.params.protocol,
        engine_settings=engine_settings,
        run_keys=keys,
        cell_meta=smk.input.cell_meta,
        stdout_log=smk.log[0],
        thermo_out=smk.output.thermo,
        glass_json_out=smk.output.run_json,
    )
