"""Snakemake script: one production run (composition, T, replica).

Unsegmented campaigns (no protocol.target_rel_error, one segment): the MD engine runs
here. Segmented ones: the segments (rule production_segment) have run; their frames and
thermo are stitched into the run's trajectory and thermo table, and run.json says how
many segments there were and why the run stopped (glassflow.md.jobs).
"""

from pathlib import Path

from glassflow.config.rule_params import execution_settings, script_config
from glassflow.md.engines import engine_from_config
from glassflow.md.jobs import single_production, stitched_production, write_run_json
from glassflow.md.segments import SegmentPlan
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    keys = smk.params.run_keys
    workdir = Path(smk.output.trajectory).parent
    # physics from params; how the engine is launched from the validated config (not a param)
    cfg = script_config(smk.config, smk.scriptdir)
    engine_settings = dict(smk.params.engine, **execution_settings(cfg)["engine"])
    engine = engine_from_config(engine_settings)
    protocol = smk.params.protocol
    if hasattr(smk.input, "segment_records"):  # a segmented run: stitch
        info, thermo = stitched_production(
            engine,
            workdir,
            smk.input.segment_records,
            smk.input.segment_frames,
            smk.input.segment_thermo,
            SegmentPlan.from_config(cfg),
            smk.output.trajectory,
            say=log.info,
        )
    else:
        info, thermo = single_production(
            engine,
            workdir,
            smk.input.start,
            # a replica that shares its glass (rounds added it) draws new velocities
            dict(
                smk.params.force_field,
                label=keys["comp"],
                replica=keys["replica"],
                velocity_seed=keys.get("velocity_seed"),
            ),
            protocol,
            keys["T_K"],
            smk.log[0],
            smk.output.trajectory,
        )
    write_run_json(
        engine,
        info,
        thermo,
        keys,
        smk.input.glass_json,
        protocol,
        engine_settings,
        smk.output.thermo,
        smk.output.run_json,
    )
