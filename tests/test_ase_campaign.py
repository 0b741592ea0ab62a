"""The tiny campaign on the ASE engine (CHGNet): every rule of the default target from a
clean directory, the same tables and figures as the LAMMPS engine, nothing left to do
after it; and a bad ``engine.ase`` block refused before any job."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import yaml
from conftest import ROOT, require_chgnet
from test_workflow import job_counts, snakemake

TINY_ASE = ROOT / "tests" / "data" / "tiny_ase.yaml"


@pytest.mark.slow
def test_tiny_ase_campaign_end_to_end(tmp_path):
    require_chgnet()
    t0 = time.perf_counter()
    snakemake("--cores", "2", "--configfile", str(TINY_ASE), "-d", str(tmp_path), timeout=1200)
    print(f"tiny ASE campaign end to end: {time.perf_counter() - t0:.0f} s")
    res = tmp_path / "results" / "tiny_ase"
    preflight = json.loads((res / "preflight" / "ase.json").read_text())
    assert preflight["engine"] == "ase" and len(preflight["weights_sha256"]) == 64
    runs = pd.read_parquet(res / "tables/runs.parquet")
    assert len(runs) == 2 and runs["lammps_version"].str.startswith("ase ").all()
    for T in (1600, 2400):
        run = json.loads((res / f"x0.50_m2.00/T{T}/rep01/production/run.json").read_text())
        assert run["md_engine"]["kind"] == "ase" and "chgnet 0.4.2" in run["md_engine"]["version"]
        assert run["n_frames"] == 41  # 0.4 ps every 10 fs, step 0 included
    glass = json.loads((res / "x0.50_m2.00/rep01/glass/glass.json").read_text())
    assert glass["md_engine"]["kind"] == "ase"
    thermo = pd.read_parquet(res / "x0.50_m2.00/rep01/glass/thermo.parquet")
    assert list(thermo["stage"].unique()) == ["melt", "quench", "relax"]
    transport = pd.read_parquet(res / "tables/transport.parquet")
    assert set(transport["species"]) == {"Na", "Si", "S"}
    for name in ("structure", "topology", "arrhenius"):
        assert len(pd.read_parquet(res / f"tables/{name}.parquet")) > 0, name
    assert (res / "figures/arrhenius_D_Na.png").stat().st_size > 10_000
    assert (res / "figures/constraint_diagnostic.png").is_file()
    again = snakemake("-n", "--configfile", str(TINY_ASE), "-d", str(tmp_path))
    assert job_counts(again.stdout + again.stderr) == {}


def test_bad_ase_settings_fail_before_any_job(tmp_path):
    raw = yaml.safe_load(TINY_ASE.read_text())
    raw["engine"]["ase"]["model"] = "0.9.9"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    proc = snakemake("-n", "--configfile", str(bad), "-d", str(tmp_path), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "engine.ase.model" in out and "0.3.0" in out
    assert not (tmp_path / "results").exists()
