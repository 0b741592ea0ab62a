"""Convergence targets per (composition, T): stop rule, trajectory needed, and the
choice between more segments and more replicas (glassflow.campaign.convergence).

Expected values are worked out here by hand from err ∝ T^(-1/2) and the wall-time
model written in each test (runs in waves of ``slots``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from glassflow.campaign.convergence import (
    ConvergencePlan,
    PointState,
    convergence_problems,
    needed_trajectory_ps,
    next_step,
    relative_errors,
)

PROTOCOL = {"production_ps": 50.0, "segment_ps": 10.0}


def plan(**kw) -> ConvergencePlan:
    base = dict(
        targets={"sigma": 0.15, "D_Na": 0.05},
        max_trajectory_ps=1000.0,
        max_replicas=16,
        mode="auto",
        run_ps=50.0,
        segment_ps=10.0,
        overhead_ps=10.0,
    )
    return ConvergencePlan(**{**base, **kw})


def test_needed_trajectory_follows_the_inverse_square_root_law():
    # err = c / sqrt(T): from 0.30 at 100 ps, 0.15 needs 400 ps in all, 300 more
    assert needed_trajectory_ps(0.30, 0.15, 100.0) == pytest.approx(300.0)
    assert needed_trajectory_ps(0.10, 0.15, 100.0) == 0.0
    assert needed_trajectory_ps(math.inf, 0.15, 100.0) == math.inf
    # check the law itself on white-noise means: the error of a mean of T samples
    rng = np.random.default_rng(3)
    errs = [rng.normal(size=(4000, n)).mean(axis=1).std() for n in (100, 400)]
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.05)


def test_relative_errors_without_an_estimate_are_infinite():
    e = relative_errors({"sigma": (0.5, 0.1), "D_Na": (None, None), "D_S": (0.0, 0.1)})
    assert e["sigma"] == pytest.approx(0.2)
    assert e["D_Na"] == math.inf and e["D_S"] == math.inf


def test_met_targets_stop():
    d = next_step({"sigma": 0.1, "D_Na": 0.04}, PointState(2, 50.0), plan(), slots=2)
    assert d.action == "stop" and d.reason == "targets met"


def test_few_slots_extend_by_segments_many_slots_add_replicas():
    # sigma 0.30 vs 0.15 with 2 x 50 ps: 300 ps more.
    errors = {"sigma": 0.30, "D_Na": 0.01}
    state = PointState(2, 50.0)
    # 1 slot: segments 2 replicas x 10 ps per round, 15 rounds, waves of 2 -> 2*15*10 = 300
    #         replicas: 6 new of 50 ps, 6 waves of 60 ps -> 360; segments win
    d = next_step(errors, state, plan(), slots=1)
    assert (d.action, d.n, d.added_ps, d.wall_ps) == ("segments", 15, 300.0, 300.0)
    # 8 slots: segments 1 wave x 15 x 10 = 150; replicas 6 in one wave: 60 -> replicas
    d = next_step(errors, state, plan(), slots=8)
    assert (d.action, d.n, d.added_ps, d.wall_ps) == ("replicas", 6, 300.0, 60.0)
    assert "sigma 30% > 15%" in d.reason


def test_the_budget_trims_and_then_stops():
    errors = {"sigma": 0.30}
    p = plan(targets={"sigma": 0.15}, max_trajectory_ps=200.0)
    d = next_step(errors, PointState(2, 50.0), p, slots=8)
    # 100 ps of room: 2 replicas of 50 ps (wall 60) or 5 rounds of 20 ps (wall 50)
    assert d.added_ps == 100.0 and d.action == "segments" and d.n == 5
    stop = next_step(errors, PointState(4, 50.0), p, slots=8)
    assert stop.action == "stop" and stop.reason.startswith("budget spent")
    assert "max_trajectory_ps 200" in stop.reason and "sigma 30% > 15%" in stop.reason


def test_replica_mode_respects_max_replicas():
    p = plan(targets={"sigma": 0.15}, mode="replicas", max_replicas=3)
    d = next_step({"sigma": 0.30}, PointState(2, 50.0), p, slots=8)
    assert (d.action, d.n) == ("replicas", 1)
    stop = next_step({"sigma": 0.30}, PointState(3, 50.0), p, slots=8)
    assert stop.action == "stop" and "max_replicas 3" in stop.reason


def test_a_round_grows_a_point_at_most_max_growth_fold():
    # the ns9 case: sigma 179 % > 25 % after one 60 ps segment; the T^-1/2 law asks
    # 60 (7.16^2 - 1) = 3016 ps more, the budget (1920 ps) leaves 1860 ps
    p = plan(targets={"sigma": 0.25}, max_trajectory_ps=1920.0, mode="segments", segment_ps=60.0)
    uncapped = next_step({"sigma": 1.79}, PointState(1, 60.0), p, slots=2)
    assert (uncapped.n, uncapped.added_ps) == (31, 1860.0)
    # max_growth 4: 60 ps may become 240 ps, i.e. 180 ps more = 3 segments
    d = next_step({"sigma": 1.79}, PointState(1, 60.0), replace(p, max_growth=4.0), slots=2)
    assert (d.action, d.n, d.added_ps) == ("segments", 3, 180.0)
    assert "at most 180" in d.reason and "needs about 3016 ps more" in d.reason
    # a need below the cap is not changed by it: 25.2 % -> 60 (1.008^2 - 1) = 1 ps, 1 segment
    small = next_step({"sigma": 0.252}, PointState(1, 60.0), replace(p, max_growth=4.0), slots=2)
    assert (small.n, small.added_ps) == (1, 60.0) and "at most" not in small.reason
    # replicas: two 50 ps runs may grow to 300 ps at most, i.e. 4 new runs, not the 6 asked
    q = plan(targets={"sigma": 0.15}, max_growth=3.0)
    assert next_step({"sigma": 0.30}, PointState(2, 50.0), q, slots=8).n == 4


def test_no_estimate_extends_by_one_round():
    d = next_step({"sigma": math.inf}, PointState(1, 50.0), plan(mode="segments"), slots=1)
    assert (d.action, d.n, d.added_ps) == ("segments", 1, 10.0)
    assert "sigma: no estimate" in d.reason


def test_bad_blocks_are_named():
    good = {"targets": {"D_Na": 0.05, "sigma": 0.15}, "max_trajectory_ps": 200, "mode": "auto"}
    assert convergence_problems(good, PROTOCOL, "c.yaml") == []
    bad = {
        "targets": {"D_Na": -0.1, "conductivity": 0.1},
        "max_trajectory_ps": 55,
        "mode": "fastest",
        "max_replicas": 0,
        "max_growth": 1,
    }
    text = "\n".join(convergence_problems(bad, PROTOCOL, "c.yaml"))
    assert "'convergence.targets.D_Na' = -0.1" in text
    assert "'convergence.targets.conductivity': unknown quantity" in text
    assert "'convergence.mode' = 'fastest'" in text
    assert "'convergence.max_replicas' = 0" in text
    assert "'convergence.max_growth' = 1: expected a factor > 1" in text
    assert "'convergence.max_trajectory_ps' = 55 ps leaves no room" in text
