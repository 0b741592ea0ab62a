"""Adaptive refinement as the workflow runs it (glassflow.campaign.adaptive_rounds:
config block, round records and their replay, tables; workflow/rules/adaptive.smk end to
end, a kill in the middle of a round and the rerun).

Expected values: choices mapped onto compositions and replicas worked out by hand; the
records' determinism against a second computation from the same data; the end-to-end
rounds against the files the workflow wrote (every composition and replica a record
asks for exists once, no other).
"""

from __future__ import annotations

import dataclasses
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
from conftest import ROOT, SCHEMA, require_lmp

from glassflow.campaign.adaptive_rounds import (
    NO_NEW_POINT,
    AdaptivePoint,
    adaptive_from_config,
    adaptive_m_of_label,
    add_round_column,
    apply_record,
    decide_round,
    initial_points,
    log_value,
    map_choice,
    points_of_round,
    points_table,
    posterior_table,
    rounds_table,
    walk_records,
)
from glassflow.config.grid import build_campaign, composition_run_at
from glassflow.config.schema import ConfigError

ADAPTIVE_CONFIG = ROOT / "tests/data/tiny_adaptive.yaml"
CAMPAIGN_DIR = "results/tiny_adaptive"


#: the unit tests' block: sigma, its maximum, m in [2, 3] (the data file's cells and T)
UNIT = {
    "quantity": "sigma",
    "goal": "maximum",
    "bounds": [2.0, 3.0],
    "target_halfwidth": 0.02,
    "new_compositions_only": False,
}


def _config(**adaptive) -> dict:
    cfg = yaml.safe_load(ADAPTIVE_CONFIG.read_text())
    cfg["adaptive"].update(UNIT, **adaptive)
    return cfg


def _ad(**adaptive):
    camp = build_campaign(_config(**adaptive), SCHEMA, ROOT, check_writable=False)
    return camp, adaptive_from_config(camp.config)


def _file_ad():
    """The adaptive block of tests/data/tiny_adaptive.yaml as written."""
    cfg = yaml.safe_load(ADAPTIVE_CONFIG.read_text())
    return adaptive_from_config(build_campaign(cfg, SCHEMA, ROOT, check_writable=False).config)


def _peaked(m: float) -> float:
    """A sigma (S/cm) with its maximum at m = 2.6: log10 sigma = -1 - 4 (m - 2.6)^2."""
    return 10.0 ** (-1.0 - 4.0 * (m - 2.6) ** 2)


def _estimates(points, rel_err=0.2):
    return {
        2400: {c: (_peaked(p.m), rel_err * _peaked(p.m), p.replicas) for c, p in points.items()}
    }


# --- config -----------------------------------------------------------------------------------


def test_the_initial_grid_is_part_of_the_campaign():
    camp, ad = _ad()
    assert list(camp.compositions) == ["x0.50_m2.00", "x0.50_m2.50", "x0.50_m3.00"]
    assert ad.x == 0.5 and ad.temperatures_K == (2400,) and ad.quantity == "sigma"
    assert ad.settings.bounds == (2.0, 3.0) and ad.seed == 7
    points = initial_points(ad, 1)
    assert [(p.m, p.round, p.replicas) for p in points.values()] == [
        (2.0, 0, 1),
        (2.5, 0, 1),
        (3.0, 0, 1),
    ]


