"""Helpers of benchmarks/engine_settings.py: Buckingham -> Born mapping, drift fit."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import engine_settings as es  # noqa: E402
from conftest import TABLE_1, lammps_run0  # noqa: E402

from glassflow.md.potential import load_potential, pair_coeff_lines  # noqa: E402

SPECIES = ("Na", "Si", "S")
# 1 kcal/mol in meV per particle: 4184 J / (N_A e), CODATA 2018
KCAL_MOL_TO_MEV = 4184.0 / (6.02214076e23 * 1.602176634e-19) * 1000.0


def _potential():
    return load_potential(ROOT / "config" / "potentials" / "sorensen2023.yaml")


def test_energy_drift_recovers_linear_slope():
    n_atoms = 600
    t = np.linspace(0.0, 10.0, 1001)  # ps
    slope_mev_atom_ns = 2.5
    e_mev_atom = -5000.0 + slope_mev_atom_ns / 1000.0 * t
    rng = np.random.default_rng(1)
    noise = 0.01 * rng.standard_normal(t.size)
    e_kcal_cell = (e_mev_atom + noise) * n_atoms / KCAL_MOL_TO_MEV
    drift, fluct = es.energy_drift(t, e_kcal_cell, n_atoms)
    assert drift == pytest.approx(slope_mev_atom_ns, abs=0.05)
    assert fluct == pytest.approx(0.01, rel=0.1)
    drift0, fluct0 = es.energy_drift(t, np.full(t.size, -1234.0), n_atoms)
    assert abs(drift0) < 1e-9 and fluct0 < 1e-9


def test_delta_sigma_and_performance_parsing():
    assert es.delta_sigma(1.3, 0.3, 1.0, 0.4) == pytest.approx(0.6)
    log = "Loop time of 2 on 1 procs\n\nPerformance: 41.321 ns/day, 0.581 hours/ns, x\n"
    assert es.parse_performance("Performance: 1.0 ns/day, 1 hours/ns\n" + log) == 41.321
    with pytest.raises(ValueError):
        es.parse_performance("no performance here")


def test_born_coeff_lines_map_buckingham():
    pot = _potential()
    buck = pair_coeff_lines(pot, SPECIES)
    born = es.born_coeff_lines(pot, SPECIES)
    for lb, ln in zip(buck, born, strict=True):
        wb, wn = lb.split("#")[0].split(), ln.split("#")[0].split()
        # pair_coeff i j A rho C  ->  pair_coeff i j A rho sigma=0 C D=0
        assert wb[:5] == wn[:5]
        assert float(wn[5]) == 0.0 and wn[6] == wb[5] and float(wn[7]) == 0.0


def _pair_input(style: str, coeff_lines: list[str], pairs) -> str:
    lines = [
        "units real",
        "atom_style charge",
        "boundary f f f",
        f"region box block -5 {25.0 * len(pairs) + 5.0} -5 5 -5 5",
        "create_box 3 box",
    ]
    for k, (i, j, r) in enumerate(pairs):
        x0 = 25.0 * k  # pairs 25 A apart: beyond the 10 A cutoff of each other
        lines += [f"create_atoms {i} single {x0} 0 0", f"create_atoms {j} single {x0 + r} 0 0"]
    lines += [
        "mass * 30.0",
        "set type * charge 0.0",
        f"pair_style {style} 10.0",
        *coeff_lines,
        "thermo_style custom step pe",
        "thermo_modify format float %.12g",
        "run 0",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.lammps
def test_born_equals_buckingham_in_lammps(lmp, tmp_path):
    pot = _potential()
    pairs = []
    for i in range(1, 4):
        for j in range(i, 4):
            for r in (1.9, 2.6, 3.4):
                pairs.append((i, j, r))
    # eq 1 of Sørensen 2023 without the Coulomb term (charges are zero here)
    expected = 0.0
    for i, j, r in pairs:
        a_kcal, rho, c = TABLE_1[(SPECIES[i - 1], SPECIES[j - 1])]
        expected += a_kcal * np.exp(-r / rho) - c / r**6
    energies = {}
    for style, coeffs in (
        ("buck", pair_coeff_lines(pot, SPECIES)),
        ("born", es.born_coeff_lines(pot, SPECIES)),
    ):
        (tmp_path / f"in.{style}").write_text(_pair_input(style, coeffs, pairs))
        energies[style] = lammps_run0(lmp, tmp_path, f"in.{style}")[1]
    assert energies["born"] == pytest.approx(energies["buck"], rel=1e-10, abs=1e-8)
    assert energies["buck"] == pytest.approx(expected, rel=1e-8)
