"""Production that extends itself in segments until D is converged (glassflow.md.segments).

- the stop rule on synthetic D +- error: converged, not yet, maximum reached, minimum
  length, no target, a species without D;
- the walk over segments that the workflow's input function does, on a synthetic error
  that falls as 1/sqrt(length): it stops at the predicted segment;
- the config checks of the segment keys;
- D +- error of one species from several segment files equals the analysis' fit of the
  same frames in one file;
- a tiny Snakemake campaign (LAMMPS) whose target cannot be reached: it runs segments
  up to max_production_ps, survives a SIGKILL in segment 2, and a looser target then
  takes effect without running LAMMPS again.
"""

import copy
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, SCHEMA, TINY_CONFIG, require_lmp

from glassflow.analysis.dynamics.correlations import DynamicsSettings
from glassflow.analysis.dynamics.tables import analyse_run
from glassflow.campaign.tables import runs_table, segment_columns
from glassflow.config.grid import build_campaign
from glassflow.config.schema import ConfigError
from glassflow.io.trajectory import open_trajectory, write_trajectory
from glassflow.md.segments import (
    FIXED_LENGTH,
    MAX_REACHED,
    SegmentPlan,
    record_decision,
    relative_error,
    run_summary,
    segment_problems,
    segments_to_run,
    species_diffusion,
    stop_decision,
)


def plan(**kw) -> SegmentPlan:
    base = dict(
        production_ps=100.0,
        segment_ps=50.0,
        max_production_ps=400.0,
        target_rel_error=0.10,
        converge_species=("Na",),
    )
    return SegmentPlan(**(base | kw))


# --- the stop rule ------------------------------------------------------------------------------


def test_converged_when_every_species_reaches_the_target():
    d = stop_decision(150.0, {"Na": 0.08, "Si": 0.5}, plan())
    assert d.stop and d.reason == "converged: rel. error of D_Na 0.08 <= 0.1"
    both = plan(converge_species=("Na", "Si"))
    assert not stop_decision(150.0, {"Na": 0.08, "Si": 0.12}, both).stop
    d = stop_decision(150.0, {"Na": 0.08, "Si": 0.099}, both)
    assert d.stop and d.reason == "converged: rel. error of D_Na 0.08, D_Si 0.10 <= 0.1"
    assert stop_decision(150.0, {"Na": 0.10}, plan()).stop  # at the target counts


def test_not_converged_goes_on_and_says_why():
    d = stop_decision(150.0, {"Na": 0.14}, plan())
    assert not d.stop and "D_Na 0.14" in d.reason and "target 0.1" in d.reason
    d = stop_decision(150.0, {"Na": None}, plan())  # not diffusive: no D to converge
    assert not d.stop and "D_Na not diffusive" in d.reason
    assert not stop_decision(150.0, {}, plan()).stop  # species without a record


def test_reasons_show_a_target_below_one_percent():
    """Target 0.1 %: the reasons say 0.001, not a rounded 0.00."""
    strict = plan(target_rel_error=0.001)
    for total_ps, rel, head, tail in [
        (150.0, 0.005, "not converged", "; target 0.001"),
        (400.0, 0.005, MAX_REACHED, "; target 0.001)"),
        (150.0, 0.0005, "converged", " <= 0.001"),
    ]:
        d = stop_decision(total_ps, {"Na": rel}, strict)
        assert "0.001" in d.reason, d.reason
        assert d.reason.startswith(head) and d.reason.endswith(tail), d.reason


def test_max_reached_stops_unconverged_runs():
    d = stop_decision(400.0, {"Na": 0.14}, plan())
    assert d.stop and d.reason.startswith(MAX_REACHED) and "D_Na 0.14" in d.reason
    d = stop_decision(400.0, {"Na": 0.05}, plan())  # converged wins over the maximum
    assert d.stop and d.reason.startswith("converged")


def test_production_ps_always_runs_and_no_target_means_fixed_length():
    d = stop_decision(50.0, {"Na": 0.01}, plan())
    assert not d.stop and "50 of production_ps 100" in d.reason
    fixed = plan(target_rel_error=None, max_production_ps=100.0)
    assert not stop_decision(50.0, {}, fixed).stop
    assert stop_decision(100.0, {}, fixed) == stop_decision(100.0, {"Na": 0.9}, fixed)
    assert stop_decision(100.0, {}, fixed).reason == FIXED_LENGTH


