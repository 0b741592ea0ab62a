"""Snakemake script: check the configured LAMMPS (packages, styles, launcher) before MD."""

from pathlib import Path

from glassflow.config.rule_params import execution_settings, script_config
from glassflow.md.lammps import Engine
from glassflow.md.preflight import preflight, write_report
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    # how LAMMPS is launched: from the validated config, as in the MD scripts
    cfg = script_config(smk.config, smk.scriptdir)
    engine = Engine.from_config(execution_settings(cfg)["engine"])
    out = Path(smk.output.report)
    report = preflight(engine, cfg["engine"]["kspace_style"], cache_dir=out.parent / "cache")
    log.info(
        "LAMMPS %s at %s: packages %s; styles %s",
        report["lammps_version"],
        report["executable"],
        " ".join(report["packages"]),
        report["styles_checked"],
    )
    write_report(report, out)