def test_a_composition_a_round_adds_resolves_like_a_grid_point():
    camp, ad = _ad()
    assert adaptive_m_of_label(ad, "x0.50_m2.35") == 2.35
    assert adaptive_m_of_label(ad, "x0.10_m2.35") is None  # another x
    assert adaptive_m_of_label(ad, "x0.50_m3.50") is None  # outside the bounds
    new = composition_run_at(camp, 0.5, 2.35)
    grid = camp.compositions["x0.50_m2.50"]
    assert new.label == "x0.50_m2.35" and new.composition.m_requested == 2.35
    # the same n_atoms, density and charge rules as the grid's compositions
    assert abs(new.composition.n_atoms - grid.composition.n_atoms) <= 3
    assert new.density_g_cm3 == pytest.approx(grid.density_g_cm3)
    assert new.charges_used["Na"] == grid.charges_used["Na"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target_halfwidth": -0.1}, r"adaptive.target_halfwidth' = -0.1: expected a number > 0"),
        ({"quantity": "kappa"}, r"adaptive.quantity' = 'kappa'"),
        ({"quantity": "D_Li"}, r"adaptive.quantity' = 'D_Li'"),
        ({"bounds": [1.5, 3.0]}, r"adaptive.bounds' = \[1.5, 3.0\]: outside the allowed"),
        ({"max_runs": 3}, r"adaptive.max_runs' = 3: leaves no room for one round"),
        ({"x": 1.2}, r"adaptive.x' = 1.2"),
        ({"temperatures_K": [1000]}, r"adaptive.temperatures_K'"),
        (
            {"resolution": 0.025, "min_step": 0.05},
            r"adaptive.resolution' = 0.025: expected multiples",
        ),
        ({"goal": "minimum"}, r"adaptive.goal' = 'minimum'"),
        ({"step": 0.1}, r"adaptive.step': unknown"),
    ],
)
def test_bad_adaptive_settings_are_refused_naming_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        build_campaign(_config(**change), SCHEMA, ROOT, check_writable=False)


def test_replicas_count_in_the_budget_of_the_initial_grid():
    cfg = _config(max_runs=6, runs_per_round=1)
    cfg["replicas"] = 2  # 3 x 2 = 6 runs: no room for a round
    with pytest.raises(ConfigError, match=r"adaptive.max_runs' = 6: .* n_initial x replicas"):
        build_campaign(cfg, SCHEMA, ROOT, check_writable=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target_halfwidth": -0.1}, "key 'adaptive.target_halfwidth' = -0.1"),
        ({"quantity": "kappa"}, "key 'adaptive.quantity' = 'kappa'"),
        ({"bounds": [1.5, 3.0]}, "key 'adaptive.bounds' = [1.5, 3.0]: outside the allowed"),
        ({"max_runs": 3}, "key 'adaptive.max_runs' = 3: leaves no room for one round"),
    ],
)
def test_the_workflow_refuses_a_bad_block_before_any_job(tmp_path, change, message):
    from test_workflow import snakemake

    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(_config(**change)))
    proc = snakemake("-n", "--configfile", str(config), "-d", str(tmp_path), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-2000:]
    assert "Job stats" not in out and not (tmp_path / CAMPAIGN_DIR).exists()


# --- choices, records, replay -----------------------------------------------------------------


def test_choices_map_onto_new_compositions_and_extra_replicas():
    _, ad = _ad()
    points = initial_points(ad, 1)
    added, extra, dropped = map_choice([2.3, 2.3, 2.5, 2.7], points, ad, allow_replicas=True)
    assert added == [
        {"comp": "x0.50_m2.30", "m": 2.3, "replicas": 2},
        {"comp": "x0.50_m2.70", "m": 2.7, "replicas": 1},
    ]
    assert extra == {"x0.50_m2.50": 1} and dropped == []
    # with convergence targets the targets decide replicas: measured m are not run again
    added, extra, dropped = map_choice([2.3, 2.3, 2.5], points, ad, allow_replicas=False)
    assert added == [{"comp": "x0.50_m2.30", "m": 2.3, "replicas": 1}]
    assert extra == {} and dropped == [2.3, 2.5]
    record = {"round": 0, "added": [added[0]], "extra_replicas": {"x0.50_m2.00": 2}}
    after = apply_record(points, record)
    assert after["x0.50_m2.30"] == AdaptivePoint("x0.50_m2.30", 2.3, 1, 1)
    assert after["x0.50_m2.00"].replicas == 3 and after["x0.50_m2.50"].replicas == 1


def test_log_values_in_decades():
    y, se = log_value(0.1, 0.01)
    assert y == pytest.approx(-1.0) and se == pytest.approx(0.01 / (0.1 * math.log(10)))
    assert log_value(None, None) is None and log_value(-1.0, 0.1) is None


