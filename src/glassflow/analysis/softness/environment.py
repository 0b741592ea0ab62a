"""Per-ion descriptors the softness is related to (physics.md §7).

Local environment (neighbour counts per species and the classes of the S neighbours, via
:mod:`glassflow.analysis.topology`), Voronoi cell volume (:func:`voronoi_volumes`, Å^3)
and an approximate per-ion pair energy (:func:`pair_energies`, Buckingham + Wolf
Coulomb, kcal/mol). Units: Å, kcal/mol, e (LAMMPS ``real``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import ConvexHull, Voronoi, cKDTree
from scipy.special import erfc

from glassflow.analysis.structure.geometry import minimum_image, neighbour_pairs, wrap_positions
from glassflow.analysis.topology import bond_counts, classify_sulfur
from glassflow.md.potential import COULOMB_KCAL_A_MOL as COULOMB_KCAL_A

FloatArray = npt.NDArray[np.float64]


def local_environment(
    positions_A: npt.ArrayLike,
    box_A: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    centres: npt.ArrayLike,
    env_cutoff_A: float = 3.8,
    si_s_cutoff_A: float = 2.8,
    ss_bond_cutoff_A: float = 2.6,
) -> pd.DataFrame:
    """Neighbour counts of each centre within ``env_cutoff_A`` and the classes of its S.

    Columns ``n_<species>`` (all species) and, when Si and S exist, ``n_BS``, ``n_NBS``,
    ``n_free_S`` (S with no Si/S bond), ``n_SS`` (S in any S-S bond) and ``n_S_other``:
    counts of S neighbours of each class (classes of
    :func:`glassflow.analysis.topology.classify_sulfur` with the Si-S and S-S bond cutoffs, Å).
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions_A, box)
    t = np.asarray(types, dtype=np.intp)
    c = np.asarray(centres, dtype=np.intp)
    local = np.full(t.size, -1, dtype=np.intp)
    local[c] = np.arange(c.size)
    ci, oj, _ = neighbour_pairs(x, box, c, np.arange(t.size), env_cutoff_A)
    out: dict[str, Any] = {}
    for k, sp in enumerate(species):
        out[f"n_{sp}"] = np.bincount(local[ci[t[oj] == k]], minlength=c.size)
    if "Si" in species and "S" in species:
        cutoffs = {"Si-S": si_s_cutoff_A, "S-S": ss_bond_cutoff_A, "Na-S": env_cutoff_A}
        bc = bond_counts(x, t, species, box, cutoffs)
        s_idx = np.flatnonzero(t == species.index("S"))
        cls_of_atom = np.full(t.size, "", dtype=object)
        cls_of_atom[s_idx] = classify_sulfur(bc.s_nsi, bc.s_nss)
        ss_of_atom = np.zeros(t.size, dtype=bool)
        ss_of_atom[s_idx] = bc.s_nss > 0
        is_s = t[oj] == species.index("S")
        cs, js = local[ci[is_s]], oj[is_s]
        cl = cls_of_atom[js]
        for name, mask in (
            ("n_BS", cl == "BS"),
            ("n_NBS", cl == "NBS"),
            ("n_free_S", cl == "free"),
            ("n_SS", ss_of_atom[js]),
        ):
            out[name] = np.bincount(cs[mask], minlength=c.size)
        # over-coordinated S (S_3Si); n_SS counts S-S bonded S of classes SS_only + SS_Si
        out["n_S_other"] = out["n_S"] - out["n_BS"] - out["n_NBS"] - out["n_free_S"] - out["n_SS"]
    return pd.DataFrame(out)


