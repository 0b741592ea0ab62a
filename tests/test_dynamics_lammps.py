"""End-to-end check against LAMMPS: a small hot Na2SiS3 liquid (Sorensen potential).

The dump is converted with the workflow's ``dump_to_trajectory``. (a) the single-origin MSD
from the stored float32 frames equals LAMMPS ``compute msd``; (b) Green-Kubo (from the
converted velocities) and Einstein D_Na agree within 3 combined standard errors.
"""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest
from conftest import require_lmp

from glassflow.analysis.dynamics.correlations import DynamicsSettings, msd_single_origin
from glassflow.analysis.dynamics.tables import analyse_run
from glassflow.io.trajectory import open_trajectory
from glassflow.md.lammps_io import dump_to_trajectory

pytestmark = [pytest.mark.lammps, pytest.mark.slow]

DUMP_EVERY = 10  # steps (fs)
N_PROD = 30000  # steps: 30 ps of production

INPUT = f"""
units real
atom_style charge
boundary p p p
region box block 0 15.2 0 15.2 0 15.2
create_box 3 box
mass 1 22.98977
mass 2 28.0855
mass 3 32.06
create_atoms 1 random 50 1111 NULL overlap 1.6 maxtry 200
create_atoms 2 random 25 2222 NULL overlap 1.6 maxtry 200
create_atoms 3 random 75 3333 NULL overlap 1.6 maxtry 200
set type 1 charge 0.6
set type 2 charge 2.4
set type 3 charge -1.2
group na type 1
pair_style buck/coul/long 7.5
pair_coeff 1 1 175918407.400 0.080 0.0
pair_coeff 1 2 137188868.400 0.076 0.0
pair_coeff 1 3 7051023.133 0.180 0.0
pair_coeff 2 2 52119995.520 0.072 0.0
pair_coeff 2 3 2533446.376 0.178 0.0
pair_coeff 3 3 482620.301 0.284 3317.512
kspace_style pppm 1.0e-4
neighbor 2.0 bin
minimize 1.0e-4 1.0e-6 200 2000
reset_timestep 0
timestep 1.0
velocity all create 2500.0 4242 dist gaussian
fix nvt all nvt temp 2500.0 2500.0 100.0
thermo 1000
run 3000
reset_timestep 0
compute msdna na msd
fix msdout all ave/time {DUMP_EVERY} 1 {DUMP_EVERY} c_msdna[4] file msd_na.txt format %20.12g
dump d all custom {DUMP_EVERY} traj.dump id type xu yu zu vx vy vz
dump_modify d sort id format float %20.12g
run {N_PROD}
"""


@pytest.fixture(scope="module")
def lammps_run(tmp_path_factory):
    lmp = require_lmp()
    work = tmp_path_factory.mktemp("lmp")
    (work / "in.test.lmp").write_text(INPUT)
    t0 = time.perf_counter()
    res = subprocess.run(
        [lmp, "-in", "in.test.lmp", "-log", "log.lammps", "-screen", "none"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, (work / "log.lammps").read_text()[-3000:]
    print(f"LAMMPS took {time.perf_counter() - t0:.1f} s")
    # the workflow's own conversion (velocities Å/fs -> Å/ps, times fs -> ps): a wrong
    # factor there moves the Green-Kubo D away from the Einstein D
    dump_to_trajectory(
        work / "traj.dump",
        work / "trajectory.gtrj",
        ("Na", "Si", "S"),
        [0.6, 2.4, -1.2],
        [22.98977, 28.0855, 32.06],
        1.0,
    )
    path = work / "trajectory.gtrj"
    msd_lmp = np.loadtxt(work / "msd_na.txt", comments="#")
    return open_trajectory(path, verify=True), msd_lmp


def test_single_origin_msd_matches_lammps(lammps_run):
    traj, msd_lmp = lammps_run
    ours = msd_single_origin(traj.positions(atoms=traj.indices_of("Na")))
    steps = msd_lmp[:, 0].astype(int)
    assert np.array_equal(steps, traj.steps[: steps.size])
    ref = msd_lmp[:, 1]
    # float32 storage of ~15 Å coordinates: ~1e-6 relative, i.e. |d MSD| ~ 4 |dr| 1e-6 * 15
    tol = 1e-5 + 1e-5 * ref
    assert np.all(np.abs(ours[: ref.size] - ref) <= tol), np.max(np.abs(ours[: ref.size] - ref))
    assert ref[-1] > 10.0  # the hot liquid does move


def test_green_kubo_agrees_with_einstein(lammps_run):
    traj, _ = lammps_run
    meta = {"campaign": "lmp", "x": 0.5, "m": 2.0, "T_K": 2500.0, "replica": 1}
    s = DynamicsSettings(
        min_fit_time_ps=0.5,
        n_blocks=5,
        gk_window_ps=(1.0, 2.0),
        gk_correlation_ps=2.0,
        fast_slow_lag_ps=10.0,
    )
    out = analyse_run(traj, meta, s)
    row = out["summary"].set_index("species").loc["Na"]
    print(
        row[
            [
                "D_cm2_s",
                "D_err_cm2_s",
                "D_gk_cm2_s",
                "D_gk_err_cm2_s",
                "fit_t_min_ps",
                "fit_t_max_ps",
                "haven_ratio",
            ]
        ].to_dict()
    )
    assert bool(row["diffusive"]), row["reason"]
    d, de = float(row["D_cm2_s"]), float(row["D_err_cm2_s"])
    g, ge = float(row["D_gk_cm2_s"]), float(row["D_gk_err_cm2_s"])
    assert abs(d - g) < 3.0 * np.hypot(de, ge)
    assert 1e-6 < d < 1e-3  # a liquid-like Na diffusivity, cm^2/s
