"""Rule params change only when the physics changes (docs/reruns.md).

Snakemake reruns a job when ``repr`` of one of its params differs from the recorded
one, so the unit tests compare ``repr``, not ``==`` (``3000 == 3000.0`` and dicts
compare equal in any key order, their reprs do not). The workflow tests run a
one-composition, one-temperature, one-replica cut of the tiny campaign once, then
check what dry runs want after cosmetic edits, physics edits and deleted tables.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT, SCHEMA, TINY_CONFIG

from glassflow.campaign.tables import config_hash
from glassflow.config.rule_params import (
    ENGINE_EXECUTION_KEYS,
    analysis_settings,
    canonical,
    engine_physics,
    execution_settings,
    melt_quench_protocol,
    physics_config,
    production_protocol,
    script_config,
)
from glassflow.config.schema import load_schema, validate_config

SCHEMA_DOC = load_schema(SCHEMA)


def rule_params(cfg: dict) -> dict[str, str]:
    """repr of every config-derived param, as Snakemake records it."""
    return {
        "engine": repr(engine_physics(cfg, SCHEMA_DOC)),
        "melt_quench": repr(melt_quench_protocol(cfg, SCHEMA_DOC)),
        "production": repr(production_protocol(cfg, SCHEMA_DOC)),
        "analysis": repr(analysis_settings(cfg, SCHEMA_DOC, ("dynamics", "structure", "softness"))),
        "physics_hash": config_hash(physics_config(cfg, SCHEMA_DOC)),
    }


def reversed_keys(value):
    """The same config with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def respelled(value, schema):
    """Every schema ``number`` re-spelled: 3000 -> 3000.0 and 1.0 -> 1."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: respelled(v, props.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items", {})
        return [respelled(v, items if isinstance(items, dict) else {}) for v in value]
    types = schema.get("type", ())
    types = {types} if isinstance(types, str) else set(types)
    if "number" in types and not isinstance(value, bool):
        if isinstance(value, int):
            return float(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
    return value


def cosmetic_variant(raw: dict, lmp_path: str) -> dict:
    """Defaults written out, keys reversed, numbers re-spelled, another launch setup."""
    full = validate_config(raw, SCHEMA)
    full["engine"]["command"] = [lmp_path]
    full["engine"]["threads"] = 2
    return reversed_keys(respelled(full, SCHEMA_DOC))


# Unit tests of the param functions -------------------------------------------------


def test_canonical_sorts_keys_and_types_numbers_by_schema():
    schema = {
        "properties": {
            "n": {"type": "integer"},
            "t": {"type": "number"},
            "w": {"type": "array", "items": {"type": "number"}},
            "r": {"type": ["number", "null"]},
            "flag": {"type": "boolean"},
        }
    }
    value = {"w": [2, 5.0], "t": 3000, "n": 60.0, "r": None, "flag": True}
    assert repr(canonical(value, schema)) == (
        "{'flag': True, 'n': 60, 'r': None, 't': 3000.0, 'w': [2.0, 5.0]}"
    )


def test_cosmetic_edits_give_identical_params(tiny_config, lmp_or_name):
    before = rule_params(validate_config(tiny_config, SCHEMA))
    edited = cosmetic_variant(tiny_config, lmp_or_name)
    assert list(edited) != list(validate_config(tiny_config, SCHEMA))  # really reordered
    assert edited["protocol"]["melt_T_K"] == 3000.0 and isinstance(
        edited["protocol"]["melt_T_K"], float
    )
    assert isinstance(edited["protocol"]["timestep_fs"], int)
    after = rule_params(validate_config(edited, SCHEMA))
    assert after == before


@pytest.mark.parametrize(
    ("section", "key", "value", "changed"),
    [
        ("protocol", "production_ps", 5, {"production", "physics_hash"}),
        ("protocol", "melt_ps", 2, {"melt_quench", "physics_hash"}),
        ("protocol", "timestep_fs", 0.5, {"melt_quench", "production", "physics_hash"}),
        ("engine", "cutoff_A", 6.5, {"engine", "physics_hash"}),
        ("engine", "kspace_style", "pppm", {"engine", "physics_hash"}),
        ("engine", "command", ["lmp_mpi"], set()),
        ("engine", "launcher", "mpiexec", set()),
        ("engine", "accelerator", "omp", set()),
        ("engine", "gpus", 4, set()),
        ("engine", "conda_env", "lammps-gpu", set()),
    ],
)
def test_each_key_changes_only_the_params_that_use_it(tiny_config, section, key, value, changed):
    before = rule_params(validate_config(tiny_config, SCHEMA))
    edited = copy.deepcopy(tiny_config)
    edited.setdefault(section, {})[key] = value
    after = rule_params(validate_config(edited, SCHEMA))
    assert {name for name in before if before[name] != after[name]} == changed


def test_unused_quench_keys_are_not_melt_quench_params(tiny_config):
    """rate mode reads only rate_K_ps; the three-stage keys do not rerun it."""
    cfg = validate_config(tiny_config, SCHEMA)
    edited = copy.deepcopy(tiny_config)
    edited["protocol"]["quench"]["slow_rate_K_ps"] = 1.0
    assert melt_quench_protocol(cfg, SCHEMA_DOC) == melt_quench_protocol(
        validate_config(edited, SCHEMA), SCHEMA_DOC
    )
    edited["protocol"]["quench"]["mode"] = "three_stage"
    edited["protocol"]["quench"].update(slow_from_K=1200, slow_to_K=400)
    three = melt_quench_protocol(validate_config(edited, SCHEMA), SCHEMA_DOC)
    assert three["quench"]["slow_rate_K_ps"] == 1.0 and "rate_K_ps" not in three["quench"]


def test_execution_settings_are_not_params_but_reach_scripts(tiny_config):
    raw = copy.deepcopy(tiny_config)
    raw["engine"].update(threads=3)
    raw["analysis"]["structure"]["workers"] = 4
    cfg = script_config(raw, ROOT / "workflow" / "scripts")  # fills the defaults
    physics = engine_physics(cfg, SCHEMA_DOC)
    assert set(physics) == {"cutoff_A", "kspace_accuracy", "kspace_style", "neighbor_skin_A"}
    assert not set(physics) & set(ENGINE_EXECUTION_KEYS)
    structure = analysis_settings(cfg, SCHEMA_DOC, ("structure",))["structure"]
    assert "workers" not in structure and structure["max_frames"] == 10
    execution = execution_settings(cfg)
    assert execution["engine"]["command"] == ["lmp"]  # schema default
    assert execution["engine"]["threads"] == 3
    assert execution["structure_workers"] == 4


@pytest.fixture
def lmp_or_name() -> str:
    """An absolute path of LAMMPS for the command edit (any path works without running)."""
    from conftest import lmp_executable

    return lmp_executable() or "/opt/lammps/bin/lmp"


# The workflow: dry runs after a real run ---------------------------------------------

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(workdir: Path, config: Path, *args: str, timeout: int = 600) -> str:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(
        [*SNAKEMAKE, "--configfile", str(config), "-d", str(workdir), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{out[-6000:]}")
    return out


def dry_run_jobs(workdir: Path, config: Path, *args: str) -> dict[str, int]:
    """Jobs per rule that a dry run wants ({} when nothing is to be done)."""
    return job_counts(snakemake(workdir, config, "-n", *args))


def job_counts(out: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run's output."""
    if "Nothing to be done" in out:
        return {}
    counts = {}
    for line in out.split("Job stats:")[-1].splitlines():
        m = re.match(r"^([a-z_]+)\s+(\d+)$", line.strip())
        if m:
            counts[m.group(1)] = int(m.group(2))
    assert counts, out[-3000:]
    return counts


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


