"""The MD jobs of the workflow as plain functions: melt-quench, production segment,
production run.

Each takes paths, plain dicts and an :class:`~glassflow.md.engines.MDEngine`, runs the
stage through the engine and writes the job's declared outputs (frames, thermo table,
glass.json / segment.json / run.json). The Snakemake scripts only read their params,
inputs and outputs and call these, so a job can be run, and tested, without Snakemake
and with any engine.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from glassflow.io.atomic import write_json_atomic, write_parquet_atomic
from glassflow.io.trajectory import open_trajectory
from glassflow.md.checksums import sha256_file
from glassflow.md.engines import MELT_QUENCH_INPUT, PRODUCTION_INPUT, MDEngine, engine_record
from glassflow.md.provenance import provenance
from glassflow.md.run_lock import run_lock
from glassflow.md.segments import (
    Segment,
    SegmentPlan,
    diffusion_record,
    fixed_run_summary,
    record_decision,
    run_summary,
    species_diffusion,
)
from glassflow.md.stitching import stitch_thermo, stitch_trajectories

#: segment.json keys copied into run.json's ``segments`` list
SEGMENT_SUMMARY_KEYS = (
    "segment", "start_ps", "total_ps", "wall_time_s", "n_attempts", "n_lammps_runs",
    "resumed_from_step", "n_frames", "host",
)  # fmt: skip

log = logging.getLogger("glassflow")


def melt_quench_job(
    engine: MDEngine,
    workdir: str | Path,
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    engine_settings: Mapping[str, Any],
    run_keys: Mapping[str, Any],
    cell_meta: str | Path,
    stdout_log: str | Path,
    thermo_out: str | Path,
    glass_json_out: str | Path,
) -> dict[str, Any]:
    """Melt, quench and relax the cell in ``workdir``; write its thermo and glass.json.

    Parameters
    ----------
    engine
        The MD engine.
    workdir
        The glass directory (holds ``cell.data``; gets ``glass.data``, ``melt.data``).
    context
        Template context: force field, label, replica, seed.
    protocol
        The melt-quench protocol.
    engine_settings
        The ``engine`` block, recorded as ``engine``.
    run_keys
        The glass's keys (composition, replica, ...), copied into glass.json.
    cell_meta
        The cell's JSON (counts, charges, box, ...), the base of glass.json.
    stdout_log
        The job log.
    thermo_out
        The thermo table (parquet).
    glass_json_out
        glass.json.

    Returns
    -------
    dict
        The glass.json document.
    """
    info = engine.melt_quench(workdir, context, protocol, stdout_log)
    log.info("melt-quench done in %.1f s (LAMMPS %s)", info["wall_time_s"], info["lammps_version"])
    write_parquet_atomic(engine.melt_quench_thermo(workdir), thermo_out)
    cell = json.loads(Path(cell_meta).read_text())
    glass = dict(cell, **run_keys, stage="glass", **provenance())
    glass.update(
        glass_wall_time_s=info["wall_time_s"],
        lammps_version=info["lammps_version"],
        melt_quench_protocol=protocol,
        engine=engine_settings,
        lammps_command=engine.command(MELT_QUENCH_INPUT),
        md_engine=engine_record(engine),
    )
    write_json_atomic(glass_json_out, glass)
    return glass


def run_production_segment(
    engine: MDEngine,
    k: int,
    workdir: str | Path,
    start_file: str | Path,
    previous_record: str | Path | None,
    previous_frames: Sequence[str | Path],
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    run_keys: Mapping[str, Any],
    engine_settings: Mapping[str, Any],
    plan: SegmentPlan,
    dynamics: Mapping[str, Any],
    stdout_log: str | Path,
    frames_out: str | Path,
    end_state_out: str | Path,
    thermo_out: str | Path,
    record_out: str | Path,
) -> dict[str, Any]:
    """Run production segment ``k``, fit D over segments 1..k and write segment.json.

    Segment k covers ``protocol.segment_start_ps .. segment_end_ps``. Before anything
    runs, segment k >= 2 checks that segment k - 1 asked for it: the stop rule of
    ``plan`` applied to ``previous_record``. After the segment, D and its standard error
    of every element are fitted on the run so far (``previous_frames`` and this
    segment's), and segment.json records them with the decision as it was then (the
    workflow applies the current plan to the record when it reads it).

    Parameters
    ----------
    engine
        The MD engine.
    k
        The segment (1-based).
    workdir
        The segment's directory.
    start_file
        The glass or melt for k = 1, else segment k - 1's end state.
    previous_record
        segment.json of segment k - 1 (None for k = 1).
    previous_frames
        The frame files of segments 1..k-1, in order.
    context
        Template context: force field, label, replica.
    protocol
        The run's protocol, with ``segment_start_ps`` and ``segment_end_ps``.
    run_keys
        The run's keys (composition, T_K, replica, ...), copied into segment.json.
    engine_settings
        The ``engine`` block, recorded as ``engine``.
    plan
        How the run is cut into segments and when it stops.
    dynamics
        The ``analysis.dynamics`` settings of the D fit.
    stdout_log
        The job log.
    frames_out, end_state_out, thermo_out, record_out
        The segment's frames, end state, thermo table (parquet) and segment.json.

    Returns
    -------
    dict
        The segment.json document.

    Raises
    ------
    RuntimeError
        When segment k - 1's record says the run stops there (naming the reason).
    """
    from glassflow.analysis.dynamics.correlations import DynamicsSettings

    dt = protocol["timestep_fs"]
    start_ps, end_ps = protocol["segment_start_ps"], protocol["segment_end_ps"]
    segment = Segment(
        k, round(start_ps * 1000.0 / dt), round(end_ps * 1000.0 / dt), Path(start_file)
    )
    if k > 1 and not plan.point_rounds:  # the previous segment must have asked for this one
        if previous_record is None:
            raise ValueError(f"segment {k} needs the record of segment {k - 1}")
        previous = json.loads(Path(previous_record).read_text())
        decision = record_decision(previous, plan)
        if decision.stop:
            raise RuntimeError(
                f"segment {k} is not needed: the run stopped after segment {k - 1} "
                f"({decision.reason})"
            )
    info = engine.run_segment(
        workdir,
        segment,
        context,
        protocol,
        run_keys["T_K"],
        stdout_log,
        frames_out,
        end_state_out=end_state_out,
    )
    log.info(
        "segment %d (%.4g-%.4g ps) done: %d frames in %.1f s",
        k,
        start_ps,
        end_ps,
        info["n_frames"],
        info["wall_time_s"],
    )
    thermo = engine.production_thermo(workdir, dt)
    write_parquet_atomic(thermo, thermo_out)

    settings = DynamicsSettings.from_dict(dynamics)
    trajs = [open_trajectory(p) for p in [*previous_frames, frames_out]]
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
        run_keys,
        **info,
        **provenance(),
        segment=k,
        start_ps=float(start_ps),
        total_ps=float(end_ps),
        diffusion=diffusion,
        estimator=dataclasses.asdict(settings.fit_settings()),
        engine=engine_settings,
        lammps_command=engine.command(PRODUCTION_INPUT),
        md_engine=engine_record(engine),
        protocol=protocol,
        mean_temp_K=float(prod["temp_K"].mean()),
    )
    decision = record_decision(record, plan)
    record["decision_when_written"] = {"stop": decision.stop, "reason": decision.reason}
    log.info("after segment %d: %s (%s)", k, "stop" if decision.stop else "go on", decision.reason)
    write_json_atomic(record_out, record)
    return record


def stitched_production(
    engine: MDEngine,
    workdir: str | Path,
    segment_records: Sequence[str | Path],
    segment_frames: Sequence[str | Path],
    segment_thermo: Sequence[str | Path],
    plan: SegmentPlan,
    trajectory_out: str | Path,
    say: Callable[[str], None] = log.info,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """A segmented run's trajectory and thermo, stitched from its finished segments.

    Parameters
    ----------
    engine
        The MD engine (recorded when the segments did not record it).
    workdir
        The run directory (locked while the trajectory is written).
    segment_records, segment_frames, segment_thermo
        segment.json, frames and thermo table of segments 1..n, in order.
    plan
        How the run is cut into segments and when it stops.
    trajectory_out
        The run's frame file.
    say
        Where the lock reports waiting or breaking a stale lock.

    Returns
    -------
    (dict, pandas.DataFrame)
        The run.json fields of the MD (wall time, attempts, frames, segments, stop
        reason, ...) and the stitched thermo table.
    """
    records = [json.loads(Path(p).read_text()) for p in segment_records]
    summary = run_summary(records, plan)
    with run_lock(workdir, say=say):
        n = stitch_trajectories(segment_frames, trajectory_out)
    thermo = stitch_thermo([pd.read_parquet(p) for p in segment_thermo])
    info = {
        "wall_time_s": float(sum(r["wall_time_s"] for r in records)),
        "n_attempts": int(sum(r.get("n_attempts", 1) for r in records)),
        "lammps_version": records[-1]["lammps_version"],
        "md_engine": records[-1].get("md_engine") or engine_record(engine),
        "n_frames": n,
        "n_lammps_runs": int(sum(r["n_lammps_runs"] for r in records)),
        "resumed_from_step": None,
        "start_file": records[0].get("start_file"),
        "start_sha256": records[0].get("start_sha256"),
        "segments": [{name: r.get(name) for name in SEGMENT_SUMMARY_KEYS} for r in records],
        **summary,
    }
    log.info(
        "production stitched from %d segments: %d frames, %.4g ps; %s",
        len(records),
        n,
        summary["total_production_ps"],
        summary["stop_reason"],
    )
    return info, thermo


def single_production(
    engine: MDEngine,
    workdir: str | Path,
    start_file: str | Path,
    context: Mapping[str, Any],
    protocol: Mapping[str, Any],
    T_K: float,
    stdout_log: str | Path,
    trajectory_out: str | Path,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """An unsegmented run: the whole ``protocol.production_ps`` as one segment.

    Parameters
    ----------
    engine
        The MD engine.
    workdir
        The run directory.
    start_file
        The glass or melt data file.
    context
        Template context: force field, label, replica.
    protocol
        The run's protocol.
    T_K
        Production temperature.
    stdout_log
        The job log.
    trajectory_out
        The run's frame file.

    Returns
    -------
    (dict, pandas.DataFrame)
        The run.json fields of the MD and the thermo table.
    """
    segment = Segment.whole_run(protocol, start_file)
    info = engine.run_segment(workdir, segment, context, protocol, T_K, stdout_log, trajectory_out)
    info.pop("start_step")
    info.pop("end_step")
    info.update(fixed_run_summary(protocol["production_ps"]))
    info["md_engine"] = engine_record(engine)
    log.info("production done: %d frames in %.1f s", info["n_frames"], info["wall_time_s"])
    return info, engine.production_thermo(workdir, protocol["timestep_fs"])


def write_run_json(
    engine: MDEngine,
    info: Mapping[str, Any],
    thermo: pd.DataFrame,
    run_keys: Mapping[str, Any],
    glass_json: str | Path,
    protocol: Mapping[str, Any],
    engine_settings: Mapping[str, Any],
    thermo_out: str | Path,
    run_json_out: str | Path,
) -> dict[str, Any]:
    """Write a production run's thermo table and run.json.

    Parameters
    ----------
    engine
        The MD engine (for ``lammps_command``).
    info
        The run.json fields of the MD (:func:`single_production`,
        :func:`stitched_production`).
    thermo
        The run's thermo table.
    run_keys
        The run's keys (composition, T_K, replica, ...).
    glass_json
        glass.json of the glass the run started from (glass.data is beside it).
    protocol
        The run's protocol.
    engine_settings
        The ``engine`` block, recorded as ``engine``.
    thermo_out, run_json_out
        The thermo table (parquet) and run.json.

    Returns
    -------
    dict
        The run.json document.
    """
    write_parquet_atomic(thermo, thermo_out)
    info = dict(info)
    md_engine = info.pop("md_engine")
    cell = json.loads(Path(glass_json).read_text())
    glass = Path(glass_json).with_name("glass.data")
    prod = thermo[thermo["stage"] == "production"]
    run = dict(
        run_keys,
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
        lammps_command=engine.command(PRODUCTION_INPUT),
        md_engine=md_engine,
        protocol=protocol,
        mean_temp_K=float(prod["temp_K"].mean()),
        mean_etotal_kcal_mol=float(prod["etotal_kcal_mol"].mean()),
        mean_press_atm=float(prod["press_atm"].mean()),
    )
    write_json_atomic(run_json_out, run)
    return run
