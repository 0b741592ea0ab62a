"""Tests of glassflow.analysis.rigidity (physics.md §6; PRL eq 1-4)."""

from __future__ import annotations

import numpy as np
import pytest

from glassflow.analysis import rigidity as rg


def test_named_thresholds() -> None:
    assert rg.critical_m(0.1) == pytest.approx(28.0 / 9.0)
    assert rg.critical_x(2.0) == pytest.approx(0.2)
    assert rg.critical_x(4.0) == pytest.approx(0.0, abs=1e-15)


def test_critical_m_and_x_are_inverse() -> None:
    x = np.linspace(0.0, 1.0 / 3.0, 41)
    np.testing.assert_allclose(rg.critical_x(rg.critical_m(x[:-1])), x[:-1], atol=1e-12)
    m = np.linspace(0.5, 4.0, 36)
    np.testing.assert_allclose(rg.critical_m(rg.critical_x(m)), m, rtol=1e-12)


@pytest.mark.parametrize("x", [0.0, 0.05, 0.1, 0.2, 0.3])
def test_f_changes_sign_at_m_c(x: float) -> None:
    m_c = (4.0 - 12.0 * x) / (1.0 - x)  # physics.md §6, f = 0 of eq 1
    assert rg.critical_m(x) == pytest.approx(m_c, rel=1e-12)
    eps = 1e-3
    assert rg.floppy_fraction(x, m_c - eps) < 0.0 < rg.floppy_fraction(x, m_c + eps)
    assert rg.floppy_fraction(x, m_c) == pytest.approx(0.0, abs=1e-12)
    assert rg.rigidity_regime(x, m_c) == "isostatic"
    assert rg.rigidity_regime(x, m_c + 0.1) == "flexible"
    assert rg.rigidity_regime(x, m_c - 0.1) == "stressed-rigid"


def test_floppy_fraction_vectorised_and_closed_form() -> None:
    x = np.linspace(0.0, 0.9, 10)[:, None]
    m = np.linspace(0.5, 8.0, 16)[None, :]
    f = rg.floppy_fraction(x, m)
    assert f.shape == (10, 16)
    closed = (m * (1 - x) - 4 + 12 * x) / (1 + 2 * x + m * (1 - x))
    np.testing.assert_allclose(f, closed, atol=1e-12)
    # SiS2 (x = 0, m = 2): 11 constraints on 3 atoms, f = 3 - 11/3 < 0 (stressed rigid)
    assert rg.floppy_fraction(0.0, 2.0) == pytest.approx(3.0 - 11.0 / 3.0)
    labels = rg.rigidity_regime(x, m)
    assert labels.shape == (10, 16)
    assert set(np.unique(labels)) <= set(rg.REGIMES)


def test_building_blocks_sum_to_one() -> None:
    x = np.linspace(0.0, 1.0 / 3.0, 11)[:, None]
    m = np.linspace(2.0, 6.0, 9)[None, :]
    p2, p3, p4 = rg.building_blocks(x, m)
    np.testing.assert_allclose(p2 + p3 + p4, 1.0, atol=1e-12)
    np.testing.assert_allclose(p2, np.broadcast_to(1.0 - 2.0 / m, p2.shape), atol=1e-12)
    for p in (p2, p3, p4):
        assert np.all((p >= 0) & (p <= 1))
    p2s, p3s, p4s = rg.building_blocks(0.1, 3.0)
    assert isinstance(p2s, float)
    assert p4s == pytest.approx(2 * 0.7 / (3 * 0.9))


def test_building_blocks_refuse_outside_domain() -> None:
    with pytest.raises(ValueError, match=r"p4.*\(x, m\) = \(0\.4, 3\.0\)"):
        rg.building_blocks(0.4, 3.0)
    with pytest.raises(ValueError, match="p2"):
        rg.building_blocks(0.3, 1.9)
    with pytest.raises(ValueError, match=r"0\.4"):
        rg.building_blocks(np.array([0.1, 0.4]), 3.0)


@pytest.mark.parametrize(
    ("x", "m", "match"),
    [(1.0, 2.0, "x must lie"), (-0.1, 2.0, "x must lie"), (0.1, 0.0, "m must be > 0"),
     (np.nan, 2.0, "finite")],
)  # fmt: skip
def test_domain_checks(x: float, m: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        rg.floppy_fraction(x, m)
    with pytest.raises(ValueError, match="pole"):
        rg.critical_x(12.0)


def test_hopping_model_pieces() -> None:
    weights = {(4, 3): 24.0, (3, 3): 9.0, (3, 2): 12.0}
    energies = {(4, 3): 0.0, (3, 3): 0.0, (2, 3): 0.0}
    p = rg.connection_probabilities(0.2, 3.0, weights, energies, kT=1.0)
    assert sum(p.values()) == pytest.approx(1.0)
    # physics.md §6 at (x, m) = (0.2, 3): p4 = 2(1 - 3x)/(m(1 - x)) = 0.8/2.4,
    # p3 = 4x/(m(1 - x)) = 0.8/2.4, p2 = 1 - 2/m: all three are 1/3
    p2 = p3 = p4 = 1.0 / 3.0
    raw = np.array([24 * p4 * p3, 9 * p3 * p3, 12 * p3 * p2])
    np.testing.assert_allclose([p[(4, 3)], p[(3, 3)], p[(3, 2)]], raw / raw.sum())
    # a cluster with a larger energy gain E_jk is rarer: exp(-E_jk / kT)
    hot = rg.connection_probabilities(
        0.2, 3.0, weights, {(4, 3): 0.0, (3, 3): 0.5, (2, 3): 1.0}, kT=0.5
    )
    raw = np.array([24.0, 9.0 * np.exp(-1.0), 12.0 * np.exp(-2.0)])  # p_j p_k = 1/9 cancels
    np.testing.assert_allclose([hot[(4, 3)], hot[(3, 3)], hot[(3, 2)]], raw / raw.sum())
    with pytest.raises(ValueError, match="energies missing"):
        rg.connection_probabilities(0.2, 3.0, weights, {(4, 3): 0.0}, kT=1.0)

    # eq 2: only flexible clusters (N_c < 3N) contribute
    f2 = rg.floppy_density_f2(
        {(4, 3): 0.5, (3, 3): 0.5}, {(4, 3): 10, (3, 3): 10}, {(4, 3): 30, (3, 3): 25}
    )
    assert f2 == pytest.approx(0.5 * 5 / 10)

    ec = rg.mean_coulomb_energy([0.5, 0.5], [[1.0], [1.0, 2.0]], e_c=0.1, kT=1.0)
    expected = 0.5 * 0.1 * np.exp(-0.1) + 0.5 * (0.1 * np.exp(-0.1) + 0.2 * np.exp(-0.2))
    assert ec == pytest.approx(expected)

    s0 = rg.hopping_conductivity(0.2, 0.0, 0.0, delta=0.2, kT=1.0)
    s1 = rg.hopping_conductivity(0.2, 0.0, 0.5, delta=0.2, kT=1.0)
    assert s0 == pytest.approx(0.4)
    assert s1 == pytest.approx(0.4 * np.exp(0.1))  # E_m = -delta f2 lowers the barrier
    with pytest.raises(ValueError, match="kT"):
        rg.hopping_conductivity(0.2, 0.0, 0.0, delta=0.2, kT=0.0)
