"""Adaptive rounds with convergence targets, end to end (split from
test_adaptive_rounds.py so that the two slow workflow files run on different test
workers): each composition gets its own convergence rounds before the adaptive rounds
judge it, also after a stop in the middle of an added composition's rounds."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import ROOT, SCHEMA, require_lmp
from test_adaptive_rounds import ADAPTIVE_CONFIG, CAMPAIGN_DIR, TARGETS, _records, _smk

from glassflow.campaign.adaptive_rounds import adaptive_from_config, initial_points, walk_records
from glassflow.config.grid import build_campaign


@pytest.mark.lammps
@pytest.mark.slow
def test_adaptive_rounds_with_convergence_targets_end_to_end(tmp_path):
    """Each composition, the added ones too, gets its own convergence rounds (segments
    up to an 8 ps budget); the adaptive rounds judge its pooled estimate after them and
    add new compositions only."""
    require_lmp()
    cfg = yaml.safe_load(ADAPTIVE_CONFIG.read_text())
    cfg["adaptive"]["new_compositions_only"] = False  # convergence targets restrict anyway
    cfg["convergence"] = {"targets": {"D_Na": 0.03}, "max_trajectory_ps": 8, "mode": "segments"}
    config = tmp_path / "adaptive.yaml"
    config.write_text(yaml.safe_dump(cfg))
    # Stop after round 0 of the composition adaptive round 0 added (as a killed campaign
    # would): the rerun must go on with that point's later rounds before it judges it
    # (a record Snakemake finds on disk one rule below an updated checkpoint).
    from test_workflow import job_counts

    _smk(tmp_path, config, "--cores", "1", f"{CAMPAIGN_DIR}/adaptive/round00.json")
    added = json.loads((tmp_path / CAMPAIGN_DIR / "adaptive/round00.json").read_text())["added"]
    new = added[0]["comp"]
    point = tmp_path / CAMPAIGN_DIR / new / "T2400/convergence"
    _smk(tmp_path, config, "--cores", "1", str(point.relative_to(tmp_path) / "round00.json"))
    assert json.loads((point / "round00.json").read_text())["decision"]["action"] != "stop"
    dry = _smk(tmp_path, config, "-n", *TARGETS)
    counts = job_counts(dry.stdout + dry.stderr)
    assert f"{new}/T2400/rep01/production/segments/2/" in dry.stdout, counts
    assert counts["point_round"] == 1 and counts["adaptive_point_estimate"] == 1, counts
    _smk(tmp_path, config, "--cores", "1", *TARGETS)
    records = _records(tmp_path)
    ad = adaptive_from_config(build_campaign(cfg, SCHEMA, ROOT, check_writable=False).config)
    points, _ = walk_records(lambda i: records[i], initial_points(ad, 1))
    assert len(points) == 5 and all(p.replicas == 1 for p in points.values())
    assert [len(r["added"]) for r in records] == [1, 1, 0]
    assert all(not r["extra_replicas"] for r in records)
    for r in records:
        for d in r["temperatures"]["2400"]["data"]:
            point = tmp_path / CAMPAIGN_DIR / d["comp"] / "T2400/convergence"
            rounds = sorted(point.glob("round*.json"))
            last = json.loads(rounds[-1].read_text())
            assert last["decision"]["action"] == "stop"
            # the adaptive round judged the point's pooled estimate after its own rounds
            value, error = last["estimates"]["D_Na"]
            assert (d["value"], d["error"], d["n_runs"]) == (value, error, last["n_replicas"])
    runs = pd.read_parquet(tmp_path / CAMPAIGN_DIR / "tables/runs.parquet")
    assert dict(zip(runs["comp"], runs["round"], strict=True)) == {
        c: p.round for c, p in points.items()
    }
    assert (runs["point_trajectory_ps"] > 4.0).all()  # extended beyond production_ps