def test_rounds_are_recorded_replayed_and_deterministic():
    _, ad = _ad(runs_per_round=2, max_runs=7, n_samples=300)
    p0 = initial_points(ad, 1)
    r0 = decide_round(0, p0, _estimates(p0), ad, allow_replicas=True, keys={"campaign": "t"})
    assert r0["stop"] is None and len(r0["chosen_m"]) == 2 and r0["runs_spent"] == 3
    assert r0["points"] == {"x0.50_m2.00": 1, "x0.50_m2.50": 1, "x0.50_m3.00": 1}
    post = r0["temperatures"]["2400"]["posterior"]
    assert post["m"][0] == 2.0 and post["m"][-1] == 3.0 and len(post["m"]) == 21
    # the same data, seed and round give the same record, to the bit
    again = decide_round(0, p0, _estimates(p0), ad, True, {"campaign": "t"})
    assert json.dumps(again, sort_keys=True) == json.dumps(r0, sort_keys=True)
    p1 = apply_record(p0, r0)
    assert sum(p.replicas for p in p1.values()) == 5
    r1 = decide_round(1, p1, _estimates(p1), ad, True)
    p2 = apply_record(p1, r1)
    r2 = decide_round(2, p2, _estimates(p2), ad, True)
    assert r2["stop"] == "T = 2400 K: budget spent (7 of 7 runs)" and r2["added"] == []
    records = [r0, r1, r2]
    points, walked = walk_records(lambda i: records[i], p0)
    assert points == p2 and walked == records
    assert points_of_round(lambda i: records[i], p0, 2) == p2
    with pytest.raises(ValueError, match="stopped after round 2"):
        points_of_round(lambda i: records[i], p0, 3)
    # a record that judged other points (the config changed) is refused, not reused
    stale = dict(r1, points={"x0.50_m2.00": 1})
    with pytest.raises(ValueError, match="stale"):
        walk_records(lambda i: [r0, stale, r2][i], p0)


def test_the_goal_reached_stops_the_rounds():
    # dense, precise data around a clear maximum: the interval is narrow at round 0
    _, ad = _ad(
        bounds=[2.0, 3.2], n_initial=13, min_step=0.05, resolution=0.01, max_runs=40,
        target_halfwidth=0.1, n_samples=400,
    )  # fmt: skip
    p0 = initial_points(ad, 1)
    r0 = decide_round(0, p0, _estimates(p0, rel_err=0.02), ad, True)
    loc = r0["temperatures"]["2400"]["location"]
    assert r0["stop"].startswith("T = 2400 K: goal reached (maximum at m = ")
    assert loc["lo"] <= 2.6 <= loc["hi"] and loc["halfwidth"] <= 0.1
    assert r0["chosen_m"] == [] and r0["added"] == []


def test_new_compositions_only_never_runs_a_measured_m_again():
    # sigma (S/cm) of the three 150-atom cells of a tiny run, 1 sigma: the lowest m is
    # the noisiest, and with replicas allowed the core runs it again
    _, ad = _ad(runs_per_round=2, max_runs=20)
    p0 = initial_points(ad, 1)
    est = {2400: {"x0.50_m2.00": (1.17, 1.31, 1), "x0.50_m2.50": (2.16, 0.58, 1),
                  "x0.50_m3.00": (4.84, 2.35, 1)}}  # fmt: skip
    free = decide_round(0, p0, est, ad, allow_replicas=True)
    assert set(free["extra_replicas"]) == {"x0.50_m2.00"}, free["chosen_m"]
    only_new = decide_round(0, p0, est, ad, allow_replicas=False)
    assert len(only_new["added"]) == 2 and only_new["extra_replicas"] == {}
    ms = sorted([p.m for p in p0.values()] + [a["m"] for a in only_new["added"]])
    assert min(np.diff(ms)) >= ad.settings.min_step - 1e-9


