"""Snakemake script: one production segment (composition, T, replica, segment k).

Runs the MD engine for the segment (from the glass or melt for k = 1, from segment
k - 1's end state otherwise), then fits D and its standard error of every element on
the run so far (segments 1..k) and writes segment.json, which the `production` rule's
input function reads to decide whether the run needs another segment
(glassflow.md.segments). The work is glassflow.md.jobs.run_production_segment.
"""

from pathlib import Path

from glassflow.config.rule_params import execution_settings, script_config
from glassflow.md.engines import engine_from_config
from glassflow.md.jobs import run_production_segment
from glassflow.md.segments import SegmentPlan
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    keys = smk.params.run_keys
    k = int(smk.wildcards.seg)
    # physics from params; how the engine is launched and the analysis settings of the D
    # estimate from the validated config (not params: changing them reruns no MD)
    cfg = script_config(smk.config, smk.scriptdir)
    engine_settings = dict(smk.params.engine, **execution_settings(cfg)["engine"])
    run_production_segment(
        engine_from_config(engine_settings),
        k,
        workdir=Path(smk.output.frames).parent,
        start_file=smk.input.start if k == 1 else smk.input.restart,
        previous_record=smk.input.previous_record if k > 1 else None,
        previous_frames=list(smk.input.previous_frames),
        context=dict(
            smk.params.force_field,
            label=keys["comp"],
            replica=keys["replica"],
            velocity_seed=keys.get("velocity_seed"),
        ),
        protocol=smk.params.protocol,
        run_keys=keys,
        engine_settings=engine_settings,
        plan=SegmentPlan.from_config(cfg),
        dynamics=cfg["analysis"]["dynamics"],
        stdout_log=smk.log[0],
        frames_out=smk.output.frames,
        end_state_out=smk.output.restart,
        thermo_out=smk.output.thermo,
        record_out=smk.output.record,
    )
