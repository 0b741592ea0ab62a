"""Snakemake script: one glass against the machine-learned potential (forces, anneal, topology)."""

import shutil
from pathlib import Path

from glassflow.analysis.runs import read_keys, structure_settings
from glassflow.campaign.forcefield_crosscheck import crosscheck_glass
from glassflow.config.rule_params import execution_settings, script_config
from glassflow.io.atomic import write_json_atomic, write_parquet_atomic
from glassflow.md.engines.ase import AseEngine
from glassflow.md.lammps import Engine
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    cfg = script_config(smk.config, smk.scriptdir)
    settings = smk.params.crosscheck
    lammps = Engine.from_config(execution_settings(cfg)["engine"])
    mlip = AseEngine.from_config(
        {"ase": {"calculator": settings["calculator"], "model": settings["model"]}, "threads": 1}
    )
    glass = read_keys(smk.input.glass_json)
    keys = {k: glass[k] for k in ("campaign", "x", "m", "replica")}
    result = crosscheck_glass(
        smk.input.glass,
        keys,
        smk.params.force_field,
        lammps,
        mlip,
        settings,
        smk.params.relax_T_K,
        structure_settings(smk.params.structure, smk.threads),
        Path(smk.output.record).parent / "work",
        smk.log[0],
        smk.params.seed,
    )
    log.info("forces (eV/A):\n%s", result["forces"].to_string(index=False))
    log.info("topology:\n%s", result["topology"].T.to_string())
    write_parquet_atomic(result["forces"], smk.output.forces)
    write_parquet_atomic(result["topology"], smk.output.topology)
    write_parquet_atomic(result["thermo"], smk.output.thermo)
    part = Path(smk.output.annealed + ".part")
    shutil.copyfile(result["annealed"], part)
    part.replace(smk.output.annealed)
    write_json_atomic(smk.output.record, result["record"])