def test_a_composition_without_estimate_counts_in_the_budget_and_is_not_chosen_again():
    # a map of known accuracy: the widest gap, 2.25-2.75, is where the largest std is,
    # at its middle 2.5 (the composition without an estimate) unless that counts as taken
    _, ad = _ad(n_initial=5, min_step=0.12, resolution=0.01, max_runs=9, runs_per_round=4)
    ad = dataclasses.replace(ad, settings=dataclasses.replace(ad.settings, goal="uncertainty"))
    p0 = initial_points(ad, 1)

    def est_of(points):
        sigma = {c: 10.0 ** (-1.0 - 4.0 * (p.m - 2.5) ** 2) for c, p in points.items()}
        out = {c: (v, 0.05 * v, points[c].replicas) for c, v in sigma.items()}
        return {2400: dict(out, **{"x0.50_m2.50": (None, None, 1)})}  # not diffusive

    record = decide_round(0, p0, est_of(p0), ad, allow_replicas=False)
    data = record["temperatures"]["2400"]["data"]
    assert [d["used"] for d in data] == [True, True, False, True, True]
    assert record["runs_spent"] == 5 and len(record["added"]) == 4
    # no new composition next to it, and no choice of it that would be dropped
    assert all(abs(a["m"] - 2.5) >= 0.12 - 1e-9 for a in record["added"]), record["added"]
    assert record["dropped_m"] == []
    p1 = apply_record(p0, record)
    est = est_of(p1)
    assert decide_round(1, p1, est, ad, False)["stop"] == "T = 2400 K: budget spent (9 of 9 runs)"


def test_a_round_with_no_room_for_a_new_composition_stops():
    # 5 points over [2, 3] with min_step 0.25 (past the config check, which refuses it
    # at start): nothing new fits, and replicas are not allowed
    _, ad = _ad(n_initial=5, min_step=0.1, resolution=0.05, max_runs=20, n_samples=200)
    ad = dataclasses.replace(ad, settings=dataclasses.replace(ad.settings, min_step=0.25))
    p0 = initial_points(ad, 1)
    record = decide_round(0, p0, _estimates(p0), ad, allow_replicas=False)
    assert record["stop"].startswith(NO_NEW_POINT) and record["added"] == []


def test_tables_of_the_rounds_and_the_round_column():
    _, ad = _ad(runs_per_round=1, max_runs=4, n_samples=200)
    p0 = initial_points(ad, 1)
    r0 = decide_round(0, p0, _estimates(p0), ad, True)
    p1 = apply_record(p0, r0)
    r1 = decide_round(1, p1, _estimates(p1), ad, True)
    points = points_table([r0, r1])
    assert len(points) == len(p1) and set(points["round"]) <= {0, 1}
    assert np.allclose(points["y"], [math.log10(_peaked(m)) for m in points["m"]])
    rounds = rounds_table([r0, r1])
    assert list(rounds["round"]) == [0, 1] and rounds["stop"].iloc[-1].startswith("T = 2400")
    post = posterior_table([r0, r1])
    assert set(post["round"]) == {0, 1} and len(post) == 2 * 21
    runs = pd.DataFrame({"x": [0.5, 0.5, 0.3], "m": [2.0, 2.5, 2.0]})
    out = add_round_column(
        runs, [{"x": 0.5, "m": 2.0, "round": 0}, {"x": 0.5, "m": 2.5, "round": 1}]
    )
    assert out["round"].tolist() == [0, 1, pd.NA] and str(out["round"].dtype) == "Int64"


# --- workflow ---------------------------------------------------------------------------------


def _smk(tmp_path, config, *args, **kw):
    from test_workflow import snakemake

    return snakemake(*args, "--configfile", str(config), "-d", str(tmp_path), **kw)


def test_dry_run_shows_round_zero_and_the_checkpoint(tmp_path):
    from test_workflow import job_counts

    config = tmp_path / "adaptive.yaml"
    config.write_text(ADAPTIVE_CONFIG.read_text())
    dry = _smk(tmp_path, config, "-n")
    counts = job_counts(dry.stdout + dry.stderr)
    assert counts["production"] == 3 and counts["melt_quench"] == 3
    assert counts["adaptive_round"] == 1 and counts["adaptive_summary"] == 1
    assert "checkpoint" in dry.stdout + dry.stderr


def test_with_convergence_targets_each_point_gets_its_rounds_first(tmp_path):
    from test_workflow import job_counts

    cfg = _config()
    cfg["convergence"] = {"targets": {"sigma": 0.2}, "max_trajectory_ps": 8, "mode": "segments"}
    config = tmp_path / "adaptive.yaml"
    config.write_text(yaml.safe_dump(cfg))
    dry = _smk(tmp_path, config, "-n", f"{CAMPAIGN_DIR}/adaptive/round00.json")
    counts = job_counts(dry.stdout + dry.stderr)
    # adaptive round 0 judges the points' convergence records, not their stitched runs
    # every point's rounds side by side (one estimate job each), not one point after another
    assert counts["point_round"] == 3 and counts["production_segment"] == 3
    assert counts["adaptive_point_estimate"] == 3
    assert counts["adaptive_round"] == 1 and "production" not in counts, counts


