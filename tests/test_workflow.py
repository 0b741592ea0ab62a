"""The workflow as a user drives it: dry runs, lint, the tiny campaign end to end,
and a production job killed half way leaving nothing that looks complete."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, TINY_CONFIG

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args, cwd=ROOT, timeout=600, check=True):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(
        [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


def job_counts(out: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run."""
    counts = {}
    for line in out.splitlines():
        m = re.match(r"^([a-z_]+)\s+(\d+)$", line.strip())
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


def test_dry_run_prl_campaign_lists_every_job(tmp_path):
    cfg = ROOT / "config/campaigns/micoulaut2025_ns9_flexibility.yaml"
    t0 = time.perf_counter()
    proc = snakemake("-n", "--configfile", str(cfg), "-d", str(tmp_path))
    elapsed = time.perf_counter() - t0
    counts = job_counts(proc.stdout + proc.stderr)
    n_comp, n_T, n_rep = 13 + 6, 3, 3
    assert counts["build_cell"] == counts["melt_quench"] == n_comp * n_rep
    assert counts["production"] == n_comp * n_T * n_rep
    assert counts["analyse_runs"] == n_comp * n_T  # all replicas of a (comp, T) in one job
    assert counts["analyse_glasses"] == n_comp
    assert counts["dynamics_composition"] == n_comp
    assert counts["tables"] == counts["arrhenius"] == 1
    print(f"dry run of the PRL campaign: {sum(counts.values())} jobs in {elapsed:.1f} s")
    assert elapsed < 20


def test_bad_config_fails_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY_CONFIG.read_text().replace("x: [0.5]", "x: [1.5]"))
    proc = snakemake("-n", "--configfile", str(bad), "-d", str(tmp_path), check=False)
    assert proc.returncode != 0
    assert "compositions.grid.x" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def test_lint_is_clean():
    proc = snakemake("--lint", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out, out


@pytest.mark.lammps
@pytest.mark.slow
def test_tiny_campaign_end_to_end(tmp_path, lmp):
    t0 = time.perf_counter()
    snakemake("--cores", "2", "--configfile", str(TINY_CONFIG), "-d", str(tmp_path), timeout=900)
    elapsed = time.perf_counter() - t0
    print(f"tiny campaign end to end: {elapsed:.0f} s")
    res = tmp_path / "results" / "tiny"
    runs = pd.read_parquet(res / "tables/runs.parquet")
    assert len(runs) == 2 * 2 * 2
    assert set(runs.columns) >= {
        "campaign",
        "x",
        "m",
        "T_K",
        "replica",
        "x_achieved",
        "m_achieved",
        "net_charge_e",
        "seed",
        "lammps_version",
        "config_hash",
        "git_commit",
    }
    assert runs["seed"].nunique() == 4  # one per (composition, replica)
    transport = pd.read_parquet(res / "tables/transport.parquet")
    assert set(transport["species"]) == {"Na", "Si", "S"}
    assert len(transport) == 8 * 3
    for name in ("structure", "topology", "arrhenius", "softness"):
        assert len(pd.read_parquet(res / f"tables/{name}.parquet")) > 0, name
    assert len(pd.read_parquet(res / "tables/missing.parquet")) == 0
    figures = sorted(p.name for p in (res / "figures").glob("*.png"))
    assert "conductivity_map_T1600.png" in figures and "rigidity_threshold_x0.50.png" in figures
    assert "arrhenius_D_Na.png" in figures and "arrhenius_sigmaT.png" in figures
    # every rule ran: each has a log
    logged = {p.name for p in (res / "logs").iterdir()}
    for rule in (
        "build_cell",
        "melt_quench",
        "production",
        "analyse_runs",
        "analyse_glasses",
        "dynamics_composition",
        "structure_figures",
        "figures",
    ):
        assert rule in logged, rule
    # nothing left to do, and a rerun reproduces the tables (deterministic seeds)
    proc = snakemake("-n", "--configfile", str(TINY_CONFIG), "-d", str(tmp_path))
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert not list(res.rglob("*.part")) and not list(res.rglob("restart.*.bin"))
    # the report builds
    snakemake(
        "--configfile",
        str(TINY_CONFIG),
        "-d",
        str(tmp_path),
        "--report",
        str(tmp_path / "report.html"),
    )
    assert (tmp_path / "report.html").stat().st_size > 10_000


@pytest.mark.lammps
@pytest.mark.slow
def test_killed_production_job_leaves_nothing_complete(tmp_path, lmp):
    cfg = tmp_path / "long.yaml"
    cfg.write_text(TINY_CONFIG.read_text().replace("production_ps: 4", "production_ps: 40"))
    target = "results/tiny/x0.50_m2.00/T1600/rep01/production/run.json"
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.Popen(
        [
            *SNAKEMAKE,
            "-s",
            str(ROOT / "Snakefile"),
            "--cores",
            "1",
            "--configfile",
            str(cfg),
            "-d",
            str(tmp_path),
            target,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    run_dir = tmp_path / "results/tiny/x0.50_m2.00/T1600/rep01/production"
    deadline = time.time() + 300
    while time.time() < deadline and not list(run_dir.glob("restart.*.bin")):
        time.sleep(0.1)
    assert list(run_dir.glob("restart.*.bin")), "production never reached its first restart file"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "trajectory.gtrj").exists()
    assert not (run_dir / "run.json").exists()
    # a SIGKILL leaves Snakemake's lock behind, as after a power loss: unlock, as a user would
    snakemake("--unlock", "--configfile", str(cfg), "-d", str(tmp_path))
    dry = snakemake("-n", "--configfile", str(cfg), "-d", str(tmp_path), target)
    assert "production" in job_counts(dry.stdout + dry.stderr)
    # rerunning resumes from the restart file and completes
    snakemake("--cores", "1", "--configfile", str(cfg), "-d", str(tmp_path), target, timeout=600)
    import json

    info = json.loads((run_dir / "run.json").read_text())
    assert info["n_lammps_runs"] == 2 and info["resumed_from_step"] > 0
    assert info["n_frames"] == 40 * 100 + 1
