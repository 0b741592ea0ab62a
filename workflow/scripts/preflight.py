"""Snakemake script: check the configured LAMMPS (packages, styles, launcher) before MD."""

from pathlib import Path

from glassflow.config.rule_params import (
    execution_settings,
    potential_path,
    script_config,
    workflow_root,
)
from glassflow.md.lammps import Engine
from glassflow.md.potential import load_potential
from glassflow.md.preflight import preflight, write_report
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    # how LAMMPS is launched: from the validated config, as in the MD scripts
    cfg = script_config(smk.config, smk.scriptdir)
    engine = Engine.from_config(execution_settings(cfg)["engine"])
    out = Path(smk.output.report)
    potential = load_potential(potential_path(cfg, workflow_root(smk.scriptdir)))
    report = preflight(
        engine, cfg["engine"]["kspace_style"], cache_dir=out.parent / "cache", potential=potential
    )
    log.info(
        "LAMMPS %s at %s: packages %s; styles %s",
        report["lammps_version"],
        report["executable"],
        " ".join(report["packages"]),
        report["styles_checked"],
    )
    write_report(report, out)
