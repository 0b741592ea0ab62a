"""The ``glassflow`` command line: status of a fake campaign, init, export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import metadata

import numpy as np
import pytest
import yaml
from conftest import ROOT, SCHEMA

from glassflow.campaign.status import (
    RunKey,
    campaign_status,
    discover_runs,
    input_settings,
    last_dump_step,
    production_steps_in_log,
)
from glassflow.cli import PRESETS, init_config, main
from glassflow.config.schema import load_schema, validate_config
from glassflow.io.trajectory import write_trajectory

HOUR = 3600.0

# A LAMMPS log as the production template writes it: ramp, equilibration, then the
# production marker, reset_timestep 0 and thermo rows (one interrupted by a warning).
LOG = """\
LAMMPS (22 Jul 2025 - Update 4)
GLASSFLOW_STAGE equilibration
   Step          Time           Temp          PotEng
       260   260            436.51164     -28259.305
      5760   5760           436.51164     -28259.305
Loop time of 0.6 on 1 procs for 500 steps with 150 atoms
print           "GLASSFLOW_STAGE production"
GLASSFLOW_STAGE production
reset_timestep  0
   Step          Time           Temp          PotEng
         0   0              1345.647      -27826.699
       100   100            1585.0488     -27715.893
WARNING: Temperature jumped (src/fix_nh.cpp:123)
      1200   1200           1642.9546     -27607.606
