"""Snakemake script: one production run (composition, T, replica) with LAMMPS."""

import json
from pathlib import Path

from glassflow.lammps import Engine, lammps_command
from glassflow.lammps_io import parse_thermo_logs
from glassflow.protocol import (
    production_logs,
    provenance,
    run_production,
    write_json_atomic,
    write_parquet_atomic,
)
from glassflow.rule_params import execution_settings, script_config
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    keys = smk.params.run_keys
    workdir = Path(smk.output.trajectory).parent
    # physics from params; how LAMMPS is launched from the validated config (not a param)
    cfg = script_config(smk.config, smk.scriptdir)
    engine_settings = dict(smk.params.engine, **execution_settings(cfg)["engine"])
    engine = Engine.from_config(engine_settings)
    context = dict(smk.params.force_field, label=keys["comp"], replica=keys["replica"])
    info = run_production(
        workdir,
        smk.input.start,
        context,
        smk.params.protocol,
        engine,
        keys["T_K"],
        smk.log[0],
        smk.output.trajectory,
    )
    log.info("production done: %d frames in %.1f s", info["n_frames"], info["wall_time_s"])
    thermo = parse_thermo_logs(production_logs(workdir))
    write_parquet_atomic(thermo, smk.output.thermo)
    cell = json.loads(Path(smk.input.glass_json).read_text())
    prod = thermo[thermo["stage"] == "production"]
    run = dict(
        keys,
        **info,
        **provenance(),
        seed=cell["seed"],
        glass_wall_time_s=cell["glass_wall_time_s"],
        counts=cell["counts"],
        x_achieved=cell["x_achieved"],
        m_achieved=cell["m_achieved"],
        charges_used=cell["charges"],
        potential_charges=cell["potential_charges"],
        net_charge_e=cell["net_charge_e"],
        neutrality=cell["neutrality"],
        potential=cell["potential"],
        box_A=cell["box_A"],
        density_g_cm3=cell["density_g_cm3"],
        engine=engine_settings,
        lammps_command=lammps_command(engine, "in.production.lmp"),
        protocol=smk.params.protocol,
        mean_temp_K=float(prod["temp_K"].mean()),
        mean_etotal_kcal_mol=float(prod["etotal_kcal_mol"].mean()),
        mean_press_atm=float(prod["press_atm"].mean()),
    )
    write_json_atomic(smk.output.run_json, run)
