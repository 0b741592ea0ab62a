"""benchmarks/gpu_plan.py: the MD work of the paper campaigns counted by hand, and the
GPU-hours that follow from a speed and a packing.

Hand counts (1 fs steps, 3000 atoms per composition):

- Sorensen 2023 NS, one glass: minimise 10,000 evaluations + melt 100 ps + quench
  (3000 - 300) K at 100 K/ps = 27 ps + relax 1000 ps = 1,137,000 steps; one run at T:
  ramp (T - 300) K at 100 K/ps + 100 ps + 10 ns; the seven ramps of 300...1600 K sum to
  0 + 3 + 5 + 7 + 9 + 11 + 13 = 48 ps. Five replicas.
- Micoulaut 2025 NS9, one glass: 10,000 + 100 ps + (2500 - 300)/100 = 22 ps + 10 ps =
  142,000 steps; runs start from the 2500 K melt: ramps of 15, 10 and 5 ps to 1000,
  1500, 2000 K, then 100 ps + 1 ns each. 19 compositions x 3 replicas.
"""

import sys

import pytest
import yaml
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_plan  # noqa: E402

SORENSEN_GLASS = 5 * 3000 * 1_137_000
SORENSEN_RUNS = 5 * 3000 * (7 * (100_000 + 10_000_000) + 48_000)
MICOULAUT_GLASS = 19 * 3 * 3000 * 142_000
MICOULAUT_RUNS = 19 * 3 * 3000 * (3 * 1_100_000 + 30_000)


def load(name):
    return yaml.safe_load((ROOT / "config" / "campaigns" / name).read_text())


def test_work_of_the_paper_campaigns():
    w = gpu_plan.campaign_work(load("sorensen2023_ns.yaml"))
    assert (w.glasses, w.runs) == (5, 35)
    assert w.glass_atom_steps == SORENSEN_GLASS
    assert w.run_atom_steps == SORENSEN_RUNS
    assert w.longest_run_atom_steps == 3000 * (13_000 + 100_000 + 10_000_000)  # 1600 K
    m = gpu_plan.campaign_work(load("micoulaut2025_ns9_flexibility.yaml"))
    assert (m.glasses, m.runs) == (57, 171)
    assert m.glass_atom_steps == MICOULAUT_GLASS
    assert m.run_atom_steps == MICOULAUT_RUNS


def test_gpu_hours_unpacked_and_packed(capsys):
    w = gpu_plan.campaign_work(load("sorensen2023_ns.yaml"))
    row = gpu_plan.plan(w, "test", 1e6, runs_per_gpu=4, gain=2.0)
    hours = (SORENSEN_GLASS + SORENSEN_RUNS) / 1e6 / 3600  # 299.5 h
    assert row.gpu_hours == pytest.approx(hours)
    assert row.gpu_hours_packed == pytest.approx(hours / 2)
    one = 3000 * 10_113_000 / 1e6 / 3600  # 8.43 h alone
    assert row.longest_run_h == pytest.approx(one)
    assert row.longest_run_packed_h == pytest.approx(one * 4 / 2)  # each at half speed
    assert gpu_plan.main(["--speed", "x=1e6"]) == 0
    out = capsys.readouterr().out
    assert "| sorensen2023_ns | 5 + 35 | 1.078e+12 | 1e+06 (x) | 300 | 166 |" in out
    assert "micoulaut2025_ns9_flexibility | 57 + 228" not in out and "57 + 171" in out
