"""Snakemake script: dynamics, structure and softness of every replica of one (comp, T).

Each run is analysed on its own; the tables of all replicas are written together, one
tidy table per kind with the run keys (campaign, x, m, T_K, replica) on every row.
"""

from glassflow.analysis.runs import analyse_production_run, combine, write_tables
from glassflow.campaign.convergence import add_point_columns, plan_from_config
from glassflow.campaign.tables import runs_table
from glassflow.config.rule_params import (
    execution_settings,
    potential_path,
    script_config,
    workflow_root,
)
from glassflow.figures.softness import plot_softness_overview
from glassflow.io.atomic import write_parquet_atomic
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    # settings and potential values are params; threads and the file's path are not
    cfg = script_config(smk.config, smk.scriptdir)
    settings = dict(smk.params.settings)
    settings["structure"] = dict(
        settings["structure"], workers=execution_settings(cfg)["structure_workers"]
    )
    potential = potential_path(cfg, workflow_root(smk.scriptdir))
    per_run = [
        analyse_production_run(traj, run_json, settings, potential, smk.threads)
        for traj, run_json in zip(smk.input.trajectories, smk.input.run_jsons, strict=True)
    ]
    tables = combine(per_run)
    write_tables(tables, {name: smk.output[name] for name in tables})
    # with convergence targets: the point's replicas, trajectory, errors and stop reason
    runs = add_point_columns(
        runs_table(smk.input.run_jsons), list(smk.input.rounds), plan_from_config(cfg)
    )
    write_parquet_atomic(runs, smk.output.runs)
    plot_softness_overview(
        tables["softness_ions"], tables["softness_summary"], None, smk.output.softness_png
    )