ONE_RUN = {"m": [2.0], "temperatures_K": [2400], "replicas": 1}


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    """The tiny campaign cut to x0.50_m2.00, 2400 K, one replica, run once (~1 min)."""
    from conftest import require_lmp

    lmp = require_lmp()
    workdir = tmp_path_factory.mktemp("one_run")
    raw = yaml.safe_load(TINY_CONFIG.read_text())
    raw["compositions"]["grid"]["m"] = ONE_RUN["m"]
    raw["temperatures_K"] = ONE_RUN["temperatures_K"]
    raw["replicas"] = ONE_RUN["replicas"]
    config = write_config(workdir / "one.yaml", raw)
    snakemake(workdir, config, "--cores", "2", timeout=900)
    return workdir, raw, lmp


@pytest.mark.lammps
@pytest.mark.slow
def test_cosmetic_config_edits_rerun_nothing(one_run):
    workdir, raw, lmp = one_run
    edited = cosmetic_variant(raw, lmp)
    config = write_config(workdir / "cosmetic.yaml", edited)
    text = config.read_text()
    assert "melt_T_K: 3000.0" in text and "threads: 2" in text and lmp in text
    assert text.index("protocol:") > text.index("engine:")  # reversed order
    assert dry_run_jobs(workdir, config) == {}


@pytest.mark.lammps
@pytest.mark.slow
@pytest.mark.parametrize(
    ("section", "key", "value", "wanted", "not_wanted"),
    [
        ("protocol", "production_ps", 5, {"production", "analyse_runs"}, {"melt_quench"}),
        ("engine", "cutoff_A", 6.5, {"melt_quench", "production"}, {"build_cell"}),
        ("analysis", "dynamics", {"n_blocks": 3}, {"analyse_runs"}, {"production"}),
    ],
)
def test_physics_edits_rerun_their_rules(one_run, section, key, value, wanted, not_wanted):
    workdir, raw, _ = one_run
    edited = copy.deepcopy(raw)
    if isinstance(value, dict):
        edited[section][key].update(value)
    else:
        edited[section][key] = value
    jobs = dry_run_jobs(workdir, write_config(workdir / f"{key}.yaml", edited))
    assert wanted <= set(jobs), jobs
    assert not set(jobs) & not_wanted, jobs


