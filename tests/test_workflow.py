"""The workflow as a user drives it: dry runs, lint, the tiny campaign end to end,
and a production job killed half way leaving nothing that looks complete."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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


@pytest.mark.slow
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
    assert counts["tables"] == counts["arrhenius"] == counts["constraint_diagnostic"] == 1
    # thermo traces: one job per composition (all replicas and T), not one per run
    assert counts["thermo_glass"] == counts["thermo_production"] == n_comp
    assert counts["figure_conductivity_map"] == counts["figure_diffusivity_map"] == n_T
    # against m: one figure per series (NS9 and NS, each at fixed N_Na), not one per x
    assert counts["figure_prl_transport"] == counts["figure_prl_activation"] == 2
    assert counts["figure_rigidity_threshold"] == 2
    assert counts["report_tables"] == 9
    assert "compare_campaigns" not in counts  # only with compare_with
    # its wall time is measured by benchmarks/dag_scale.py, not asserted here
    print(f"dry run of the PRL campaign: {sum(counts.values())} jobs in {elapsed:.1f} s")


def test_bad_config_fails_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY_CONFIG.read_text().replace("x: [0.5]", "x: [1.5]"))
    proc = snakemake("-n", "--configfile", str(bad), "-d", str(tmp_path), check=False)
    assert proc.returncode != 0
    assert "compositions.grid.x" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def finished_campaign(
    root: Path, name: str, transport: pd.DataFrame | None = None, runs: pd.DataFrame | None = None
) -> Path:
    """results/<name>/tables of a finished campaign: with ``transport`` and ``runs``, those of
    a copy of that campaign under the background policy, D and sigma doubled; else empty
    files (enough for a dry run)."""
    tables = root / "results" / name / "tables"
    tables.mkdir(parents=True)
    if transport is None or runs is None:
        for t in ("transport", "arrhenius", "runs"):
            (tables / f"{t}.parquet").write_bytes(b"")
        return tables.parent
    from glassflow.campaign.arrhenius import arrhenius_table, flag_few_temperatures

    other = transport.assign(campaign=name)
    for col in other.columns:
        if col.endswith(("_cm2_s", "_S_cm")):  # every D and sigma column, pooled ones too
            other[col] = other[col] * 2.0
    other.to_parquet(tables / "transport.parquet", index=False)
    runs.assign(campaign=name, neutrality="background").to_parquet(tables / "runs.parquet")
    flag_few_temperatures(arrhenius_table(other)).to_parquet(tables / "arrhenius.parquet")
    return tables.parent


def compare_config(tmp_path: Path, *dirs: str) -> Path:
    cfg = tmp_path / "compare.yaml"
    cfg.write_text(TINY_CONFIG.read_text() + f"compare_with: {list(dirs)}\n")
    return cfg


@pytest.mark.slow
def test_compare_with_dry_run(tmp_path):
    """compare_with: a campaign not run yet fails before any job, naming the key; a
    finished one adds the comparison jobs (that only they run: the end-to-end test)."""
    proc = snakemake(
        "-n", "--configfile", str(compare_config(tmp_path, "results/other")), "-d", str(tmp_path),
        check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'compare_with'[0]: 'results/other' has no tables/transport.parquet" in out
    assert "run that campaign first" in out
    assert not (tmp_path / "results").exists()
    finished_campaign(tmp_path, "other")
    cfg = compare_config(tmp_path, "results/other")
    proc = snakemake("-n", "--configfile", str(cfg), "-d", str(tmp_path))
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["compare_campaigns"] == 1
    assert counts["figure_compare_arrhenius"] == 4
    assert counts["report_tables"] == 9 + 2  # the campaign's tables and the comparison's
    assert counts["production"] == 8  # the campaign itself is unchanged


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
    figures = {p.name: p.stat().st_size for p in (res / "figures").glob("*.p[dn][fg]")}
    for name in (
        "arrhenius_D_Na", "arrhenius_sigmaT", "rigidity_threshold_x0.50",
        "conductivity_map_T1600", "conductivity_map_T2400", "diffusivity_map_T1600",
        "diffusivity_map_T2400", "prl_transport_x0.50", "prl_activation_x0.50",
        "constraint_diagnostic",
    ):  # fmt: skip
        assert figures.get(f"{name}.png", 0) > 20_000 and figures.get(f"{name}.pdf", 0) > 5_000
    for comp in ("x0.50_m2.00", "x0.50_m3.00"):
        for name in ("glass", "quench_energy", "production"):
            assert (res / comp / "thermo" / f"{name}.png").stat().st_size > 20_000
    # two temperatures only: every Arrhenius fit is flagged "few temperatures"
    arrhenius = pd.read_parquet(res / "tables/arrhenius.parquet")
    fitted = arrhenius["E_A_eV"].notna()
    assert fitted.any() and arrhenius.loc[fitted, "few_temperatures"].all()
    assert not arrhenius.loc[~fitted, "few_temperatures"].any()
    # constraint diagnostic: one gap row per composition (quenched glasses), terms add up
    gap = pd.read_parquet(res / "tables/constraint_gap.parquet")
    assert sorted(zip(gap["x"], gap["m"], strict=True)) == [(0.5, 2.0), (0.5, 3.0)]
    assert set(gap["stage"]) == {"glass"}
    assert gap["gap"].to_numpy() == pytest.approx(gap["gap_from_terms"].to_numpy(), abs=1e-9)
    terms = pd.read_parquet(res / "tables/constraint_diagnostic.parquet")
    assert terms.groupby("m").size().tolist() == [13, 13]  # 12 terms + composition
    # every report table as HTML (a page with its row count) and a full CSV
    for name in (
        "runs", "transport", "arrhenius", "structure", "topology", "constraint_diagnostic",
        "constraint_gap", "softness", "missing",
    ):  # fmt: skip
        df = pd.read_parquet(res / f"tables/{name}.parquet")
        page = (res / f"tables/{name}.html").read_text()
        assert f"{len(df)} rows, {df.shape[1]} columns." in page, name
        assert len(pd.read_csv(res / f"tables/{name}.csv")) == len(df), name
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
    # the same campaign under the other neutrality policy (its tables faked from this one,
    # D and sigma doubled): the comparison runs alone and finds log10 2 everywhere
    finished_campaign(tmp_path, "tiny_background", transport, runs)
    cfg = compare_config(tmp_path, "results/tiny_background")
    proc = snakemake("--cores", "2", "--configfile", str(cfg), "-d", str(tmp_path))
    ran = job_counts(proc.stdout + proc.stderr)
    assert set(ran) - {"all", "total"} == {
        "compare_campaigns",
        "figure_compare_arrhenius",
        "report_tables",
    }
    compared = pd.read_parquet(res / "tables/comparison_transport.parquet")
    other = compared[compared["campaign"] == "tiny_background"]
    assert len(other) > 0 and set(other["campaign_label"]) == {"tiny_background (background)"}
    assert other["delta_log10"].to_numpy() == pytest.approx(np.log10(2.0))
    for q in ("D_Na", "D_Si", "D_S", "sigmaT"):
        assert (res / f"figures/compare_arrhenius_{q}.png").stat().st_size > 20_000
    # the report builds, with the front page, every caption family and the comparison
    snakemake("--configfile", str(cfg), "-d", str(tmp_path), "--report", str(tmp_path / "r.html"))
    report = (tmp_path / "r.html").read_text()
    for text in (
        "What the campaign computes",  # workflow.rst, the front page
        "Arrhenius plot of",
        "Transport against the flexibility index",
        "over the composition plane",
        "The PRL test at x",
        "Activation energies against m",
        "isostatic condition",  # constraint diagnostic
        "Thermodynamic traces",
        "Potential energy against temperature",
        "Campaign table <strong>constraint_gap",
        "Campaign table <strong>comparison_transport",
        "this campaign beside the campaigns",
    ):
        assert text in report, text


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
