"""Snakemake script: check the configured MD engine before any MD job.

LAMMPS: packages, styles and launcher; ASE: the calculator loads and computes.
"""

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
    if cfg["engine"]["kind"] == "ase":
        from glassflow.md.engines.ase import AseEngine

        report = AseEngine.from_config(cfg["engine"]).preflight()
        log.info("%s: S2 at 2.0 A: %.4f eV", report["version"], report["s2_energy_at_2A_eV"])
        write_report(report, smk.output.report)
        raise SystemExit(0)
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
