"""Known-answer tests of glassflow.analysis.topology on hand-built clusters in a big box."""

from __future__ import annotations

import numpy as np
import pytest

from glassflow.analysis import topology as tp

SPECIES = ("Na", "Si", "S")
R_SIS = 2.1
C = R_SIS / np.sqrt(3)
TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
CUTS = {"Si-S": 2.8, "S-S": 2.5, "Na-S": 3.2}
BOX = np.array([60.0, 60.0, 60.0])


def corner_pair(origin):
    si1 = np.zeros(3)
    s1 = si1 + C * TETRA
    si2 = s1[0] + R_SIS * np.ones(3) / np.sqrt(3)
    s2 = si2 - C * TETRA[1:]  # inverted tetrahedron; its first vertex is s1[0]
    si = np.array([si1, si2]) + origin
    s = np.concatenate([s1, s2]) + origin
    return si, s


def edge_pair(origin):
    si1 = np.zeros(3)
    s1 = si1 + C * TETRA
    si2 = np.array([2 * C, 0.0, 0.0])
    s2 = si2 - s1[2:]  # inversion of the two free vertices through the edge centre (C, 0, 0)
    si = np.array([si1, si2]) + origin
    s = np.concatenate([s1, s2]) + origin
    return si, s


def build(parts):
    pos, types = [], []
    for t, xyz in parts:
        xyz = np.atleast_2d(xyz)
        pos.append(xyz)
        types += [SPECIES.index(t)] * len(xyz)
    return np.concatenate(pos), np.array(types)


def test_edge_geometry_is_right():
    si, s = edge_pair(np.zeros(3))
    d = np.linalg.norm(s[:, None, :] - si[None, :, :], axis=2)
    assert np.count_nonzero(np.isclose(d, R_SIS)) == 8
    assert np.sum(np.isclose(d, R_SIS).all(axis=1)) == 2  # two shared S


def test_classifier_on_clusters():
    si_c, s_c = corner_pair(np.array([10.0, 10.0, 10.0]))
    si_e, s_e = edge_pair(np.array([30.0, 30.0, 30.0]))
    dimer = np.array([[45.0, 10.0, 10.0], [47.05, 10.0, 10.0]])
    lone = np.array([[10.0, 45.0, 45.0]])
    na = np.array([[10.0, 47.8, 45.0], [50.0, 50.0, 50.0]])  # one Na next to the lone S
    pos, types = build(
        [("Si", si_c), ("S", s_c), ("Si", si_e), ("S", s_e), ("S", dimer), ("S", lone), ("Na", na)]
    )
    counts = tp.bond_counts(pos, types, SPECIES, BOX, CUTS)
    assert counts.si_cn.tolist() == [4, 4, 4, 4]
    labels = tp.classify_sulfur(counts.s_nsi, counts.s_nss)
    # corner pair: 1 BS + 6 NBS; edge pair: 2 BS + 4 NBS; dimer 2 SS_only; lone S free
    assert labels.tolist().count("BS") == 3
    assert labels.tolist().count("NBS") == 10
    assert labels.tolist().count("SS_only") == 2
    assert labels.tolist().count("free") == 1
    assert counts.na_ns.tolist() == [1, 0]
    topo = tp.frame_topology(counts)
    assert topo["n_corner_sharing"] == 1
    assert topo["n_edge_sharing"] == 1
    assert topo["n_face_sharing"] == 0
    assert topo["frac_BS"] == pytest.approx(3 / 16)
    assert topo["frac_S_in_SS"] == pytest.approx(2 / 16)
    assert topo["si_cn_4"] == 1.0
    # <r>: Si 4 x 4 = 16, S: 3 BS x 2 + 10 NBS x 1 + 2 dimer x 1 = 18, over 20 atoms
    assert topo["mean_r"] == pytest.approx(34 / 20)
    # constraints: Si 4 x 7, BS 3 x 2, terminal S (10 NBS + 2 dimer) x (1/2 + 1/2), Na 2 x 1/2
    n_c = (28 + 6 + 12 + 1) / 22
    assert topo["n_constraints"] == pytest.approx(n_c)
    assert topo["f_md"] == pytest.approx(3 - n_c)


def test_mixed_s_class():
    # Si-S-S-Si: each chain S has one Si and one S neighbour
    pos, types = build(
        [
            ("Si", [[10.0, 10.0, 10.0], [16.25, 10.0, 10.0]]),
            ("S", [[12.1, 10.0, 10.0], [14.15, 10.0, 10.0]]),
        ]
    )
    counts = tp.bond_counts(pos, types, SPECIES, BOX, CUTS)
    assert tp.classify_sulfur(counts.s_nsi, counts.s_nss).tolist() == ["SS_Si", "SS_Si"]


def test_periodic_bonds_across_the_boundary():
    pos, types = build([("Si", [[0.5, 30.0, 30.0]]), ("S", [[58.5, 30.0, 30.0]])])
    counts = tp.bond_counts(pos, types, SPECIES, BOX, CUTS)
    assert counts.si_cn.tolist() == [1]


def test_ideal_network_count_reproduces_eq1():
    from scipy import sparse

    # eq 1 (physics.md §6): f(0.5, 2) = (1 - 4 + 6)/(1 + 1 + 1) = 1,
    # f(0.1, 2) = (1.8 - 4 + 1.2)/(1 + 0.2 + 1.8) = -1/3
    for x, m, n_si, n_bs, n_nbs, n_na, f_eq1 in [
        (0.5, 2.0, 500, 500, 1000, 1000, 1.0),
        (0.1, 2.0, 9, 17, 2, 2, -1.0 / 3.0),
    ]:
        counts = tp.BondCounts(
            si_cn=np.full(n_si, 4),
            s_nsi=np.array([2] * n_bs + [1] * n_nbs),
            s_nss=np.zeros(n_bs + n_nbs, dtype=int),
            s_nna=np.zeros(n_bs + n_nbs, dtype=int),
            na_ns=np.ones(n_na, dtype=int),
            shared=sparse.csr_matrix((n_si, n_si)),
        )
        _, f = tp.constraint_count(counts)
        assert f == pytest.approx(f_eq1)
        assert tp.mean_field_floppy_fraction(x, m) == pytest.approx(f_eq1)
        assert tp._mean_field_f(x, m) == pytest.approx(f_eq1)


def test_mean_field_and_achieved_composition():
    assert tp.mean_field_floppy_fraction(0.1, 28 / 9) == pytest.approx(0.0, abs=1e-12)
    assert tp.achieved_composition(1000, 500, 1500) == pytest.approx((0.5, 2.0))
    assert tp.achieved_composition(200, 900, 1900) == pytest.approx((0.1, 2.0))
