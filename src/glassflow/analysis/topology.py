"""Network topology of x Na2S-(1-x) SiS_m glasses from MD configurations (physics.md §5, §6).

Bonds are pairs closer than a cutoff (Å): Si-S and Na-S from the first minima of g(r)
(:func:`glassflow.analysis.structure.pair_correlation.find_cutoffs`), S-S homopolar bonds
from :func:`glassflow.analysis.structure.pair_correlation.homopolar_bond_cutoff` (only a
peak below ~2.6 Å is a bond).

Counting rules
--------------
Sulfur classes (mutually exclusive; n_Si = Si neighbours, n_SS = S-S bonds):

* ``BS``      bridging: n_Si = 2, n_SS = 0
* ``NBS``     non-bridging: n_Si = 1, n_SS = 0
* ``free``    n_Si = 0, n_SS = 0 (S2- held only by Na)
* ``SS_only`` in homopolar bonds only: n_Si = 0, n_SS >= 1 (chain/ring S)
* ``SS_Si``   mixed: n_Si >= 1 and n_SS >= 1 (e.g. Si-S-S-Si chain ends); an S with both
  Si and S neighbours is counted here and nowhere else
* ``S_3Si``   over-coordinated: n_Si >= 3, n_SS = 0

``frac_S_in_SS = SS_only + SS_Si`` is the (overlapping) fraction of S in any S-S bond.

SiS4 connectivity: two Si sharing exactly one S are corner-sharing, exactly two S
edge-sharing, three or more face-sharing (counted over unordered Si pairs).

Mean coordination <r> (network only, Na excluded by default, Na treated as a modifier as in
the PRL): r(Si) = Si-S bonds, r(S) = S-Si bonds + S-S bonds; <r> = sum r / (N_Si + N_S).
With ``include_na=True`` Na atoms enter with r = Na-S bonds and S gains its Na-S bonds.

Constraints (Maxwell / Phillips-Thorpe as in PRL eq 1 and its text): an r-fold network
atom carries r/2 stretching and (2r - 3) bending constraints if r >= 2 (none if r < 2).
Terminal S (exactly one network bond: NBS or an S-S chain end) get +1/2 for the Na-S
stretching bond with their compensating Na, whose bending is broken (PRL: "broken
bond-bending interactions for NBS close to the alkali ions"); every Na carries 1/2 (its
half of that bond). For an ideal network this reproduces eq 1 exactly:
Si 7, BS 2, NBS 1, Na 1/2 per atom. n_c is per atom over all atoms (Na included, as the
PRL's N = 1 + 2x + m(1-x)), and the floppy fraction is f = 3 - n_c.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from glassflow.analysis.structure.geometry import lookup_pair, neighbour_pairs, wrap_positions

S_CLASSES: tuple[str, ...] = ("BS", "NBS", "free", "SS_only", "SS_Si", "S_3Si")
SI_CN_COLUMNS: tuple[str, ...] = ("si_cn_le2", "si_cn_3", "si_cn_4", "si_cn_5", "si_cn_ge6")


try:  # the project's rigidity module (PRL eq 1) when present
    from glassflow.analysis.rigidity import floppy_fraction as _rigidity_f
except ImportError:  # pragma: no cover - fallback
    _rigidity_f = None


def _mean_field_f(x: float, m: float) -> float:
    """PRL eq 1 (physics.md §6): f = 3 - ((1-x)(7+2m) + x) / (1 + 2x + m(1-x))."""
    return 3.0 - ((1.0 - x) * (7.0 + 2.0 * m) + x) / (1.0 + 2.0 * x + m * (1.0 - x))


def mean_field_floppy_fraction(x: float, m: float) -> float:
    """Mean-field fraction of floppy modes f(x, m), PRL eq 1 (via glassflow.analysis.rigidity)."""
    if _rigidity_f is not None:
        return float(_rigidity_f(x, m))
    return _mean_field_f(x, m)


def achieved_composition(n_na: int, n_si: int, n_s: int) -> tuple[float, float]:
    """(x, m) of the atom counts: x = N_Na/(N_Na + 2 N_Si), m = (N_S - N_Na/2)/N_Si (§1)."""
    x = n_na / (n_na + 2.0 * n_si) if n_na + n_si > 0 else float("nan")
    m = (n_s - 0.5 * n_na) / n_si if n_si > 0 else float("nan")
    return x, m


@dataclass(frozen=True)
class BondCounts:
    """Per-atom bond counts of one frame (arrays over the atoms of each species).

    si_cn: S neighbours of each Si; s_nsi, s_nss, s_nna: Si, S, Na neighbours of each S;
    na_ns: S neighbours of each Na; shared: upper-triangular Si x Si matrix of shared S.
    """

    si_cn: npt.NDArray[np.int64]
    s_nsi: npt.NDArray[np.int64]
    s_nss: npt.NDArray[np.int64]
    s_nna: npt.NDArray[np.int64]
    na_ns: npt.NDArray[np.int64]
    shared: sparse.csr_matrix


def bond_counts(
    positions: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    box_A: npt.ArrayLike,
    cutoffs_A: Mapping[str, float],
    former: str = "Si",
    chalcogen: str = "S",
    modifier: str = "Na",
) -> BondCounts:
    """Bond counts of one frame (positions (atoms, 3), Å) within the cutoffs (Å).

    ``cutoffs_A`` needs "Si-S" and "S-S" (homopolar bond cutoff) and, if Na is present,
    "Na-S" (either pair order).
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions, box)
    t = np.asarray(types, dtype=np.intp)

    def idx(s: str) -> npt.NDArray[np.intp]:
        return np.flatnonzero(t == species.index(s)) if s in species else np.zeros(0, np.intp)

    si, s, na = idx(former), idx(chalcogen), idx(modifier)
    local = np.full(t.size, -1, dtype=np.intp)
    for group in (si, s, na):
        local[group] = np.arange(group.size)

    def cut(a: str, b: str) -> float:
        v = lookup_pair(cutoffs_A, a, b)
        if v is None:
            raise KeyError(f"no {a}-{b} cutoff in {dict(cutoffs_A)}")
        return v

    ci, oj, _ = neighbour_pairs(x, box, si, s, cut(former, chalcogen))
    li, lj = local[ci], local[oj]
    si_cn = np.bincount(li, minlength=si.size)
    s_nsi = np.bincount(lj, minlength=s.size)
    b = sparse.csr_matrix((np.ones(li.size), (li, lj)), shape=(si.size, s.size))
    shared = sparse.triu(b @ b.T, k=1).tocsr()

    ci, oj, _ = neighbour_pairs(x, box, s, s, cut(chalcogen, chalcogen))
    s_nss = np.bincount(local[ci], minlength=s.size)  # both orders present: one per bond end

    if na.size:
        ci, oj, _ = neighbour_pairs(x, box, na, s, cut(modifier, chalcogen))
        na_ns = np.bincount(local[ci], minlength=na.size)
        s_nna = np.bincount(local[oj], minlength=s.size)
    else:
        na_ns = np.zeros(0, np.int64)
        s_nna = np.zeros(s.size, np.int64)
    return BondCounts(si_cn, s_nsi, s_nss, s_nna, na_ns, shared)


