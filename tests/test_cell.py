"""Random cells: density/cell length, minimum pair distance, LAMMPS data file."""

import numpy as np
import pytest

from glassflow.md.cell import (
    build_random_cell,
    cell_length_for_density,
    density_for_cell_length,
    min_pair_distance,
    random_positions,
    write_lammps_data,
)
from glassflow.md.composition import counts_from_xm
from glassflow.md.potential import load_potential


@pytest.fixture
def pot(root):
    return load_potential(root / "config/potentials/sorensen2023.yaml")


def test_ns_cell_length_at_201(pot):
    counts = {"Na": 1000, "Si": 500, "S": 1500}
    L = cell_length_for_density(counts, pot.masses, 2.01)
    assert pytest.approx(41.277, abs=0.01) == L
    assert density_for_cell_length(counts, pot.masses, L) == pytest.approx(2.01)


def test_min_distance_respected():
    rng = np.random.default_rng(1)
    pos = random_positions(600, 20.0, 1.5, rng)
    assert pos.shape == (600, 3)
    assert np.all((pos >= 0) & (pos < 20.0))
    assert min_pair_distance(pos, 20.0) >= 1.5
    # without the constraint, 600 uniform points in this box come much closer
    free = rng.random((600, 3)) * 20.0
    assert min_pair_distance(free, 20.0) < 1.0


def test_overcrowded_box_fails_clearly():
    with pytest.raises(RuntimeError, match="could not place"):
        random_positions(200, 5.0, 1.5, np.random.default_rng(0), max_tries_per_atom=5)


def test_same_seed_same_cell_and_data_file(pot, tmp_path):
    comp = counts_from_xm(0.5, 2.0, 150)
    L = cell_length_for_density(comp.counts, pot.masses, 2.01)
    a = build_random_cell(comp, pot.charges, pot.masses, L, 1.5, seed=7)
    b = build_random_cell(comp, pot.charges, pot.masses, L, 1.5, seed=7)
    c = build_random_cell(comp, pot.charges, pot.masses, L, 1.5, seed=8)
    assert np.array_equal(a.positions, b.positions)
    assert not np.array_equal(a.positions, c.positions)
    assert sorted(a.get_chemical_symbols()).count("Na") == comp.n_modifier
    assert a.get_initial_charges().sum() == pytest.approx(0.0, abs=1e-9)
    path = write_lammps_data(a, tmp_path / "cell.data", comp.species)
    text = path.read_text()
    assert f"{comp.n_atoms} atoms" in text and "3 atom types" in text
    assert "Masses" in text
