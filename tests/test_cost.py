"""Cost of MD jobs (glassflow.md.cost): steps per protocol stage counted by hand,
runtime and memory requests, and the speed measured on earlier runs.

Every expected number below is counted by hand from the protocol (temperature span /
rate = ps, ps x 1000 / timestep_fs = steps), not by the code under test.
"""

import json
from pathlib import Path

import pytest

from glassflow.md.cost import (
    CPU_ATOM_STEPS_PER_S,
    GPU_ATOM_STEPS_PER_S,
    MINIMIZE_MAX_EVALUATIONS,
    Stage,
    md_speed,
    measured_speed,
    melt_quench_stages,
    production_stages,
    runtime_minutes,
    total_steps,
    trajectory_bytes,
    trajectory_mem_mb,
)


def protocol(**kw):
    p = {
        "timestep_fs": 1.0,
        "minimize": False,
        "melt_T_K": 3000.0,
        "melt_ps": 100.0,
        "quench": {"mode": "rate", "rate_K_ps": 300.0},
        "relax_T_K": 300.0,
        "relax_ps": 1000.0,
        "production_start": "reheat",
        "ramp_rate_K_ps": 100.0,
        "equilibration_ps": 100.0,
        "production_ps": 10000.0,
        "dump_interval_fs": 1000.0,
    }
    p.update(kw)
    return p


def test_rate_quench_300_K_per_ps_is_9000_steps():
    # (3000 - 300) K / 300 K/ps = 9 ps = 9000 steps at 1 fs
    stages = melt_quench_stages(protocol())
    assert stages == [Stage("melt", 100_000), Stage("quench", 9000), Stage("relax", 1_000_000)]


def test_slow_quench_costs_what_it_says():
    # 1 K/ps over 2700 K: 2700 ps = 2,700,000 steps; 2 fs halves every count
    p = protocol(quench={"mode": "rate", "rate_K_ps": 1.0}, timestep_fs=2.0)
    assert melt_quench_stages(p) == [
        Stage("melt", 50_000),
        Stage("quench", 1_350_000),
        Stage("relax", 500_000),
    ]


def test_three_stage_quench_and_minimize():
    # 3000->1500 at 100 K/ps: 15 ps; 1500->800 at 10 K/ps: 70 ps; 800->300 at 100: 5 ps
    q = {
        "mode": "three_stage",
        "fast_rate_K_ps": 100.0,
        "slow_rate_K_ps": 10.0,
        "slow_from_K": 1500.0,
        "slow_to_K": 800.0,
    }
    stages = melt_quench_stages(protocol(quench=q, minimize=True, melt_ps=10.0, relax_ps=5.0))
    assert [(s.name, s.steps) for s in stages] == [
        ("minimize", 10_000),
        ("melt", 10_000),
        ("quench_fast1", 15_000),
        ("quench_slow", 70_000),
        ("quench_fast2", 5_000),
        ("relax", 5_000),
    ]
    assert MINIMIZE_MAX_EVALUATIONS == 10_000  # `minimize ... 1000 10000` in the template


def test_production_reheat_and_from_melt():
    # reheat 300 -> 1600 K at 100 K/ps: 13 ps; equilibration 100 ps; production 10 ns
    assert production_stages(protocol(), 1600) == [
        Stage("ramp", 13_000),
        Stage("equilibration", 100_000),
        Stage("production", 10_000_000),
    ]
    # from the 2500 K melt down to 1000 K: 15 ps of ramp
    p = protocol(production_start="from_melt", melt_T_K=2500.0, production_ps=1000.0)
    assert total_steps(production_stages(p, 1000)) == 15_000 + 100_000 + 1_000_000
    # a later segment (restart): its own production steps only
    assert production_stages(p, 1000, production_ps=250.0, first=False) == [
        Stage("production", 250_000)
    ]
    # at the start temperature there is no ramp stage
    assert [s.name for s in production_stages(protocol(), 300)] == ["equilibration", "production"]