@pytest.mark.lammps
@pytest.mark.slow
def test_run_json_records_the_engine_used(one_run):
    import json

    workdir, _, _ = one_run
    run = json.loads(
        (workdir / "results/tiny/x0.50_m2.00/T2400/rep01/production/run.json").read_text()
    )
    assert run["engine"]["command"] == ["lmp"] and run["engine"]["threads"] == 1
    assert run["engine"]["cutoff_A"] == 7.0 and run["engine"]["kspace_style"] == "ewald"
    exe = Path(run["lammps_command"][0])  # resolved: the executable actually run
    assert exe.is_absolute() and exe.name == "lmp" and run["lammps_command"][-1] == "-nocite"
    assert run["protocol"]["production_ps"] == 4.0


@pytest.mark.lammps
@pytest.mark.slow
def test_run_json_records_package_versions_and_reruns_nothing(one_run):
    """Versions are recorded in glass.json and run.json, read by the tables, never params."""
    import json

    from glassflow.md.provenance import package_versions

    workdir, _, _ = one_run
    results = workdir / "results/tiny"
    run = json.loads((results / "x0.50_m2.00/T2400/rep01/production/run.json").read_text())
    glass = json.loads((results / "x0.50_m2.00/rep01/glass/glass.json").read_text())
    assert run["versions"] == glass["versions"] == package_versions()
    assert run["lammps_version"] == glass["lammps_version"] != "unknown"
    runs = pd.read_parquet(results / "tables/runs.parquet")
    assert len(runs) == 1 and not any(c.startswith("versions") for c in runs.columns)
    assert dry_run_jobs(workdir, workdir / "one.yaml") == {}


@pytest.mark.lammps
@pytest.mark.slow
def test_forcerun_production_reruns_it_and_downstream(one_run):
    workdir, raw, _ = one_run
    jobs = dry_run_jobs(workdir, workdir / "one.yaml", "--forcerun", "production")
    assert jobs["production"] == 1 and jobs["analyse_runs"] == 1 and jobs["tables"] == 1
    assert "melt_quench" not in jobs


@pytest.mark.lammps
@pytest.mark.slow
def test_deleted_per_comp_T_tables_are_restored_by_a_plain_run(one_run):
    workdir, _, _ = one_run
    res = workdir / "results/tiny/x0.50_m2.00"
    deleted = [
        res / "T2400/tables/dynamics_fastslow.parquet",
        res / "tables/glass_structure_gr.parquet",
    ]
    for path in deleted:
        path.rename(path.with_name(path.name + ".away"))
    try:
        jobs = dry_run_jobs(workdir, workdir / "one.yaml")
    finally:
        for path in deleted:
            path.with_name(path.name + ".away").rename(path)
    assert jobs.get("analyse_runs") == 1 and jobs.get("analyse_glasses") == 1, jobs
    assert "production" not in jobs and "melt_quench" not in jobs


@pytest.mark.slow
def test_wildcards_accept_every_schema_value(tmp_path):
    """100 replicas, 100000 K and m = 200 give labels rep100, T100000, x0.50_m200.00."""
    raw = yaml.safe_load(TINY_CONFIG.read_text())
    raw["compositions"] = {"n_atoms": 600, "grid": {"x": [0.5], "m": [200]}}
    raw["temperatures_K"] = [100000]
    raw["replicas"] = 100
    config = write_config(tmp_path / "wide.yaml", raw)
    out = snakemake(tmp_path, config, "-n")
    assert "MissingInputException" not in out
    assert "results/tiny/x0.50_m200.00/T100000/rep100/production/run.json" in out
    counts = job_counts(out)
    assert counts["production"] == counts["melt_quench"] == counts["build_cell"] == 100
    assert counts["analyse_runs"] == counts["analyse_glasses"] == 1


def wildcard_constraints() -> dict[str, str]:
    """The global wildcard constraints as written in workflow/rules/common.smk."""
    text = (ROOT / "workflow/rules/common.smk").read_text()
    block = text.split("wildcard_constraints:", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r'^\s+(\w+)=r"([^"]+)",', block, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("x", "m"), [(0.0, 2), (0.5, 2.0), (0.999, 3.5), (0.1, 200), (0.3, 12345.6)]
)
def test_composition_labels_match_the_comp_wildcard(x, m):
    from glassflow.md.composition import composition_label

    assert re.fullmatch(wildcard_constraints()["comp"], composition_label(x, m))


@pytest.mark.parametrize(("replica", "T_K"), [(1, 1), (99, 2400), (100, 100000), (12345, 10**7)])
def test_replica_and_temperature_labels_match_their_wildcards(replica, T_K):
    from glassflow.config.grid import replica_label, temperature_label

    constraints = wildcard_constraints()
    assert re.fullmatch("rep" + constraints["rep"], replica_label(replica))
    assert re.fullmatch("T" + constraints["T"], temperature_label(T_K))
