"""Force-field cross-check: force statistics on known answers, the LAMMPS single point
against its own energy gradient, the side-by-side topology table, and one glass through
the whole cross-check (CHGNet forces and anneal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, require_chgnet, require_lmp

from glassflow.campaign.forcefield_crosscheck import (
    crosscheck_glass,
    force_errors,
    topology_side_by_side,
)
from glassflow.md.cell import build_random_cell, write_lammps_data
from glassflow.md.composition import Composition
from glassflow.md.lammps import Engine, force_field_context
from glassflow.md.potential import load_potential
from glassflow.md.single_point import lammps_single_point, read_force_dump

SPECIES = ("Na", "Si", "S")
CHARGES = {"Na": 0.6, "Si": 2.4, "S": -1.2}  # Sørensen 2023 charges (Table 1)


def test_force_errors_of_known_differences():
    rng = np.random.default_rng(0)
    symbols = ["Na"] * 10 + ["Si"] * 5 + ["S"] * 15
    ref = rng.normal(size=(30, 3))
    shift = np.where(np.array(symbols) == "S", 0.5, 0.0)[:, None] * np.ones(3)
    table = force_errors(ref, ref + shift, symbols, SPECIES).set_index("species")
    assert table.loc["Na", "rmse_eV_A"] == 0.0 and table.loc["Si", "mae_eV_A"] == 0.0
    assert table.loc["S", "rmse_eV_A"] == pytest.approx(0.5)
    assert table.loc["S", "mae_eV_A"] == pytest.approx(0.5)
    # all atoms: 15 of 30 atoms off by 0.5 in every component -> sqrt(0.5 * 0.25)
    assert table.loc["all", "rmse_eV_A"] == pytest.approx(np.sqrt(0.125))
    assert list(table["n_atoms"]) == [10, 5, 15, 30]
    doubled = force_errors(ref, 2 * ref, symbols, SPECIES).set_index("species")
    assert doubled.loc["all", "pearson_r"] == pytest.approx(1.0)
    assert doubled.loc["Si", "rms_test_eV_A"] == pytest.approx(
        2 * doubled.loc["Si", "rms_ref_eV_A"]
    )
    with pytest.raises(ValueError, match="differ"):
        force_errors(ref, ref[:-1], symbols, SPECIES)


def test_topology_side_by_side_puts_eq1_at_the_achieved_composition():
    row = {"frac_S_in_SS": 0.2, "f_md": 0.05, "x_achieved": 0.1, "m_achieved": 4.0}
    out = topology_side_by_side({"a": pd.DataFrame([row])}, {"m": 4.0})
    # eq 1: f = (3 - 2.5 <r>) ... at x = 0.1, m = 4: checked against critical m_c = 28/9
    # through its sign: m > m_c is flexible, f > 0
    assert out.loc[0, "force_field"] == "a" and out.loc[0, "m"] == 4.0
    assert out.loc[0, "f_eq1"] > 0
    assert out.loc[0, "delta_f"] == pytest.approx(0.05 - out.loc[0, "f_eq1"])
    at_mc = topology_side_by_side({"a": pd.DataFrame([dict(row, m_achieved=28 / 9)])}, {"m": 3.1})
    assert at_mc.loc[0, "f_eq1"] == pytest.approx(0.0, abs=1e-12)


def small_glass(path: Path, seed: int = 3) -> Path:
    comp = Composition("Na", "Si", "S", 8, 4, 12, 0.5, 2.0)  # 24 atoms, Na2S-SiS2
    masses = {"Na": 22.98977, "Si": 28.0855, "S": 32.06}
    atoms = build_random_cell(comp, CHARGES, masses, 9.0, 2.2, seed)
    return write_lammps_data(atoms, path, SPECIES)


def context() -> dict:
    pot = load_potential(ROOT / "config" / "potentials" / "sorensen2023.yaml")
    eng = {"cutoff_A": 4.4, "kspace_style": "ewald", "kspace_accuracy": 1e-8}
    eng["neighbor_skin_A"] = 1.0
    proto = {"timestep_fs": 1.0, "thermo_interval_fs": 10}
    return force_field_context(pot, SPECIES, CHARGES, eng, proto)


@pytest.mark.lammps
def test_lammps_single_point_forces_are_minus_the_energy_gradient(tmp_path):
    """LAMMPS forces of the campaign potential against central differences of its own
    energy (an atom moved by +-1e-3 Å), so the dump, its order and units are right."""
    lmp = require_lmp()
    engine = Engine(command=(lmp,))
    glass = small_glass(tmp_path / "glass.data")
    ctx = context()
    energy, forces = lammps_single_point(glass, ctx, engine, tmp_path / "sp", tmp_path / "log")
    assert forces.shape == (24, 3) and np.isfinite(energy)
    assert np.abs(forces.sum(axis=0)).max() < 1e-3 * np.abs(forces).max()  # Newton's third
    lines = glass.read_text().splitlines()
    atoms_at = lines.index("Atoms # charge") + 2
    h = 1e-3
    for atom, axis in [(0, 0), (9, 1), (20, 2)]:
        e = []
        for sign in (1, -1):
            moved = list(lines)
            words = moved[atoms_at + atom].split()
            assert int(words[0]) == atom + 1
            words[3 + axis] = repr(float(words[3 + axis]) + sign * h)
            moved[atoms_at + atom] = " ".join(words)
            path = tmp_path / f"moved{atom}{sign}.data"
            path.write_text("\n".join(moved) + "\n")
            e.append(lammps_single_point(path, ctx, engine, tmp_path / "fd", tmp_path / "log")[0])
        fd = -(e[0] - e[1]) / (2 * h)
        assert forces[atom, axis] == pytest.approx(fd, rel=1e-3, abs=1e-3)


def test_force_dump_is_read_in_atom_id_order(tmp_path):
    dump = tmp_path / "forces.dump"
    dump.write_text(
        "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n3\nITEM: BOX BOUNDS pp pp pp\n"
        "0 1\n0 1\n0 1\nITEM: ATOMS id type fx fy fz\n"
        "2 1 2.0 0 0\n3 1 3.0 0 0\n1 1 1.0 0 0\n"
    )
    assert list(read_force_dump(dump)[:, 0]) == [1.0, 2.0, 3.0]


@pytest.mark.lammps
@pytest.mark.slow
def test_one_glass_through_the_whole_cross_check(tmp_path):
    """Classical and CHGNet forces on a 24-atom glass, a 60-step anneal, both topologies."""
    lmp = require_lmp()
    require_chgnet()
    from glassflow.analysis.runs import structure_settings
    from glassflow.md.engines.ase import AseEngine

    glass = small_glass(tmp_path / "glass.data")
    ctx = context()
    settings = {
        "anneal_T_K": 600.0,
        "anneal_hold_ps": 0.02,
        "anneal_rate_K_ps": 30000.0,
        "timestep_fs": 1.0,
        "thermostat_damping_fs": 50.0,
        "restart_interval_fs": 20.0,
        "thermo_interval_fs": 10.0,
    }
    keys = {"campaign": "t", "x": 0.5, "m": 2.0, "replica": 1}
    out = crosscheck_glass(
        glass,
        keys,
        ctx,
        Engine(command=(lmp,)),
        AseEngine(),
        settings,
        300.0,
        structure_settings({}, 1),
        tmp_path / "work",
        tmp_path / "log",
        seed=1,
    )
    forces = out["forces"].set_index("species")
    assert list(forces.index) == ["Na", "Si", "S", "all"]
    assert (forces["rms_ref_eV_A"] > 0).all() and (forces["rms_test_eV_A"] > 0).all()
    assert out["record"]["anneal_steps"] == 10 + 20 + 10  # 300 -> 600 K at 30 K/fs
    topo = out["topology"]
    assert len(topo) == 2 and topo["force_field"].str.contains("chgnet").sum() == 1
    assert np.isfinite(topo["f_md"]).all()
    assert out["annealed"].is_file()