def classify_sulfur(s_nsi: npt.ArrayLike, s_nss: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Class label of each S (see module docstring): BS, NBS, free, SS_only, SS_Si, S_3Si."""
    nsi = np.asarray(s_nsi)
    nss = np.asarray(s_nss)
    conditions = [
        (nss == 0) & (nsi == 2),
        (nss == 0) & (nsi == 1),
        (nss == 0) & (nsi == 0),
        (nss > 0) & (nsi == 0),
        (nss > 0) & (nsi > 0),
        (nss == 0) & (nsi >= 3),
    ]
    return np.select(conditions, list(S_CLASSES), default="?").astype(str)


def atom_constraints(r: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Maxwell constraints of r-fold atoms: r/2 stretching + (2r - 3) bending for r >= 2."""
    r = np.asarray(r, dtype=np.float64)
    return r / 2.0 + np.where(r >= 2, 2.0 * r - 3.0, 0.0)


def constraint_count(
    counts: BondCounts, terminal_na_bond: bool = True, na_constraint: float = 0.5
) -> tuple[float, float]:
    """MD constraint density n_c (per atom, all atoms) and floppy fraction f = 3 - n_c.

    Rules in the module docstring: network atoms r/2 + (2r-3) [r >= 2]; terminal S +1/2;
    each Na ``na_constraint``.
    """
    r_si = counts.si_cn
    r_s = counts.s_nsi + counts.s_nss
    total = atom_constraints(r_si).sum() + atom_constraints(r_s).sum()
    if terminal_na_bond:
        total += 0.5 * np.count_nonzero(r_s == 1)
    total += na_constraint * counts.na_ns.size
    n_atoms = r_si.size + r_s.size + counts.na_ns.size
    n_c = total / n_atoms if n_atoms else float("nan")
    return float(n_c), float(3.0 - n_c)


def mean_coordination(counts: BondCounts, include_na: bool = False) -> float:
    """Network mean coordination <r> (module docstring): Si and S, Na optional."""
    r_si = counts.si_cn
    r_s = counts.s_nsi + counts.s_nss
    total = r_si.sum() + r_s.sum()
    n = r_si.size + r_s.size
    if include_na:
        total += counts.na_ns.sum() + counts.s_nna.sum()
        n += counts.na_ns.size
    return float(total / n) if n else float("nan")


def frame_topology(
    counts: BondCounts,
    include_na: bool = False,
    terminal_na_bond: bool = True,
) -> dict[str, float]:
    """Topology numbers of one frame (fractions are of all S or all Si atoms)."""
    out: dict[str, float] = {}
    n_s = max(counts.s_nsi.size, 1)
    labels = classify_sulfur(counts.s_nsi, counts.s_nss)
    for c in S_CLASSES:
        out[f"frac_{c}"] = float(np.count_nonzero(labels == c)) / n_s
    out["frac_S_in_SS"] = float(np.count_nonzero(counts.s_nss > 0)) / n_s
    n_si = max(counts.si_cn.size, 1)
    cn = counts.si_cn
    out["si_cn_le2"] = float(np.count_nonzero(cn <= 2)) / n_si
    for k in (3, 4, 5):
        out[f"si_cn_{k}"] = float(np.count_nonzero(cn == k)) / n_si
    out["si_cn_ge6"] = float(np.count_nonzero(cn >= 6)) / n_si
    out["si_cn_mean"] = float(cn.mean()) if cn.size else float("nan")
    shared = counts.shared.data
    out["n_corner_sharing"] = float(np.count_nonzero(shared == 1))
    out["n_edge_sharing"] = float(np.count_nonzero(shared == 2))
    out["n_face_sharing"] = float(np.count_nonzero(shared >= 3))
    links = out["n_corner_sharing"] + out["n_edge_sharing"]
    out["frac_edge_sharing"] = out["n_edge_sharing"] / links if links else float("nan")
    out["mean_r"] = mean_coordination(counts, include_na)
    n_c, f = constraint_count(counts, terminal_na_bond)
    out["n_constraints"] = n_c
    out["f_md"] = f
    return out


def network_topology(
    positions: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    box_A: npt.ArrayLike,
    cutoffs_A: Mapping[str, float],
    include_na: bool = False,
) -> list[dict[str, float]]:
    """Per-frame topology (positions (frames, atoms, 3) or (atoms, 3), Å)."""
    pos = np.asarray(positions)
    if pos.ndim == 2:
        pos = pos[None]
    return [
        frame_topology(bond_counts(fr, types, species, box_A, cutoffs_A), include_na) for fr in pos
    ]