def test_import_leaves_the_analysis_unloaded():
    """`glassflow status` imports this module for the plan and the stop rule: the analysis
    (scipy.stats, scipy.fft, about 1 s) loads only where D is computed."""
    code = (
        "import sys, glassflow.md.segments; "
        "print(sorted(m for m in sys.modules if m.startswith(('scipy', 'glassflow.analysis'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_relative_error_needs_a_positive_finite_d():
    assert relative_error(2.0, 0.1) == pytest.approx(0.05)
    for d, e in ((None, 0.1), (2.0, None), (-1.0, 0.1), (0.0, 0.1), (2.0, math.nan)):
        assert relative_error(d, e) is None


def _synthetic_record(k: int, p: SegmentPlan, r1: float) -> dict:
    """Segment k's record when the relative error after t ps is r1 / sqrt(t / segment)."""
    t = k * p.segment_ps
    return {"segment": k, "total_ps": t, "diffusion": {"Na": {"rel_error": r1 / math.sqrt(k)}}}


@pytest.mark.parametrize(
    ("r1", "expected"),
    [
        (0.05, 2),  # already converged when production_ps is done: no extension
        (0.25, 7),  # (0.25 / 0.10)^2 = 6.25 -> 7 segments, 350 ps
        (0.40, 8),  # would need 16: stops at max_production_ps = 8 segments
    ],
)
def test_walk_stops_at_the_predicted_segment(r1, expected):
    p = plan()
    asked = []

    def read(k):
        asked.append(k)
        return _synthetic_record(k, p, r1)

    assert segments_to_run(read, p) == list(range(1, expected + 1))
    assert asked == list(range(p.n_fixed, expected + 1))  # fixed segments are not read
    summary = run_summary([_synthetic_record(k, p, r1) for k in range(1, expected + 1)], p)
    assert summary["n_segments"] == expected
    assert summary["total_production_ps"] == 50.0 * expected
    assert summary["segment_rel_errors"]["Na"] == pytest.approx(
        [r1 / math.sqrt(k) for k in range(1, expected + 1)]
    )
    reason = summary["stop_reason"]
    assert reason.startswith(MAX_REACHED if expected == 8 else "converged"), reason


def test_walk_without_target_reads_nothing():
    p = plan(target_rel_error=None, max_production_ps=100.0)

    def read(k):
        raise AssertionError("a fixed-length run needs no verdict")

    assert segments_to_run(read, p) == [1, 2]
    assert (p.n_fixed, p.n_max, p.segmented) == (2, 2, True)
    one = SegmentPlan.from_protocol({"production_ps": 30.0}, "Na")
    assert (one.n_fixed, one.n_max, one.segmented) == (1, 1, False)  # today's single job
    assert one.converge_species == ("Na",) and one.segment_ps == one.max_production_ps == 30.0


def test_a_lowered_maximum_stops_a_longer_record():
    p = plan(max_production_ps=150.0)
    decision = record_decision(_synthetic_record(3, p, 0.9), p)
    assert decision.stop and decision.reason.startswith(MAX_REACHED)
    with pytest.raises(ValueError, match="out of order"):
        run_summary([_synthetic_record(2, p, 0.9)], p)


def test_runs_table_columns_of_old_and_new_run_json():
    old = segment_columns({"protocol": {"production_ps": 30}, "n_segments": 2})  # resumes
    assert old == {
        "n_segments": 1, "total_production_ps": 30.0, "stop_reason": FIXED_LENGTH,
        "segment_rel_errors": "{}",
    }  # fmt: skip
    p = plan()
    records = [_synthetic_record(k, p, 0.25) for k in range(1, 8)]
    records[3]["diffusion"]["Si"] = {"rel_error": None}
    new = segment_columns(run_summary(records, p))
    assert new["n_segments"] == 7 and new["stop_reason"].startswith("converged: rel. error")
    assert new["rel_err_D_Na"] == pytest.approx(0.25 / math.sqrt(7))
    assert math.isnan(new["rel_err_D_Si"])  # Si had no D after the last segment
    assert json.loads(new["segment_rel_errors"])["Si"] == [None, None, None, None, None, None, None]


# --- config checks ---------------------------------------------------------------------------


PROTOCOL = {
    "production_ps": 100.0,
    "dump_interval_fs": 1000.0,
    "restart_interval_fs": 10000.0,
}
SPECIES = ("Na", "Si", "S")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"segment_ps": 25.5}, "segment_ps': 25.5 ps is not a whole number of protocol.dump"),
        ({"segment_ps": 25.0}, "segment_ps': 25 ps is not a whole number of protocol.restart"),
        ({"segment_ps": 30.0}, "production_ps': 100 ps is not a whole number of"),
        ({"max_production_ps": 50.0, "target_rel_error": 0.1}, "shorter than"),
        ({"max_production_ps": 250.0, "target_rel_error": 0.1}, "250 ps is not a whole"),
        ({"max_production_ps": 200.0}, "has no effect without protocol.target_rel_error"),
        ({"converge_species": ["Na", "Li"]}, "'Li' is not an element of the system"),
    ],
)
def test_segment_keys_checked(keys, message):
    problems = segment_problems(PROTOCOL | keys, SPECIES)
    assert any(message in p for p in problems), problems
    assert all(p.startswith("config key 'protocol.") for p in problems)