def voronoi_volumes(
    positions_A: npt.ArrayLike, box_A: npt.ArrayLike, skin_A: float | None = None
) -> FloatArray:
    """Voronoi cell volumes (Å^3) of all atoms in an orthorhombic periodic box.

    Plain (unweighted) Voronoi tessellation with :class:`scipy.spatial.Voronoi` of the
    wrapped atoms plus their periodic images within ``skin_A`` of the box faces (default:
    half the shortest box length, which closes every cell of a non-pathological
    configuration); each original atom's cell volume is the convex hull of its region's
    vertices. Atom sizes are ignored (no radical/Laguerre weighting). Cells that are open
    (should not happen with a sufficient skin) get NaN.
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions_A, box)
    n = x.shape[0]
    skin = 0.5 * float(box.min()) if skin_A is None else float(skin_A)
    shifts = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"))
    shifts = shifts.reshape(3, -1).T
    shifts = shifts[np.any(shifts != 0, axis=1)]
    images = x[None, :, :] + shifts[:, None, :] * box
    keep = np.all((images > -skin) & (images < box + skin), axis=2)
    pts = np.vstack([x, images[keep]])
    vor = Voronoi(pts)
    vol = np.full(n, np.nan)
    for i in range(n):
        region = vor.regions[vor.point_region[i]]
        if len(region) == 0 or -1 in region:
            continue
        vol[i] = ConvexHull(vor.vertices[region]).volume
    return vol


def pair_energies(
    positions_A: npt.ArrayLike,
    box_A: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    charges_e: npt.ArrayLike,
    buckingham: Mapping[frozenset[str], Any],
    r_cut_A: float = 10.0,
    alpha_inv_A: float = 0.2,
) -> FloatArray:
    """Approximate per-atom potential energy, kcal/mol (Buckingham + Wolf Coulomb).

    E_i = 1/2 sum_{j, r<rc} [A exp(-r/rho) - C/r^6]
          + k_e [1/2 sum_{j, r<rc} q_i q_j (erfc(a r)/r - erfc(a rc)/rc)
                 - q_i^2 (erfc(a rc)/(2 rc) + a/sqrt(pi))]

    (Wolf et al., J. Chem. Phys. 110, 8254 (1999), shifted, no force shift). The Wolf sum
    approximates the Ewald energy of a charge-neutral cutoff sphere; per-atom values are
    a real-space partition, not unique, and the Buckingham part is cut at ``r_cut_A``
    without shift. ``buckingham`` maps frozenset({a, b}) to objects with ``A_kcal_mol``,
    ``rho_A``, ``C_kcal_A6_mol`` (:class:`glassflow.md.potential.PairParameters`). Requires
    r_cut < half the shortest box length.
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions_A, box)
    t = np.asarray(types, dtype=np.intp)
    q = np.asarray(charges_e, dtype=np.float64)
    n = t.size
    if r_cut_A > 0.5 * float(box.min()):
        raise ValueError(f"r_cut_A {r_cut_A} exceeds half the box {box.min() / 2:.3f} Å")
    ns = len(species)
    a_tab = np.zeros((ns, ns))
    rho_tab = np.ones((ns, ns))
    c_tab = np.zeros((ns, ns))
    for i, a in enumerate(species):
        for j, b in enumerate(species):
            p = buckingham[frozenset((a, b))]
            a_tab[i, j], rho_tab[i, j], c_tab[i, j] = p.A_kcal_mol, p.rho_A, p.C_kcal_A6_mol
    tree = cKDTree(x, boxsize=box)
    m = tree.sparse_distance_matrix(tree, r_cut_A, output_type="ndarray")
    i, j = m["i"], m["j"]
    keep = i != j
    i, j = i[keep], j[keep]
    r = np.linalg.norm(minimum_image(x[j] - x[i], box), axis=1)
    ti, tj = t[i], t[j]
    buck = a_tab[ti, tj] * np.exp(-r / rho_tab[ti, tj]) - c_tab[ti, tj] / r**6
    shift = erfc(alpha_inv_A * r_cut_A) / r_cut_A
    coul = q[i] * q[j] * (erfc(alpha_inv_A * r) / r - shift)
    e = 0.5 * np.bincount(i, weights=buck + COULOMB_KCAL_A * coul, minlength=n)
    self_term = erfc(alpha_inv_A * r_cut_A) / (2 * r_cut_A) + alpha_inv_A / math.sqrt(math.pi)
    return e - COULOMB_KCAL_A * q**2 * self_term
