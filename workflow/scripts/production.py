"""Snakemake script: one production run (composition, T, replica).

Unsegmented campaigns (no protocol.target_rel_error, one segment): LAMMPS runs here.
Segmented ones: the segments (rule production_segment) have run; their frames and thermo
are stitched into the run's trajectory and thermo table, and run.json says how many
segments there were and why the run stopped.
"""

import json
from pathlib import Path

import pandas as pd

from glassflow.config.rule_params import execution_settings, script_config
from glassflow.io.atomic import write_json_atomic, write_parquet_atomic
from glassflow.md.checksums import sha256_file
from glassflow.md.engines.lammps_restart import production_thermo
from glassflow.md.engines.lammps_run import run_production
from glassflow.md.lammps import Engine, lammps_command
from glassflow.md.provenance import provenance
from glassflow.md.run_lock import run_lock
from glassflow.md.segments import SegmentPlan, fixed_run_summary, run_summary
from glassflow.md.stitching import stitch_thermo, stitch_trajectories
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    keys = smk.params.run_keys
    workdir = Path(smk.output.trajectory).parent
    # physics from params; how LAMMPS is launched from the validated config (not a param)
    cfg = script_config(smk.config, smk.scriptdir)
    engine_settings = dict(smk.params.engine, **execution_settings(cfg)["engine"])
    engine = Engine.from_config(engine_settings)
    protocol = smk.params.protocol
    if hasattr(smk.input, "segment_records"):  # a segmented run: stitch
        records = [json.loads(Path(p).read_text()) for p in smk.input.segment_records]
        plan = SegmentPlan.from_protocol(cfg["protocol"], cfg["system"]["modifier"])
        summary = run_summary(records, plan)
        with run_lock(workdir, say=log.info):
            n = stitch_trajectories(smk.input.segment_frames, smk.output.trajectory)
        thermo = stitch_thermo([pd.read_parquet(p) for p in smk.input.segment_thermo])
        info = {
            "wall_time_s": float(sum(r["wall_time_s"] for r in records)),
            "n_attempts": int(sum(r.get("n_attempts", 1) for r in records)),
            "lammps_version": records[-1]["lammps_version"],
            "n_frames": n,
            "n_lammps_runs": int(sum(r["n_lammps_runs"] for r in records)),
            "resumed_from_step": None,
            "start_file": records[0].get("start_file"),
            "start_sha256": records[0].get("start_sha256"),
            "segments": [
                {
                    name: r.get(name)
                    for name in ("segment", "start_ps", "total_ps", "wall_time_s",
                                 "n_attempts", "n_lammps_runs", "resumed_from_step",
                                 "n_frames", "host")
                }
                for r in records
            ],
            **summary,
        }  # fmt: skip
        log.info(
            "production stitched from %d segments: %d frames, %.4g ps; %s",
            len(records),
            n,
            summary["total_production_ps"],
            summary["stop_reason"],
        )
    else:
        context = dict(smk.params.force_field, label=keys["comp"], replica=keys["replica"])
        info = run_production(
            workdir,
            smk.input.start,
            context,
            protocol,
            engine,
            keys["T_K"],
            smk.log[0],
            smk.output.trajectory,
        )
        info.pop("start_step")
        info.pop("end_step")
        info.update(fixed_run_summary(protocol["production_ps"]))
        log.info("production done: %d frames in %.1f s", info["n_frames"], info["wall_time_s"])
        thermo = production_thermo(workdir, protocol["timestep_fs"])
    write_parquet_atomic(thermo, smk.output.thermo)
    cell = json.loads(Path(smk.input.glass_json).read_text())
    glass = Path(smk.input.glass_json).with_name("glass.data")
    prod = thermo[thermo["stage"] == "production"]
    run = dict(
        keys,
        **info,
        **provenance(),
        glass_sha256=sha256_file(glass),
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
        protocol=protocol,
        mean_temp_K=float(prod["temp_K"].mean()),
        mean_etotal_kcal_mol=float(prod["etotal_kcal_mol"].mean()),
        mean_press_atm=float(prod["press_atm"].mean()),
    )
    write_json_atomic(smk.output.run_json, run)
