"""Snakemake script: one production segment (composition, T, replica, segment k).

Runs LAMMPS for the segment (from the glass or melt for k = 1, from segment k - 1's end
state otherwise), then fits D and its standard error of every element on the run so far
(segments 1..k) and writes segment.json, which the `production` rule's input function
reads to decide whether the run needs another segment (glassflow.md.segments).
"""

import dataclasses
import json
from pathlib import Path

from glassflow.analysis.dynamics.correlations import DynamicsSettings
from glassflow.config.rule_params import execution_settings, script_config
from glassflow.io.atomic import write_json_atomic, write_parquet_atomic
from glassflow.io.trajectory import open_trajectory
from glassflow.md.engines.lammps_restart import production_thermo
from glassflow.md.engines.lammps_run import run_segment
from glassflow.md.lammps import Engine, lammps_command
from glassflow.md.provenance import provenance
from glassflow.md.segments import (
    Segment,
    SegmentPlan,
    diffusion_record,
    record_decision,
    species_diffusion,
)
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    keys = smk.params.run_keys
    k = int(smk.wildcards.seg)
    protocol = smk.params.protocol
    dt = protocol["timestep_fs"]
    workdir = Path(smk.output.frames).parent
    # physics from params; how LAMMPS is launched and the analysis settings of the D
    # estimate from the validated config (not params: changing them reruns no MD)
    cfg = script_config(smk.config, smk.scriptdir)
    plan = SegmentPlan.from_protocol(cfg["protocol"], cfg["system"]["modifier"])
    engine_settings = dict(smk.params.engine, **execution_settings(cfg)["engine"])
    engine = Engine.from_config(engine_settings)
    context = dict(smk.params.force_field, label=keys["comp"], replica=keys["replica"])
    start_ps, end_ps = protocol["segment_start_ps"], protocol["segment_end_ps"]
    segment = Segment(
        k,
        round(start_ps * 1000.0 / dt),
        round(end_ps * 1000.0 / dt),
        Path(smk.input.start if k == 1 else smk.input.restart),
    )
    if k > 1:  # the previous segment must have asked for this one
        previous = json.loads(Path(smk.input.previous_record).read_text())
        decision = record_decision(previous, plan)
        if decision.stop:
            raise RuntimeError(
                f"segment {k} is not needed: the run stopped after segment {k - 1} "
                f"({decision.reason})"
            )
    info = run_segment(
        workdir,
        segment,
        context,
        protocol,
        engine,
        keys["T_K"],
        smk.log[0],
        smk.output.frames,
        end_restart_out=smk.output.restart,
    )
    log.info(
        "segment %d (%.4g-%.4g ps) done: %d frames in %.1f s",
        k,
        start_ps,
        end_ps,
        info["n_frames"],
        info["wall_time_s"],
    )
    thermo = production_thermo(workdir, dt)
    write_parquet_atomic(thermo, smk.output.thermo)

    settings = DynamicsSettings.from_dict(cfg["analysis"]["dynamics"])
    trajs = [open_trajectory(p) for p in [*smk.input.previous_frames, smk.output.frames]]
    diffusion = {}
    for el in trajs[0].species:
        diffusion[el] = diffusion_record(species_diffusion(trajs, el, settings))
        d = diffusion[el]
        log.info(
            "D_%s after %.4g ps: %s",
            el,
            end_ps,
            f"{d['D_A2_ps']:.4g} +- {d['D_err_A2_ps']:.2g} A^2/ps (rel. error {d['rel_error']:.3f})"
            if d["rel_error"] is not None
            else f"no D ({d['reason']})",
        )
    prod = thermo[thermo["stage"] == "production"]
    record = dict(
        keys,
        **info,
        **provenance(),
        segment=k,
        start_ps=float(start_ps),
        total_ps=float(end_ps),
        diffusion=diffusion,
        estimator=dataclasses.asdict(settings.fit_settings()),
        engine=engine_settings,
        lammps_command=lammps_command(engine, "in.production.lmp"),
        protocol=protocol,
        mean_temp_K=float(prod["temp_K"].mean()),
    )
    decision = record_decision(record, plan)
    record["decision_when_written"] = {"stop": decision.stop, "reason": decision.reason}
    log.info("after segment %d: %s (%s)", k, "stop" if decision.stop else "go on", decision.reason)
    write_json_atomic(smk.output.record, record)