def test_a_point_with_convergence_rounds_enters_with_its_last_pooled_estimate(tmp_path):
    from glassflow.campaign.adaptive_rounds import point_estimate, write_point_estimate

    records = []
    for i, (sigma, err, n) in enumerate([(2.0, 0.8, 1), (2.2, 0.4, 3)]):
        f = tmp_path / f"round{i:02d}.json"
        action = "segments" if i == 0 else "stop"
        f.write_text(
            json.dumps(
                {
                    "estimates": {"sigma": [sigma, err]},
                    "n_replicas": n,
                    "decision": {"action": action},
                }
            )
        )
        records.append(str(f))
    group = {"comp": "x0.50_m2.00", "T_K": 2400, "records": records}
    # the rounds so far, before the point stopped: no estimate yet
    with pytest.raises(ValueError, match="not complete"):
        point_estimate({**group, "records": records[:1]}, "sigma", None)
    with pytest.raises(TypeError, match="list of round records"):
        point_estimate({**group, "records": records[1]}, "sigma", None)
    assert point_estimate(group, "sigma", None) == (2.2, 0.4, 3)
    assert point_estimate(group, "D_Na", None) == (None, None, 3)
    out = tmp_path / "adaptive_estimate.json"
    doc = write_point_estimate(records, "sigma", {"comp": "x0.50_m2.00"}, str(out))
    assert doc["comp"] == "x0.50_m2.00" and doc["n_runs"] == 3
    assert point_estimate({"T_K": 2400, "estimate": str(out)}, "sigma", None) == (2.2, 0.4, 3)


TARGETS = (f"{CAMPAIGN_DIR}/adaptive/points.parquet", f"{CAMPAIGN_DIR}/tables/runs.parquet")


def _records(tmp_path) -> list[dict]:
    files = sorted((tmp_path / CAMPAIGN_DIR / "adaptive").glob("round*.json"))
    return [json.loads(f.read_text()) for f in files]


