"""Snakemake script: melt, quench and relax one random cell with LAMMPS."""

import json
from pathlib import Path

from glassflow.config.rule_params import execution_settings, script_config
from glassflow.io.atomic import write_json_atomic, write_parquet_atomic
from glassflow.md.engines.lammps_run import run_melt_quench
from glassflow.md.lammps import Engine, lammps_command
from glassflow.md.lammps_io import parse_thermo
from glassflow.md.provenance import provenance
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    workdir = Path(smk.output.glass).parent
    keys = smk.params.run_keys
    context = dict(
        smk.params.force_field,
        label=smk.params.label,
        replica=keys["replica"],
        seed=smk.params.seed,
    )
    # physics from params; how LAMMPS is launched from the validated config (not a param)
    cfg = script_config(smk.config, smk.scriptdir)
    engine_settings = dict(smk.params.engine, **execution_settings(cfg)["engine"])
    engine = Engine.from_config(engine_settings)
    info = run_melt_quench(workdir, context, smk.params.protocol, engine, smk.log[0])
    log.info("melt-quench done in %.1f s (LAMMPS %s)", info["wall_time_s"], info["lammps_version"])
    write_parquet_atomic(parse_thermo(workdir / "log.lammps"), smk.output.thermo)
    cell = json.loads(Path(smk.input.cell_meta).read_text())
    glass = dict(cell, **keys, stage="glass", **provenance())
    glass.update(
        glass_wall_time_s=info["wall_time_s"],
        lammps_version=info["lammps_version"],
        melt_quench_protocol=smk.params.protocol,
        engine=engine_settings,
        lammps_command=lammps_command(engine, "in.melt_quench.lmp"),
    )
    write_json_atomic(smk.output.run_json, glass)