"""

IN_PRODUCTION = """\
timestep        1.0000
dump            traj all custom 10 dump.0.lammpstrj id type xu yu zu
restart         1000 restart.*.bin
run             4000 upto
"""


def test_production_steps_in_log_counts_only_production():
    assert production_steps_in_log(LOG) == 1200
    assert production_steps_in_log(LOG.split("GLASSFLOW_STAGE production")[0]) is None
    resumed = "GLASSFLOW_STAGE production\n Step Time Temp\n 3000 3000 1500.0\n 3100 3100 1501\n"
    assert production_steps_in_log(resumed) == 3100


def test_input_settings_and_dump_tail(tmp_path):
    assert input_settings(IN_PRODUCTION) == {
        "timestep_fs": 1.0,
        "production_steps": 4000,
        "dump_steps": 10,
    }
    dump = tmp_path / "dump.0.lammpstrj"
    frame = "ITEM: TIMESTEP\n{}\nITEM: NUMBER OF ATOMS\n1\nITEM: ATOMS id\n1\n"
    dump.write_text(frame.format(0) + frame.format(20) + "ITEM: TIMESTEP\n")
    assert last_dump_step(dump) == 20  # the half-written last record is ignored
    assert last_dump_step(tmp_path / "missing") is None


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def _fake_campaign(results):
    """results/camp: x0.50_m2.00 x {1600, 2000} K x rep01, rep02.

    done (T1600 rep01), running (T1600 rep02, restart at 1000, thermo at 1200),
    failed (T2000 rep01, error in its rule log), pending (T2000 rep02).
    """
    comp = results / "x0.50_m2.00"
    done = comp / "T1600/rep01/production"
    done.mkdir(parents=True)
    (done / "run.json").write_text(
        json.dumps(
            {
                "n_frames": 401,
                "wall_time_s": 20.0,
                "resumed_from_step": None,
                "protocol": {"dump_interval_fs": 10, "timestep_fs": 1.0, "production_ps": 4},
            }
        )
    )
    running = comp / "T1600/rep02/production"
    running.mkdir(parents=True)
    (running / "in.production.lmp").write_text(IN_PRODUCTION)
    (running / "log.lammps").write_text(LOG)
    (running / "restart.1000.bin").write_bytes(b"\0" * 64)
    (running / "production_state.json").write_text("{not json: another engineer's format")
    failed = comp / "T2000/rep01/production"
    failed.mkdir(parents=True)
    (failed / "in.production.lmp").write_text(IN_PRODUCTION)
    (failed / "log.lammps").write_text("LAMMPS (22 Jul 2025)\nGLASSFLOW_STAGE ramp\n")
    logs = results / "logs/production"
    logs.mkdir(parents=True)
    err_log = logs / "x0.50_m2.00_T2000_rep01.log"
    err_log.write_text("LAMMPS (22 Jul 2025)\nERROR: Lost atoms: original 150 current 149\n")
    (comp / "T2000/rep02").mkdir(parents=True)  # pending: a directory, nothing in it
    for p in (failed / "log.lammps", failed / "in.production.lmp", err_log):
        _age(p, 2 * HOUR)
    return results


def test_status_of_a_fake_campaign(tmp_path, capsys):
    results = _fake_campaign(tmp_path / "results/camp")
    st = campaign_status(results)
    assert st.counts == {"done": 1, "running": 1, "failed": 1, "stalled": 0, "pending": 1}
    by = {RunKey(r.comp, r.T_K, r.replica): r for r in st.runs}
    running = by[RunKey("x0.50_m2.00", 1600, 2)]
    assert running.ns_done == pytest.approx(1200 * 1.0 / 1e6)  # thermo step beats restart
    assert running.ns_target == pytest.approx(4000 * 1.0 / 1e6)
    assert by[RunKey("x0.50_m2.00", 1600, 1)].ns_done == pytest.approx(400 * 10 / 1e6)
    failed = by[RunKey("x0.50_m2.00", 2000, 1)]
    assert "Lost atoms" in failed.detail
    assert st.wall_s_per_ns == pytest.approx(20.0 / 0.004)
    remaining = (0.004 - 0.0012) + 0.004 + 0.004
    assert st.ns_remaining == pytest.approx(remaining)
    assert st.jobs == 1  # one run is running
    assert st.eta_s == pytest.approx(remaining * 5000.0)
    # the same through the command line, as JSON
    assert main(["status", str(results), "--json", "--jobs", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"] == st.counts
    assert doc["eta_s"] == pytest.approx(remaining * 5000.0 / 2)
    assert doc["ns_done"] == pytest.approx(0.004 + 0.0012)


def test_status_idle_run_is_stalled_and_table_lists_it(tmp_path, capsys):
    results = _fake_campaign(tmp_path / "results/camp")
    running = results / "x0.50_m2.00/T1600/rep02/production"
    for p in running.iterdir():
        _age(p, HOUR)
    st = campaign_status(results, active_minutes=30)
    assert st.counts["stalled"] == 1 and st.counts["running"] == 0
    assert main(["status", str(results.parent)]) == 0  # results/ with one campaign inside
    text = capsys.readouterr().out
    assert "done 1  running 0  failed 1  stalled 1  pending 1" in text
    assert "x0.50_m2.00_T1600_rep02  stalled" in text
    assert "x0.50_m2.00_T2000_rep01  failed" in text


def test_status_with_configfile_counts_runs_not_on_disk(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _fake_campaign(tmp_path / "results/camp")
    cfg = yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())
    cfg.update(campaign="camp", temperatures_K=[1600, 2000])  # 2 comps x 2 T x 2 reps
    (tmp_path / "camp.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["status", "--configfile", "camp.yaml", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_runs"] == 8
    assert doc["counts"] == {"done": 1, "running": 1, "failed": 1, "stalled": 0, "pending": 5}
    assert len(discover_runs(tmp_path / "results/camp")) == 4  # without the config


def test_status_with_configfile_reads_a_results_dir_it_cannot_write(tmp_path, monkeypatch, capsys):
    """`status` only reads: a read-only results_dir (a finished campaign on a read-only
    mount, another user's results) must not stop it. Root ignores permission bits, so the
    write probe of the config check is made to report a read-only file system."""
    from glassflow.config import checks
    from glassflow.config.grid import build_campaign
    from glassflow.config.schema import ConfigError

    monkeypatch.chdir(tmp_path)
    _fake_campaign(tmp_path / "results/camp")
    cfg = yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())
    cfg.update(campaign="camp", temperatures_K=[1600, 2000])
    (tmp_path / "camp.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setattr(checks, "_write_problem", lambda directory: "Read-only file system")
    with pytest.raises(ConfigError, match="not writable"):  # the probe is the one in use
        build_campaign(cfg, SCHEMA, ROOT)
    assert main(["status", "--configfile", "camp.yaml", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_runs"] == 8
    assert doc["counts"] == {"done": 1, "running": 1, "failed": 1, "stalled": 0, "pending": 5}


def test_status_bad_directory_is_a_clear_error(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    assert "holds no campaign" in capsys.readouterr().err


def _run_cli(argv):
    proc = subprocess.run(
        [sys.executable, "-m", "glassflow.cli", *argv], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# init -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_init_presets_validate_and_say_what_the_preset_says(preset):
    text = init_config(preset, SCHEMA)
    written = validate_config(yaml.safe_load(text), SCHEMA)
    preset_cfg = yaml.safe_load((ROOT / PRESETS[preset]).read_text())
    assert written == validate_config(preset_cfg, SCHEMA)
    assert init_config(preset, SCHEMA) == text  # deterministic
    lines = text.splitlines()
    schema = load_schema(SCHEMA)
    for key, sub in schema["properties"].items():
        at = next(i for i, ln in enumerate(lines) if ln.startswith(f"{key}:"))
        first_word = sub["description"].split()[0]
        start = at
        while start > 0 and lines[start - 1].startswith("# "):
            start -= 1
        comment = "\n".join(lines[start:at])
        assert at > start and first_word in comment, key


def test_init_writes_byte_stable_files_and_refuses_to_overwrite(tmp_path, capsys):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert main(["init", str(a), "--preset", "tiny"]) == 0
    assert main(["init", str(b), "--preset", "tiny"]) == 0
    assert a.read_bytes() == b.read_bytes()
    a.write_text("mine\n")
    assert main(["init", str(a), "--preset", "tiny"]) == 2
    assert "exists; use --force" in capsys.readouterr().err
    assert a.read_text() == "mine\n"
    assert main(["init", str(a), "--preset", "tiny", "--force"]) == 0
    assert a.read_bytes() == b.read_bytes()


# export and the console script ------------------------------------------------------------
def test_export_command(tmp_path, monkeypatch, capsys):
    from ase.io import read

    run = tmp_path / "results/camp/x0.50_m2.00/T1600/rep01/production"
    run.mkdir(parents=True)
    pos = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3) - 7.0
    write_trajectory(run / "trajectory.gtrj", ("Na", "S"), [0, 1], pos, [6.0] * 3, np.arange(5))
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(run), "--format", "extxyz", "--stride", "2"]) == 0
    out = tmp_path / "camp_x0.50_m2.00_T1600_rep01.extxyz"
    assert "3 frames" in capsys.readouterr().out
    frames = read(out, index=":")
    np.testing.assert_allclose([f.get_positions() for f in frames], pos[::2])
    assert main(["export", str(run), "--format", "extxyz", "--stride", "2"]) == 2
    assert "use --force" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nope"), "--format", "dcd"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_console_script_is_declared():
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts.get("glassflow") == "glassflow.cli:main"
    assert "export" in _run_cli(["--help"])


def test_citation_and_license_match_pyproject():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == project["version"]
    assert cff["license"] == project["license"]["text"] == "MIT"
    assert len(cff["references"]) == 4
    assert all(r["title"] and r["authors"] for r in cff["references"])
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 the glassflow developers\n")