def _runs_on_disk(tmp_path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for run in sorted((tmp_path / CAMPAIGN_DIR).glob("x*/T2400/rep*/production/run.json")):
        comp = run.parents[3].name
        out.setdefault(comp, []).append(int(run.parents[1].name[3:]))
    return out


def _check_rounds(tmp_path, ad) -> list[dict]:
    """The records replay from the initial grid; every run they ask for is on disk once,
    no other; each round's choice is what the core gives for the recorded data."""
    records = _records(tmp_path)
    p0 = initial_points(ad, 1)
    points, walked = walk_records(lambda i: records[i], p0)
    assert len(walked) == len(records)
    assert _runs_on_disk(tmp_path) == {
        c: list(range(1, p.replicas + 1)) for c, p in sorted(points.items())
    }
    assert sum(p.replicas for p in points.values()) <= ad.settings.max_runs
    for r in records:  # same data + seed -> same round
        judged = points_of_round(lambda i: records[i], p0, r["round"])
        data = r["temperatures"]["2400"]["data"]
        est = {2400: {d["comp"]: (d["value"], d["error"], d["n_runs"]) for d in data}}
        allow = not ad.new_compositions_only
        again = decide_round(r["round"], judged, est, ad, allow, {"campaign": "tiny_adaptive"})
        assert again["chosen_m"] == r["chosen_m"] and again["stop"] == r["stop"]
    return records


@pytest.mark.lammps
@pytest.mark.slow
def test_two_adaptive_rounds_end_to_end(tmp_path):
    """Round 0 judges the initial grid and adds one run, round 1 another; round 2 stops on
    the budget. The runs' tables carry the round that first judged each composition."""
    require_lmp()
    config = tmp_path / "adaptive.yaml"
    config.write_text(ADAPTIVE_CONFIG.read_text())
    _smk(tmp_path, config, "--cores", "1", *TARGETS)
    ad = _file_ad()
    records = _check_rounds(tmp_path, ad)
    assert [r["round"] for r in records] == [0, 1, 2]
    assert [len(r["chosen_m"]) for r in records] == [1, 1, 0]
    assert records[2]["stop"] == "T = 2400 K: budget spent (5 of 5 runs)"
    points = walk_records(lambda i: records[i], initial_points(ad, 1))[0]
    runs = pd.read_parquet(tmp_path / CAMPAIGN_DIR / "tables/runs.parquet")
    assert len(runs) == 5
    assert dict(zip(runs["comp"], runs["round"], strict=True)) == {
        c: p.round for c, p in points.items()
    }
    extra = runs[runs["replica"] > 1]
    assert (extra["glass_replica"] == 1).all()  # a replica beyond the glasses: new velocities
    table = pd.read_parquet(tmp_path / CAMPAIGN_DIR / "adaptive/points.parquet")
    assert sorted(table["comp"]) == sorted(points)
    # a point without an estimate (no diffusive regime in 4 ps) is kept, out of the fit
    assert (table["used"] == table["value"].notna()).all() and table["used"].sum() >= 3
    for name in ("rounds", "posterior"):
        assert len(pd.read_parquet(tmp_path / CAMPAIGN_DIR / f"adaptive/{name}.parquet"))
    assert (tmp_path / CAMPAIGN_DIR / "figures/adaptive.png").stat().st_size > 10_000
    # nothing left to do: the records are replayed, not recomputed
    dry = _smk(tmp_path, config, "-n", *TARGETS)
    assert "Nothing to be done" in dry.stdout + dry.stderr


def _round_one_started(tmp_path) -> bool:
    """True once round00.json exists and an MD job of a run it added has started."""
    record = tmp_path / CAMPAIGN_DIR / "adaptive/round00.json"
    if not record.is_file():
        return False
    r = json.loads(record.read_text())
    logs = tmp_path / CAMPAIGN_DIR / "logs"
    wanted = [logs / f"melt_quench/{a['comp']}_rep01.log" for a in r["added"]]
    wanted += [
        logs / f"production/{c}_T2400_rep{p + n:02d}.log"
        for c, n in r["extra_replicas"].items()
        for p in [r["points"][c]]
    ]
    return any(f.exists() for f in wanted)


@pytest.mark.lammps
@pytest.mark.slow
def test_a_campaign_killed_in_round_one_reruns_to_the_same_rounds(tmp_path):
    """Kill Snakemake (and its jobs) once round 0 is recorded and a run it added has
    started; the rerun replays round 0 from its record and ends with the same rounds:
    every chosen run once, none lost, none duplicated."""
    from test_workflow import SNAKEMAKE

    require_lmp()
    config = tmp_path / "adaptive.yaml"
    config.write_text(yaml.safe_dump(_config()))  # sigma, its maximum, replicas allowed
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--configfile", str(config)]
    proc = subprocess.Popen(
        [*cmd, "-d", str(tmp_path), "--cores", "1", *TARGETS],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not _round_one_started(tmp_path):
            assert proc.poll() is None, "snakemake ended before round 1 started"
            assert time.monotonic() < deadline, "round 1 never started"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and the MD job it runs
        proc.wait()
    record0 = (tmp_path / CAMPAIGN_DIR / "adaptive/round00.json").read_bytes()
    assert not (tmp_path / CAMPAIGN_DIR / "adaptive/round01.json").exists()
    _smk(tmp_path, config, "--unlock")
    _smk(tmp_path, config, "--cores", "1", "--rerun-incomplete", *TARGETS)
    assert (tmp_path / CAMPAIGN_DIR / "adaptive/round00.json").read_bytes() == record0
    records = _check_rounds(tmp_path, _ad()[1])
    assert [r["round"] for r in records] == [0, 1, 2]
    # the suffix (where the position is known to lie) depends on the MD's noise
    assert records[-1]["stop"].startswith("T = 2400 K: budget spent (5 of 5 runs)")
    # a replica a round added (same glass, new velocities) is not a copy of the first:
    # the pooled value of its composition moves
    for before, after in zip(records, records[1:], strict=False):
        for comp, n in before["extra_replicas"].items():
            old, new = (
                next(d for d in r["temperatures"]["2400"]["data"] if d["comp"] == comp)
                for r in (before, after)
            )
            assert new["n_runs"] == old["n_runs"] + n
            assert new["value"] != pytest.approx(old["value"], rel=1e-6)
