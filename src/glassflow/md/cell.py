"""Initial random cells at a target density or cell length (physics.md §3).

Atoms are inserted one at a time at uniform random positions in a cubic box and
rejected if closer than ``min_distance_A`` (minimum image) to any atom already
placed, as in Sørensen 2023 (1.5 Å). The result is an ASE ``Atoms`` with charges,
written as a LAMMPS data file (``atom_style charge``) by ASE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from glassflow.md.composition import Composition

AVOGADRO = 6.02214076e23  # 1/mol
A3_PER_CM3 = 1e24


def cell_mass_g(counts: dict[str, int], masses: dict[str, float]) -> float:
    """Mass of the cell's atoms in g (masses in g/mol)."""
    return sum(n * masses[el] for el, n in counts.items()) / AVOGADRO


def cell_length_for_density(
    counts: dict[str, int], masses: dict[str, float], density_g_cm3: float
) -> float:
    """Cubic cell length L (Å) holding ``counts`` at ``density_g_cm3``.

    ``L = (M / (rho N_A))^(1/3)``; NS at N = 3000 and 2.01 g/cm3 gives 41.277 Å.
    """
    if density_g_cm3 <= 0:
        raise ValueError(f"cell.density_g_cm3: must be > 0, got {density_g_cm3}")
    volume_A3 = cell_mass_g(counts, masses) / density_g_cm3 * A3_PER_CM3
    return float(volume_A3 ** (1.0 / 3.0))


def density_for_cell_length(
    counts: dict[str, int], masses: dict[str, float], length_A: float
) -> float:
    """Density (g/cm3) of ``counts`` in a cubic cell of edge ``length_A`` (Å)."""
    return cell_mass_g(counts, masses) / (length_A**3 / A3_PER_CM3)


def random_positions(
    n_atoms: int,
    box_A: float,
    min_distance_A: float,
    rng: np.random.Generator,
    max_tries_per_atom: int = 2000,
) -> npt.NDArray[np.float64]:
    """Uniform random positions (n, 3) in a cubic box with a minimum pair distance.

    Candidates are drawn in batches and checked against all placed atoms with the
    minimum-image convention; raises RuntimeError when the box is too crowded.
    """
    pos = np.empty((n_atoms, 3))
    placed = 0
    tries = 0
    d2min = min_distance_A**2
    batch = 64
    while placed < n_atoms:
        cand = rng.random((batch, 3)) * box_A
        for c in cand:
            if placed:
                d = pos[:placed] - c
                d -= box_A * np.rint(d / box_A)
                if np.min(np.einsum("ij,ij->i", d, d)) < d2min:
                    tries += 1
                    if tries > max_tries_per_atom * n_atoms:
                        raise RuntimeError(
                            f"could not place {n_atoms} atoms {min_distance_A} Å apart in a "
                            f"{box_A:.3f} Å box (placed {placed}); lower cell.min_distance_A "
                            "or the density"
                        )
                    continue
            pos[placed] = c
            placed += 1
            if placed == n_atoms:
                break
    return pos


def build_random_cell(
    composition: Composition,
    charges: dict[str, float],
    masses: dict[str, float],
    box_A: float,
    min_distance_A: float,
    seed: int,
):
    """ASE ``Atoms`` of the composition at random positions (types in species order)."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    symbols = [el for el, n in composition.counts.items() for _ in range(n)]
    # shuffle the order of insertion so no species is favoured by late, crowded insertion
    order = rng.permutation(len(symbols))
    pos = np.empty((len(symbols), 3))
    pos[order] = random_positions(len(symbols), box_A, min_distance_A, rng)
    atoms = Atoms(symbols=symbols, positions=pos, cell=[box_A] * 3, pbc=True)
    atoms.set_initial_charges([charges[s] for s in symbols])
    atoms.set_masses([masses[s] for s in symbols])
    return atoms


def write_lammps_data(atoms, path: str | Path, species: tuple[str, ...]) -> Path:
    """Write ``atoms`` as a LAMMPS data file, atom_style charge, types in ``species`` order."""
    from ase.io import write

    write(
        str(path),
        atoms,
        format="lammps-data",
        atom_style="charge",
        specorder=list(species),
        masses=True,
        units="real",
    )
    return Path(path)


def min_pair_distance(positions: npt.ArrayLike, box_A: float) -> float:
    """Smallest minimum-image pair distance (Å) via a periodic k-d tree."""
    from scipy.spatial import cKDTree

    p = np.mod(np.asarray(positions, dtype=float), box_A)
    tree = cKDTree(p, boxsize=box_A)
    d, _ = tree.query(p, k=2)
    return float(d[:, 1].min())