def test_default_and_good_segment_keys_pass():
    assert segment_problems(PROTOCOL, SPECIES) == []
    good = {"segment_ps": 50.0, "max_production_ps": 500.0, "target_rel_error": 0.1}
    assert segment_problems(PROTOCOL | good | {"converge_species": ["Na", "S"]}, SPECIES) == []


def test_campaign_refuses_bad_segment_keys_before_any_job(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg["protocol"].update(segment_ps=1.5, target_rel_error=0.1, max_production_ps=8)
    with pytest.raises(ConfigError, match=r"protocol.segment_ps': 1.5 ps .* restart"):
        build_campaign(cfg, SCHEMA, ROOT)
    cfg["protocol"].update(segment_ps=2, target_rel_error=1.5)
    with pytest.raises(ConfigError, match="target_rel_error"):
        build_campaign(cfg, SCHEMA, ROOT)
    cfg["protocol"].update(target_rel_error=0.1, converge_species=["K"])
    with pytest.raises(ConfigError, match="'K' is not an element"):
        build_campaign(cfg, SCHEMA, ROOT)
    cfg["protocol"]["converge_species"] = ["Na", "Si"]
    camp = build_campaign(cfg, SCHEMA, ROOT)
    p = SegmentPlan.from_protocol(camp.config["protocol"], "Na")
    assert (p.n_fixed, p.n_max, p.converge_species) == (2, 4, ("Na", "Si"))


# --- D +- error from segment files -------------------------------------------------------------


def test_species_diffusion_over_segment_files_is_the_analysis_fit(tmp_path):
    """A random walk with D = 0.5 A^2/ps for Na (0.05 for Si), cut into 3 segment files."""
    rng = np.random.default_rng(7)
    n_frames, dt_ps = 601, 0.1
    types = np.repeat([0, 1], [60, 20]).astype(np.int32)
    d_true = np.where(types == 0, 0.5, 0.05)
    steps = rng.normal(size=(n_frames, types.size, 3)) * np.sqrt(2 * d_true * dt_ps)[:, None]
    pos = np.cumsum(steps, axis=0) + rng.uniform(0, 20, size=(types.size, 3))
    t = np.arange(n_frames) * dt_ps
    kw = dict(charges=np.where(types == 0, 1.0, 4.0), masses=np.where(types == 0, 23.0, 28.1))
    whole = write_trajectory(tmp_path / "whole.gtrj", ("Na", "Si"), types, pos, [20] * 3, t, **kw)
    cuts = [0, 201, 401, n_frames]
    parts = [
        write_trajectory(
            tmp_path / f"seg{i}.gtrj", ("Na", "Si"), types, pos[a:b], [20] * 3, t[a:b], **kw
        )
        for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True))
    ]
    settings = DynamicsSettings(min_fit_time_ps=0.5, vanhove_lags_ps=(1.0,), fast_slow_lag_ps=1.0)
    summary = analyse_run(
        open_trajectory(whole), {"campaign": "t", "x": 0.5, "m": 2.0, "T_K": 1.0, "replica": 1},
        settings,
    )["summary"].set_index("species")  # fmt: skip
    for el, d in (("Na", 0.5), ("Si", 0.05)):
        split = species_diffusion([open_trajectory(p) for p in parts], el, settings)
        one = species_diffusion([open_trajectory(whole)], el, settings)
        assert split.D == one.D and split.D_err == one.D_err  # the same frames, the same fit
        # the number the dynamics tables report for this trajectory (cm^2/s = 1e-4 A^2/ps)
        row = summary.loc[el]
        assert row["D_cm2_s"] == pytest.approx(split.D * 1e-4, rel=1e-12)
        assert row["D_err_cm2_s"] == pytest.approx(split.D_err * 1e-4, rel=1e-12)
        assert abs(split.D - d) < 4 * split.D_err, (el, split.D, split.D_err)
    with pytest.raises(ValueError, match="equally spaced"):
        species_diffusion([open_trajectory(parts[0]), open_trajectory(parts[2])], "Na", settings)


# --- a tiny campaign through Snakemake ---------------------------------------------------------

