"""Convergence rounds of a (composition, T) as the workflow runs them
(glassflow.campaign.convergence: layouts, the walk over round records, the point's pooled
estimates from segment files; workflow/rules/convergence.smk end to end).

Expected values: layouts and decisions worked out by hand from the rules written in
each test; the point's D and sigma against the replica-pooled columns of the dynamics
tables (a separate code path: whole trajectories, long curves table, then pooling), and
sigma of independent charged walkers against sigma_NE (exact for them).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, SCHEMA, require_lmp

from glassflow.analysis.dynamics.correlations import DynamicsSettings
from glassflow.analysis.dynamics.tables import analyse_run, pool_replica_transport
from glassflow.campaign.convergence import (
    ConvergencePlan,
    Decision,
    add_point_columns,
    apply_decision,
    decision_of_record,
    glass_replica,
    initial_layout,
    layout_of_round,
    plan_from_config,
    point_transport,
    round_record,
    velocity_seed_needed,
    walk_rounds,
)
from glassflow.config.grid import build_campaign
from glassflow.config.schema import ConfigError
from glassflow.io.trajectory import open_trajectory, write_trajectory
from glassflow.md.segments import SegmentPlan

CONVERGE_CONFIG = ROOT / "tests/data/tiny_converge.yaml"


def plan(**kw) -> ConvergencePlan:
    base = dict(
        targets={"sigma": 0.15},
        max_trajectory_ps=40.0,
        max_replicas=6,
        mode="auto",
        run_ps=4.0,
        segment_ps=2.0,
        overhead_ps=1.0,
    )
    return ConvergencePlan(**{**base, **kw})


# --- layouts --------------------------------------------------------------------------------


def test_new_replicas_reuse_the_glasses_in_turn_with_new_velocities():
    assert [glass_replica(r, 3) for r in range(1, 8)] == [1, 2, 3, 1, 2, 3, 1]
    assert [velocity_seed_needed(r, 3) for r in (1, 3, 4)] == [False, False, True]
    with pytest.raises(ValueError):
        glass_replica(0, 3)


def test_decisions_extend_the_layout():
    layout = initial_layout(2, 2)
    assert layout == {1: 2, 2: 2}
    seg = apply_decision(layout, Decision("segments", 3, 12.0, 6.0, ""), n_fixed=2)
    assert seg == {1: 5, 2: 5}
    rep = apply_decision(seg, Decision("replicas", 2, 8.0, 5.0, ""), n_fixed=2)
    assert rep == {1: 5, 2: 5, 3: 2, 4: 2}
    assert apply_decision(rep, Decision("stop", 0, 0.0, 0.0, "targets met"), 2) == rep


def _record(layout, sigma_err, slots=1, index=0, p=None):
    return round_record(
        {"comp": "x0.50_m2.00", "T_K": 2400.0},
        index,
        layout,
        {"sigma": (1.0, sigma_err), "D_Na": (None, None)},
        p or plan(),
        slots,
    )


def test_a_round_records_its_step_and_the_walk_replays_it():
    # 2 replicas x 4 ps = 8 ps at 30 %: 0.15 needs 8 (4 - 1) = 24 ps more, 32 ps are
    # left in the budget. One slot: 6 more segments per replica give 24 ps in 2 x 6 x 2
    # = 24 wall ps; 4 new replicas (max_replicas 6) give 16 ps in 4 x (4 + 1) = 20:
    # segments (1 wall ps per ps against 1.25).
    p = plan()
    r0 = _record({1: 2, 2: 2}, 0.30, slots=1, p=p)
    assert r0["decision"]["action"] == "segments" and r0["decision"]["n"] == 6
    assert r0["trajectory_ps"] == 8.0 and r0["errors"]["D_Na"] == 1e300  # no estimate
    # with 4 slots the same round would add the 4 replicas side by side (16 ps in 5 wall
    # ps against segments' 24 in 12): but the written step (1 slot) is replayed, so a
    # rerun with other cores keeps the runs already made
    replayed = dict(r0, slots=4)
    assert decision_of_record(r0, p).action == "segments"
    assert _record({1: 2, 2: 2}, 0.30, slots=4, p=p)["decision"]["action"] == "replicas"
    assert decision_of_record(replayed, p) == decision_of_record(r0, p)
    r1 = _record({1: 8, 2: 8}, 0.14, index=1, p=p)
    rounds = [r0, r1]
    layout, decisions = walk_rounds(lambda i: rounds[i], {1: 2, 2: 2}, p, n_fixed=2)
    assert layout == {1: 8, 2: 8} and [d.action for d in decisions] == ["segments", "stop"]
    assert layout_of_round(lambda i: rounds[i], {1: 2, 2: 2}, p, 2, 1) == {1: 8, 2: 8}
    with pytest.raises(ValueError, match="stopped after round 1"):
        layout_of_round(lambda i: rounds[i], {1: 2, 2: 2}, p, 2, 2)


def test_the_current_targets_decide_when_a_point_stops():
    p = plan()
    r0 = _record({1: 2, 2: 2}, 0.30, p=p)
    # a loosened target stops the point at round 0: the runs after it are not used
    loose = plan(targets={"sigma": 0.35})
    layout, decisions = walk_rounds(lambda i: [r0][i], {1: 2, 2: 2}, loose, 2)
    assert layout == {1: 2, 2: 2} and decisions[-1].reason == "targets met"
    # a tightened target extends a point that had stopped
    r1 = _record({1: 8, 2: 8}, 0.14, index=1, p=p)
    assert decision_of_record(r1, p).action == "stop"
    tight = plan(targets={"sigma": 0.10})
    assert decision_of_record(r1, tight).action != "stop"
    # a record that does not hold the runs the walk expects is refused, not reused
    stale = dict(r1, layout={"1": 2, "2": 2})
    with pytest.raises(ValueError, match="stale"):
        walk_rounds(lambda i: [r0, stale][i], {1: 2, 2: 2}, p, 2)


def test_point_columns_of_the_runs_table():
    p = plan()
    r0 = _record({1: 2, 2: 2}, 0.30, p=p)
    r1 = _record({1: 8, 2: 8}, 0.14, index=1, p=p)
    runs = pd.DataFrame({"replica": [1, 2]})
    out = add_point_columns(runs, [], p)
    assert list(out.columns) == ["replica"]  # no rounds: unchanged
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        files = []
        for i, r in enumerate((r0, r1)):
            f = Path(d) / f"round{i:02d}.json"
            f.write_text(json.dumps(r))
            files.append(f)
        out = add_point_columns(runs, files, p)
    row = out.iloc[1]
    assert (row["point_rounds"], row["point_replicas"], row["point_segments"]) == (2, 2, 16)
    assert row["point_trajectory_ps"] == 32.0 and row["point_stop_reason"] == "targets met"
    assert row["rel_error_sigma"] == pytest.approx(0.14) and row["target_sigma"] == 0.15


# --- the point's estimates from segment files ------------------------------------------------


def _walkers(tmp_path, replica, rng):
    """Independent charged walkers: 40 Na+ (D 0.5 A^2/ps) and 20 X2- (D 0.1), 401 frames."""
    n_frames, dt_ps = 401, 0.05
    types = np.repeat([0, 1], [40, 20]).astype(np.int32)
    d_true = np.where(types == 0, 0.5, 0.1)
    steps = rng.normal(size=(n_frames, types.size, 3)) * np.sqrt(2 * d_true * dt_ps)[:, None]
    pos = np.cumsum(steps, axis=0) + rng.uniform(0, 15, size=(types.size, 3))
    t = np.arange(n_frames) * dt_ps
    kw = dict(charges=np.where(types == 0, 1.0, -2.0), masses=np.where(types == 0, 23.0, 32.1))
    box = [15.0 + 0.1 * replica] * 3
    whole = write_trajectory(tmp_path / f"rep{replica}.gtrj", ("Na", "S"), types, pos, box, t, **kw)
    cuts = [0, 151, n_frames]
    parts = [
        write_trajectory(
            tmp_path / f"rep{replica}_seg{i}.gtrj", ("Na", "S"), types, pos[a:b], box, t[a:b], **kw
        )
        for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True))
    ]
    return whole, parts


def test_point_estimates_from_segments_are_the_pooled_table_values(tmp_path):
    rng = np.random.default_rng(11)
    settings = DynamicsSettings(
        min_fit_time_ps=0.3, vanhove_lags_ps=(0.5,), fast_slow_lag_ps=0.5, n_blocks=2
    )
    wholes, parts = zip(*(_walkers(tmp_path, r, rng) for r in (1, 2)), strict=True)
    meta = {"campaign": "t", "x": 0.5, "m": 2.0, "T_K": 600.0}
    runs = [
        analyse_run(open_trajectory(w), dict(meta, replica=r), settings)
        for r, w in zip((1, 2), wholes, strict=True)
    ]
    summary = pool_replica_transport(
        pd.concat([r["summary"] for r in runs], ignore_index=True),
        pd.concat([r["curves"] for r in runs], ignore_index=True),
    ).set_index("species")
    est = point_transport(parts, 600.0, dataclasses.asdict(settings))
    for el in ("Na", "S"):
        row = summary.loc[el].iloc[0]
        assert est[f"D_{el}"][0] == pytest.approx(row["D_pooled_cm2_s"], rel=1e-9)
        assert est[f"D_{el}"][1] == pytest.approx(row["D_pooled_err_cm2_s"], rel=1e-9)
    row = summary.iloc[0]
    assert est["sigma"][0] == pytest.approx(row["sigma_pooled_S_cm"], rel=1e-9)
    assert est["sigma"][1] == pytest.approx(row["sigma_err_pooled_S_cm"], rel=1e-9)
    # independent walkers: sigma = sigma_NE within the interval
    assert abs(est["sigma"][0] - row["sigma_ne_pooled_S_cm"]) < 3 * est["sigma"][1]


# --- configuration ----------------------------------------------------------------------------


def _config(**conv):
    cfg = yaml.safe_load(CONVERGE_CONFIG.read_text())
    cfg["convergence"] = {**cfg["convergence"], **conv}
    return cfg


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"targets": {"sigma": -0.1}}, r"convergence.targets.sigma' = -0.1"),
        ({"targets": {"kappa": 0.1}}, r"convergence.targets.kappa': unknown quantity"),
        ({"targets": {"D_K": 0.1}}, r"convergence.targets.D_K': K is not an element"),
        ({"max_trajectory_ps": 5}, r"convergence.max_trajectory_ps' = 5 ps leaves no room"),
        ({"max_trajectory_ps": None}, r"convergence.max_trajectory_ps': a point's budget"),
        ({"max_replicas": 0}, r"convergence.max_replicas"),
        ({"mode": "both"}, r"convergence.mode"),
        ({"max_growth": 0.5}, r"convergence.max_growth' = 0.5: expected a factor > 1"),
    ],
)
def test_bad_convergence_settings_are_refused_naming_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        build_campaign(_config(**change), SCHEMA, ROOT)


def test_targets_and_a_per_run_target_together_are_refused():
    cfg = _config()
    cfg["protocol"]["target_rel_error"] = 0.1
    with pytest.raises(ConfigError, match="protocol.target_rel_error': give D targets"):
        build_campaign(cfg, SCHEMA, ROOT)


def test_plans_of_a_config_with_targets():
    camp = build_campaign(_config(), SCHEMA, ROOT)
    p = plan_from_config(camp.config)
    assert p.targets == {"sigma": 0.02, "D_Na": 0.3} and p.max_trajectory_ps == 8.0
    assert (p.run_ps, p.segment_ps, p.overhead_ps, p.mode) == (4.0, 4.0, 0.5, "replicas")
    assert p.max_growth == 4.0  # the schema's default
    seg = SegmentPlan.from_config(camp.config)
    # one replica may hold the whole budget: 2 segments of 4 ps; the rounds decide
    assert seg.point_rounds and seg.segmented and (seg.n_fixed, seg.n_max) == (1, 2)
    cfg = copy.deepcopy(camp.config)
    cfg["convergence"]["targets"] = {}
    assert plan_from_config(cfg) is None and not SegmentPlan.from_config(cfg).point_rounds


# --- end to end -------------------------------------------------------------------------------

POINT = "results/tiny_converge/x0.50_m2.00/T2400"


@pytest.mark.lammps
@pytest.mark.slow
def test_a_point_that_misses_its_sigma_target_gets_a_second_replica(tmp_path):
    """Round 0 judges one replica; sigma misses 2 %, so round 1 adds replica 2 from the
    same glass with new velocities; the 8 ps budget stops the point there."""
    from test_workflow import job_counts, snakemake

    require_lmp()
    config = tmp_path / "converge.yaml"
    config.write_text(CONVERGE_CONFIG.read_text())
    target = f"{POINT}/tables/runs.parquet"

    def smk(*args):
        return snakemake(*args, "--configfile", str(config), "-d", str(tmp_path))

    dry = smk("-n", target)
    counts = job_counts(dry.stdout + dry.stderr)
    # the dry run knows round 0 and the run it judges; the rest waits for the checkpoint
    assert counts["point_round"] == 1 and counts["production_segment"] == 1
    smk("--cores", "2", target)
    rounds = [json.loads((tmp_path / POINT / f"convergence/round0{i}.json").read_text())
              for i in (0, 1)]  # fmt: skip
    assert not (tmp_path / POINT / "convergence/round02.json").exists()
    assert rounds[0]["layout"] == {"1": 1} and rounds[0]["decision"]["action"] == "replicas"
    assert rounds[0]["decision"]["n"] == 1 and rounds[0]["errors"]["sigma"] > 0.02
    assert rounds[1]["layout"] == {"1": 1, "2": 1}
    assert rounds[1]["decision"]["reason"].startswith("budget spent (max_trajectory_ps 8)")

    run2 = json.loads((tmp_path / POINT / "rep02/production/run.json").read_text())
    assert run2["glass_replica"] == 1 and run2["velocity_seed"] > 0
    a = open_trajectory(tmp_path / POINT / "rep01/production/trajectory.gtrj")
    b = open_trajectory(tmp_path / POINT / "rep02/production/trajectory.gtrj")
    assert a.n_frames == b.n_frames == 401
    # the same glass, new velocities: not a copy
    assert np.abs(a.positions(0, 1) - b.positions(0, 1)).max() > 0.5

    runs = pd.read_parquet(tmp_path / POINT / "tables/runs.parquet")
    assert list(runs["replica"]) == [1, 2] and list(runs["glass_replica"]) == [1, 1]
    assert set(runs["point_replicas"]) == {2} and set(runs["point_trajectory_ps"]) == {8.0}
    assert runs["point_stop_reason"].iloc[0] == rounds[1]["decision"]["reason"]
    assert runs["rel_error_sigma"].iloc[0] == pytest.approx(rounds[1]["errors"]["sigma"])
    # the round's pooled sigma is the number the dynamics tables report
    summary = pd.read_parquet(tmp_path / POINT / "tables/dynamics_summary.parquet")
    sigma, err = rounds[1]["estimates"]["sigma"]
    assert summary["sigma_pooled_S_cm"].iloc[0] == pytest.approx(sigma, rel=1e-9)
    assert summary["sigma_err_pooled_S_cm"].iloc[0] == pytest.approx(err, rel=1e-9)

    # a looser target (D only, met at round 0): the records decide, no MD runs again,
    # and the point is the first replica alone
    record0 = (tmp_path / POINT / "convergence/round00.json").read_bytes()
    cfg = yaml.safe_load(config.read_text())
    cfg["convergence"]["targets"] = {"D_Na": 0.3}
    config.write_text(yaml.safe_dump(cfg))
    dry = smk("-n", target)
    counts = job_counts(dry.stdout + dry.stderr)
    assert "production_segment" not in counts and "point_round" not in counts, counts
    smk("--cores", "2", target)
    runs = pd.read_parquet(tmp_path / POINT / "tables/runs.parquet")
    assert list(runs["replica"]) == [1] and runs["point_stop_reason"].iloc[0] == "targets met"
    assert (tmp_path / POINT / "convergence/round00.json").read_bytes() == record0
    assert math.isfinite(runs["rel_error_D_Na"].iloc[0])
