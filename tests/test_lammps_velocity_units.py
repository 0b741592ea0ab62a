"""Velocity units of a real LAMMPS dump after ``dump_to_trajectory`` (Å/fs -> Å/ps).

A tiny Na2SiS3 melt (Sørensen 2023 potential, ``units real`` as in the workflow's
templates) is run with velocity Verlet (``fix nve``) and dumped every step in the format of
the production template. After conversion to ``.gtrj``:

(a) the stored velocities equal the central differences of the stored unwrapped positions.
    For velocity Verlet the identity ``x(t + dt) - x(t - dt) = 2 dt v(t)`` is exact (the
    ``dt^2 a(t) / 2`` terms cancel), so the only error left is the rounding of positions
    (``%.7g`` in the dump, float32 in the file) divided by ``2 dt``;
(b) equipartition: per frame, the mean kinetic energy per atom ``<m v^2 / 2>`` equals
    ``(3/2) (1 - 1/N) k_B T`` with T the temperature LAMMPS prints (``velocity create``
    removes the centre-of-mass momentum, so LAMMPS counts 3N - 3 degrees of freedom), and
    the total kinetic energy equals the ``ke`` LAMMPS prints in kcal/mol.

Every physical constant is written here (CODATA 2018), not imported from the package.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import require_lmp

from glassflow.io.trajectory import open_trajectory
from glassflow.md.lammps_io import dump_to_trajectory

pytestmark = pytest.mark.lammps

# CODATA 2018 (exact SI values where defined)
K_B_J_K = 1.380649e-23  # Boltzmann constant, J/K
N_A_PER_MOL = 6.02214076e23  # Avogadro constant, 1/mol
AMU_KG = 1.66053906660e-27  # atomic mass constant, kg
J_PER_KCAL = 4184.0  # thermochemical calorie
M_PER_S_PER_A_PER_PS = 1.0e-10 / 1.0e-12  # 1 Å/ps = 100 m/s

DT_FS = 1.0
DT_PS = DT_FS * 1.0e-3
N_SAMPLE = 200  # NVE steps dumped, every step
SPECIES = ("Na", "Si", "S")
MASSES = (22.98977, 28.0855, 32.06)  # g/mol, as in the LAMMPS input below
CHARGES = (0.6, 2.4, -1.2)

INPUT = f"""
units real
atom_style charge
boundary p p p
region box block 0 14.0 0 14.0 0 14.0
create_box 3 box
mass 1 {MASSES[0]}
mass 2 {MASSES[1]}
mass 3 {MASSES[2]}
create_atoms 1 random 40 1111 NULL overlap 1.6 maxtry 200
create_atoms 2 random 20 2222 NULL overlap 1.6 maxtry 200
create_atoms 3 random 60 3333 NULL overlap 1.6 maxtry 200
set type 1 charge {CHARGES[0]}
set type 2 charge {CHARGES[1]}
set type 3 charge {CHARGES[2]}
pair_style buck/coul/long 6.5
pair_coeff 1 1 175918407.400 0.080 0.0
pair_coeff 1 2 137188868.400 0.076 0.0
pair_coeff 1 3 7051023.133 0.180 0.0
pair_coeff 2 2 52119995.520 0.072 0.0
pair_coeff 2 3 2533446.376 0.178 0.0
pair_coeff 3 3 482620.301 0.284 3317.512
kspace_style ewald 1.0e-5
neighbor 2.0 bin
neigh_modify every 1 delay 0 check yes
minimize 1.0e-4 1.0e-6 200 2000
reset_timestep 0
timestep {DT_FS}
velocity all create 2000.0 4242 mom yes rot yes dist gaussian
fix md all nvt temp 2000.0 2000.0 100.0
run 300
unfix md
reset_timestep 0
fix md all nve
thermo_style custom step temp ke
thermo_modify format float %.10g
thermo 1
dump d all custom 1 traj.dump id type xu yu zu vx vy vz
dump_modify d sort id format float %.7g
run {N_SAMPLE}
"""


def _thermo_rows(log: Path) -> np.ndarray:
    """(step, temp K, ke kcal/mol) rows of the ``Step Temp KinEng`` block of the log."""
    rows, inside = [], False
    for line in log.read_text().splitlines():
        words = line.split()
        if words[:3] == ["Step", "Temp", "KinEng"]:
            inside = True
            continue
        if inside:
            if line.startswith("Loop time"):
                break
            rows.append([float(w) for w in words])
    return np.asarray(rows)


@pytest.fixture(scope="module")
def nve_run(tmp_path_factory):
    lmp = require_lmp()
    work = tmp_path_factory.mktemp("nve")
    (work / "in.nve").write_text(INPUT)
    run = subprocess.run(
        [lmp, "-in", "in.nve", "-log", "log.lammps", "-screen", "none", "-nocite"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, (work / "log.lammps").read_text()[-3000:]
    n = dump_to_trajectory(work / "traj.dump", work / "t.gtrj", SPECIES, CHARGES, MASSES, DT_FS)
    assert n == N_SAMPLE + 1
    return open_trajectory(work / "t.gtrj", verify=True), _thermo_rows(work / "log.lammps")


def test_stored_times_are_steps_times_timestep(nve_run):
    traj, _ = nve_run
    np.testing.assert_array_equal(traj.steps, np.arange(N_SAMPLE + 1))
    np.testing.assert_allclose(traj.times_ps, np.arange(N_SAMPLE + 1) * DT_PS, rtol=0, atol=1e-15)


def test_velocities_equal_central_differences_of_positions(nve_run):
    traj, _ = nve_run
    x = traj.positions().astype(np.float64)
    v = traj.velocities().astype(np.float64)[1:-1]  # Å/ps
    fd = (x[2:] - x[:-2]) / (2.0 * DT_PS)  # dt written here, not read from the file
    # rounding of one stored coordinate: half a unit in the 7th significant digit of the
    # dump (|x| < 100 Å), plus float32 storage; two coordinates per difference
    x_max = float(np.abs(x).max())
    assert x_max < 100.0
    rounding = 0.5 * 10.0 ** (np.floor(np.log10(x_max)) - 6) + x_max * np.finfo(np.float32).eps
    tol = 2.0 * rounding / (2.0 * DT_PS)  # Å/ps
    worst = float(np.abs(fd - v).max())
    speed = float(np.sqrt(np.mean(v**2)))
    print(f"max |fd - v| = {worst:.2e} Å/ps, tol {tol:.2e}, rms v component {speed:.2f}")
    assert speed > 100.0 * tol  # the check resolves the velocity to 1 %
    assert worst <= tol, f"max |fd - v| = {worst:.3g} Å/ps > {tol:.3g} Å/ps"


def test_equipartition_against_lammps_thermo(nve_run):
    traj, thermo = nve_run
    np.testing.assert_array_equal(thermo[:, 0].astype(int), traj.steps)
    n = traj.n_atoms
    v_m_s = traj.velocities().astype(np.float64) * M_PER_S_PER_A_PER_PS
    m_kg = traj.masses * AMU_KG
    ke_j = 0.5 * np.einsum("a,fai->f", m_kg, v_m_s**2)  # per frame, J (whole cell)
    # <m v^2 / 2> per atom = (3/2) k_B T (3N - 3) / (3N): LAMMPS's T counts 3N - 3 dof
    t_lammps = thermo[:, 1]
    expect_per_atom = 1.5 * K_B_J_K * t_lammps * (3 * n - 3) / (3 * n)
    np.testing.assert_allclose(ke_j / n, expect_per_atom, rtol=2e-5)
    # total kinetic energy, kcal/mol, against LAMMPS's ke (independent of k_B)
    ke_kcal_mol = ke_j * N_A_PER_MOL / J_PER_KCAL
    np.testing.assert_allclose(ke_kcal_mol, thermo[:, 2], rtol=2e-5)
    assert 1000.0 < t_lammps.mean() < 4000.0  # a hot melt, not a frozen cell