RUN = "results/tiny/x0.50_m2.00/T2400/rep01/production"
TARGET = f"{RUN}/run.json"


def _smk(root: Path, config: Path, *args, check=True):
    from test_workflow import snakemake

    return snakemake("--configfile", str(config), "-d", str(root), *args, check=check)


@pytest.mark.lammps
@pytest.mark.slow
def test_campaign_extends_to_the_maximum_survives_a_kill_and_takes_a_new_target(tmp_path):
    """Target 0.1 % cannot be reached in 3 ps: 2 segments of 1 ps (production_ps), then a
    third, stop at the maximum. Segment 2 is SIGKILLed after a restart file; the rerun
    resumes it and completes."""
    from test_workflow import SNAKEMAKE, job_counts

    require_lmp()
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    cfg["compositions"]["grid"]["m"] = [2.0]
    cfg["temperatures_K"] = [2400]
    cfg["replicas"] = 1
    cfg["protocol"].update(
        production_ps=2, segment_ps=1, max_production_ps=3, target_rel_error=0.001,
        restart_interval_fs=500,
    )  # fmt: skip
    config = tmp_path / "segments.yaml"
    config.write_text(yaml.safe_dump(cfg))

    # a dry run knows the segments of production_ps and leaves the rest to the checkpoint
    dry = _smk(tmp_path, config, "-n", TARGET)
    out = dry.stdout + dry.stderr
    assert job_counts(out)["production_segment"] == 2 and job_counts(out)["production"] == 1
    assert "checkpoint" in out

    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--cores", "1", "--configfile",
           str(config), "-d", str(tmp_path), TARGET]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    seg2 = tmp_path / RUN / "segments/2"
    deadline = time.time() + 300
    while time.time() < deadline and not (seg2 / "restart.1500.bin").exists():
        time.sleep(0.02)
        assert proc.poll() is None, "the workflow ended before segment 2 could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # Snakemake, the job script and LAMMPS
    proc.wait()
    assert (tmp_path / RUN / "segments/1/segment.json").is_file()
    assert not (seg2 / "segment.json").exists() and not (tmp_path / TARGET).exists()

    _smk(tmp_path, config, "--unlock")
    _smk(tmp_path, config, "--cores", "1", TARGET)
    run = json.loads((tmp_path / TARGET).read_text())
    assert run["n_segments"] == 3 and run["total_production_ps"] == 3.0
    assert run["stop_reason"].startswith("max_production_ps reached (D_Na "), run["stop_reason"]
    assert run["segment_end_ps"] == [1.0, 2.0, 3.0]
    rel = run["segment_rel_errors"]["Na"]
    assert len(rel) == 3 and all(0.001 < r < 1 for r in rel), rel
    second = run["segments"][1]
    assert second["n_lammps_runs"] == 2 and second["resumed_from_step"] == 1500, second
    traj = open_trajectory(tmp_path / RUN / "trajectory.gtrj", verify=True)
    np.testing.assert_array_equal(traj.steps, np.arange(301) * 10)
    assert run["n_frames"] == 301
    th = pd.read_parquet(tmp_path / RUN / "thermo.parquet")
    prod = th[th["stage"] == "production"]
    assert prod["step"].is_unique and prod["step"].is_monotonic_increasing
    np.testing.assert_allclose(prod["time_ps"], prod["step"] / 1000.0, rtol=1e-12)
    assert prod["time_ps"].iloc[-1] == pytest.approx(3.0)
    row = runs_table([tmp_path / TARGET]).iloc[0]  # the runs table of analyse_runs/tables
    assert (row["n_segments"], row["total_production_ps"]) == (3, 3.0)
    assert row["stop_reason"] == run["stop_reason"] and row["rel_err_D_Na"] == rel[-1]
    assert json.loads(row["segment_rel_errors"])["Na"] == rel

    # a looser target: the verdicts on disk decide, no segment runs again
    record_1 = (tmp_path / RUN / "segments/1/segment.json").read_bytes()
    cfg["protocol"]["target_rel_error"] = 0.5
    config.write_text(yaml.safe_dump(cfg))
    _smk(tmp_path, config, "--cores", "1", TARGET)
    run = json.loads((tmp_path / TARGET).read_text())
    assert run["n_segments"] == 2 and run["stop_reason"].startswith("converged: rel. error")
    assert run["n_frames"] == 201
    assert (tmp_path / RUN / "segments/1/segment.json").read_bytes() == record_1
    log = (tmp_path / "results/tiny/logs/production/x0.50_m2.00_T2400_rep01.log").read_text()
    assert "stitched from 2 segments" in log