def test_runtime_minutes():
    # 1000 atoms x 1.2e6 steps at 1e5 atom-steps/s = 12000 s; x2 safety = 400 min
    assert runtime_minutes(1000, 1_200_000, 1e5) == 400
    assert runtime_minutes(1000, 1_200_000, 1e5, attempt=2) == 800
    assert runtime_minutes(10, 10, 1e5) == 10  # never below 10 min
    with pytest.raises(ValueError):
        runtime_minutes(10, 10, 0.0)


def test_trajectory_size():
    # 10 ps every 1000 fs: 11 frames; each 48 header bytes + 100 atoms x 12 bytes
    assert trajectory_bytes(11, 100, velocities=False) == 11 * (48 + 1200)
    assert trajectory_bytes(11, 100, velocities=True) == 11 * (48 + 2400)
    # 3000 atoms, 10 ns every 1 ps: 10001 frames x 36048 B = 360.5 MB; x2 + 500 MB
    assert trajectory_mem_mb(10_000.0, 1000.0, 3000, False) == 1222
    assert trajectory_mem_mb(1.0, 1000.0, 10, False) == 1000  # at least 1 GB


def write_glass(path: Path, wall_s: float, engine: dict) -> None:
    # 1000 atoms; melt 10 ps + (3000-300)/1000 = 2.7 ps quench + 5 ps relax at 1 fs
    # = 17,700 steps: 1.77e7 atom-steps
    record = {
        "stage": "glass",
        "counts": {"Na": 400, "Si": 100, "S": 500},
        "glass_wall_time_s": wall_s,
        "engine": engine,
        "melt_quench_protocol": protocol(
            melt_ps=10.0, relax_ps=5.0, quench={"mode": "rate", "rate_K_ps": 1000.0}
        ),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def write_run(path: Path, wall_s: float, engine: dict) -> None:
    # 1000 atoms at 1600 K: 13 ps ramp + 1 ps equilibration + 20 ps production
    # (total_production_ps, two segments) = 34,000 steps: 3.4e7 atom-steps
    record = {
        "counts": {"Na": 400, "Si": 100, "S": 500},
        "T_K": 1600.0,
        "wall_time_s": wall_s,
        "total_production_ps": 20.0,
        "engine": engine,
        "protocol": protocol(equilibration_ps=1.0, production_ps=10.0),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_measured_speed_from_finished_runs(tmp_path):
    cpu = {"kind": "lammps", "accelerator": "none", "mpi_ranks": 1, "threads": 1}
    write_glass(tmp_path / "x0.50_m2.00/rep01/glass/glass.json", 17.7, cpu)  # 1e6 /s
    write_run(tmp_path / "x0.50_m2.00/T1600/rep01/production/run.json", 17.0, cpu)  # 2e6 /s
    write_run(tmp_path / "x0.50_m2.00/T1600/rep02/production/run.json", 8.5, cpu)  # 4e6 /s
    # launched on 8 threads: not this engine's speed
    write_glass(tmp_path / "x0.50_m2.00/rep02/glass/glass.json", 1.0, dict(cpu, threads=8))
    speed, n = measured_speed(tmp_path, cpu)
    assert n == 3
    assert speed == pytest.approx(2e6)  # median of 1e6, 2e6, 4e6
    assert measured_speed(tmp_path, dict(cpu, accelerator="kokkos", gpus=1)) is None


def test_speed_order_config_measured_constant(tmp_path):
    cpu = {"accelerator": "none", "mpi_ranks": 2, "threads": 2}
    assert md_speed(cpu, tmp_path).atom_steps_per_s == pytest.approx(4 * CPU_ATOM_STEPS_PER_S)
    gpu = {"accelerator": "kokkos", "gpus": 1}
    assert md_speed(gpu, None).atom_steps_per_s == GPU_ATOM_STEPS_PER_S
    write_glass(tmp_path / "c/rep01/glass/glass.json", 17.7, cpu)
    found = md_speed(cpu, tmp_path)
    assert found.atom_steps_per_s == pytest.approx(1e6)
    assert "measured on 1" in found.source
    given = md_speed(dict(cpu, atom_steps_per_s=5e5), tmp_path)
    assert (given.atom_steps_per_s, given.source) == (5e5, "engine.atom_steps_per_s")


# The config key and the workflow ------------------------------------------------------


def test_speed_key_is_checked_and_changes_no_physics(tiny_config):
    from conftest import SCHEMA

    from glassflow.campaign.tables import config_hash
    from glassflow.config.rule_params import physics_config
    from glassflow.config.schema import ConfigError, load_schema, validate_config

    doc = load_schema(SCHEMA)
    plain = validate_config(tiny_config, SCHEMA)
    fast = validate_config(
        {**tiny_config, "engine": {**tiny_config["engine"], "atom_steps_per_s": 2e6}}, SCHEMA
    )
    assert fast["engine"]["atom_steps_per_s"] == 2e6
    assert config_hash(physics_config(plain, doc)) == config_hash(physics_config(fast, doc))
    with pytest.raises(ConfigError, match=r"engine\.atom_steps_per_s.*> 0"):
        validate_config({**tiny_config, "engine": {"atom_steps_per_s": 0}}, SCHEMA)


def dry_run_runtimes(workdir: Path, cfg: dict) -> dict[str, set[int]]:
    """Runtime requests (min) of each rule in a dry run of ``cfg``."""
    import re
    import subprocess
    import sys

    import yaml
    from conftest import ROOT

    config = workdir / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-n", "--cores", "1"]
        + ["--configfile", str(config), "-d", str(workdir)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    runtime: dict[str, set[int]] = {}
    for block in out.split("\nrule ")[1:]:
        found = re.search(r"runtime=(\d+)", block)
        if found:
            runtime.setdefault(block.split(":", 1)[0], set()).add(int(found.group(1)))
    return runtime


def slow_quench_config(tiny_config: dict, results: Path, replicas: int = 1) -> dict:
    cfg = dict(tiny_config, temperatures_K=[1600], replicas=replicas, results_dir=str(results))
    cfg["compositions"] = {"n_atoms": 150, "grid": {"x": [0.5], "m": [2.0]}}  # 50 Na 25 Si 75 S
    cfg["protocol"] = dict(
        cfg["protocol"], timestep_fs=1.0, minimize=False, quench={"mode": "rate", "rate_K_ps": 1.0}
    )
    return cfg


def test_dry_run_asks_for_the_slow_quench_and_the_ramp_of_each_T(tmp_path, tiny_config):
    """A 1 K/ps quench: the melt-quench job asks for what its steps take at the speed
    given, and production for its own ramp (1300 K at 1600 K, not a fixed 3000 K)."""
    cfg = slow_quench_config(tiny_config, tmp_path / "r")
    # 150 atoms at 150 atom-steps/s: one step per second
    cfg["engine"] = dict(cfg["engine"], atom_steps_per_s=150.0)
    runtime = dry_run_runtimes(tmp_path, cfg)
    # melt 1 ps + 2700 K at 1 K/ps + relax 0.5 ps = 1000 + 2,700,000 + 500 steps = s;
    # x2 safety / 60 = 90,050 min
    assert runtime["melt_quench"] == {90_050}
    # ramp 300 -> 1600 K at 5000 K/ps = 260 steps, equilibration 500, production 4000:
    # 4760 s x 2 / 60 = 158.7 -> 159 min
    assert runtime["production"] == {159}


def test_dry_run_uses_the_speed_of_finished_glasses(tmp_path, tiny_config):
    """Without engine.atom_steps_per_s, the glass a campaign already made sets the speed
    of the jobs still to run (here replica 2): 150 atoms x 17,700 steps in 17,700 s."""
    cfg = slow_quench_config(tiny_config, tmp_path / "r", replicas=2)
    glass = tmp_path / "r" / "tiny" / "x0.50_m2.00" / "rep01" / "glass" / "glass.json"
    write_glass(glass, 17_700.0, {"accelerator": "none", "mpi_ranks": 1, "threads": 1})
    record = json.loads(glass.read_text())
    record["counts"] = {"Na": 50, "Si": 25, "S": 75}
    glass.write_text(json.dumps(record))
    runtime = dry_run_runtimes(tmp_path, cfg)
    # 150 atom-steps/s measured: the same requests as when it is configured
    assert runtime["melt_quench"] == {90_050}
    assert runtime["production"] == {159}
