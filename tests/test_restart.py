"""A production run killed half way resumes from its newest restart file.

The resumed trajectory must hold exactly the configured frames (no duplicate, no
missing time stamp), like an uninterrupted run, with thermodynamic averages equal
within statistical error.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from glassflow.cell import build_random_cell, write_lammps_data
from glassflow.config import build_campaign
from glassflow.lammps import Engine, force_field_context
from glassflow.lammps_io import parse_thermo_logs
from glassflow.protocol import expected_frames, production_logs, run_melt_quench, run_production
from glassflow.trajectory import open_trajectory

pytestmark = [pytest.mark.lammps, pytest.mark.slow]

DRIVER = """
import json, sys
from glassflow.lammps import Engine
from glassflow.protocol import run_production
a = json.loads(sys.argv[1])
run_production(a["workdir"], a["start"], a["context"], a["protocol"], Engine(), a["T_K"],
               a["log"], a["out"])
"""


@pytest.fixture(scope="module")
def glass(tmp_path_factory, lmp_module):
    import yaml
    from conftest import ROOT, SCHEMA, TINY_CONFIG

    camp = build_campaign(yaml.safe_load(TINY_CONFIG.read_text()), SCHEMA, ROOT)
    cr = camp.compositions["x0.50_m2.00"]
    cfg = camp.config
    ctx = force_field_context(
        camp.potential, cr.composition.species, cr.charges_used, cfg["engine"], cfg["protocol"]
    )
    ctx.update(label=cr.label, replica=1, seed=11)
    d = tmp_path_factory.mktemp("glass")
    atoms = build_random_cell(
        cr.composition, cr.charges_used, camp.potential.masses, cr.box_A, 1.5, 5
    )
    write_lammps_data(atoms, d / "cell.data", cr.composition.species)
    run_melt_quench(d, ctx, cfg["protocol"], Engine(), d / "stdout.log")
    protocol = dict(
        cfg["protocol"],
        equilibration_ps=0.2,
        production_ps=8.0,
        dump_interval_fs=50,
        restart_interval_fs=1000,
        dump_velocities=False,
    )
    return d / "glass.data", ctx, protocol


@pytest.fixture(scope="module")
def lmp_module():
    from conftest import lmp_executable

    if lmp_executable() is None:
        pytest.skip("LAMMPS executable `lmp` not found")


def _production(workdir: Path, glass):
    start, ctx, protocol = glass
    workdir.mkdir(parents=True, exist_ok=True)
    return dict(
        workdir=str(workdir),
        start=str(start),
        context=ctx,
        protocol=protocol,
        T_K=2000.0,
        log=str(workdir / "stdout.log"),
        out=str(workdir / "trajectory.gtrj"),
    )


def test_killed_run_resumes_with_exact_frames(glass, tmp_path):
    args = _production(tmp_path / "killed", glass)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps(args)], env=env, start_new_session=True
    )
    workdir = Path(args["workdir"])
    deadline = time.time() + 120
    while time.time() < deadline and not list(workdir.glob("restart.3000.bin")):
        time.sleep(0.05)
        assert proc.poll() is None, "production finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # like a wall-time kill: no clean-up at all
    proc.wait()
    assert not Path(args["out"]).exists(), "a killed run must not leave a trajectory"
    # write a corrupt "newest" restart file: resuming must fall back to a valid one
    steps = sorted(int(p.name.split(".")[1]) for p in workdir.glob("restart.*.bin"))
    bogus = workdir / f"restart.{steps[-1] + 1000}.bin"
    bogus.write_bytes(b"\0" * 100)

    info = run_production(
        workdir,
        args["start"],
        args["context"],
        args["protocol"],
        Engine(),
        2000.0,
        args["log"],
        args["out"],
    )
    assert info["resumed_from_step"] in steps
    assert info["n_segments"] == 2
    resumed = open_trajectory(args["out"], verify=True)

    ref_args = _production(tmp_path / "reference", glass)
    run_production(
        Path(ref_args["workdir"]),
        ref_args["start"],
        ref_args["context"],
        ref_args["protocol"],
        Engine(),
        2000.0,
        ref_args["log"],
        ref_args["out"],
    )
    ref = open_trajectory(ref_args["out"], verify=True)

    n = expected_frames(args["protocol"])
    assert resumed.n_frames == ref.n_frames == n == 161
    assert np.array_equal(resumed.steps, ref.steps)
    assert np.array_equal(resumed.steps, np.arange(n) * 50)
    # frames before the restart point are the same run
    k = info["resumed_from_step"] // 50
    assert np.array_equal(resumed.positions(0, k), ref.positions(0, k))
    # no leftovers that look like outputs or checkpoints
    assert not list(workdir.glob("restart.*.bin")) and not list(workdir.glob("dump.*"))

    def stats(wd):
        th = parse_thermo_logs(production_logs(wd))
        prod = th[th.stage == "production"]
        assert prod["step"].is_unique and prod["step"].is_monotonic_increasing
        return prod

    a, b = stats(workdir), stats(Path(ref_args["workdir"]))
    assert len(a) == len(b) == 8000 // glass[1]["thermo_steps"] + 1
    for col in ("temp_K", "pe_kcal_mol"):
        # standard error of each mean from 8 block means (1 ps blocks, decorrelated)
        def sem(v, col=col):
            means = [blk.mean() for blk in np.array_split(v[col].to_numpy(), 8)]
            return np.std(means, ddof=1) / np.sqrt(len(means))

        err = np.hypot(sem(a), sem(b))
        diff = abs(a[col].mean() - b[col].mean())
        assert diff < 4 * err + 1e-9, (col, diff, err)
