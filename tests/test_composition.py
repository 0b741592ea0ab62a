"""Atom counts, achieved x/m and net charge against hand-computed cases (physics.md §1-2)."""

import pytest

from glassflow.md.composition import (
    achieved_m,
    achieved_x,
    composition_from_counts,
    counts_from_xm,
    net_charge,
    neutralised_charges,
)

Q = {"Na": 0.6, "Si": 2.4, "S": -1.2}


def test_ns_counts_at_3000():
    c = counts_from_xm(0.5, 2.0, 3000)
    assert c.counts == {"Na": 1000, "Si": 500, "S": 1500}
    assert c.x_achieved == pytest.approx(0.5)
    assert c.m_achieved == pytest.approx(2.0)
    assert net_charge(c.counts, Q) == pytest.approx(0.0)
    assert c.label == "x0.50_m2.00"


def test_ns9_counts_at_3000():
    c = counts_from_xm(0.1, 2.0, 3000)
    assert c.counts == {"Na": 200, "Si": 900, "S": 1900}
    assert net_charge(c.counts, Q) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("x", "m", "n", "counts", "q_net"),
    [
        # n = 3000/3.9 = 769.23: N_Si = round(692.3) = 692, n_Na2S = round(76.9) = 77,
        # N_S = 77 + round(3*692) = 2153; q = 0.6*154 + 2.4*692 - 1.2*2153 = -830.4
        (0.1, 3.0, 3000, {"Na": 154, "Si": 692, "S": 2153}, -830.4),
        # n = 1000/4.6 = 217.4: N_Si = round(173.9) = 174, n_Na2S = round(43.5) = 43,
        # N_S = 43 + 4*174 = 739; q = 51.6 + 417.6 - 886.8 = -417.6
        (0.2, 4.0, 1000, {"Na": 86, "Si": 174, "S": 739}, -417.6),
        # n = 250/3.5 = 71.43: N_Si = 36, n_Na2S = 36, N_S = 36 + 108 = 144
        (0.5, 3.0, 250, {"Na": 72, "Si": 36, "S": 144}, -43.2),
    ],
)
def test_m_above_two_by_hand(x, m, n, counts, q_net):
    c = counts_from_xm(x, m, n)
    assert c.counts == counts
    assert net_charge(c.counts, Q) == pytest.approx(q_net)
    assert c.x_achieved == pytest.approx(achieved_x(counts["Na"], counts["Si"]))
    assert abs(c.m_achieved - m) < 0.01


def test_prl_series_from_explicit_counts():
    # PRL NS9 series: N_Na = 200, N_Si = 900..300, N_S = 2800 - N_Si
    for n_si in (900, 600, 300):
        c = composition_from_counts({"Na": 200, "Si": n_si, "S": 2800 - n_si})
        assert c.n_atoms == 3000
        assert c.x_requested == pytest.approx(100 / (100 + n_si), abs=1e-6)
        assert c.m_requested == pytest.approx((2700 - n_si) / n_si, abs=1e-6)
    assert achieved_m(200, 600, 2200) == pytest.approx(3.5)


def test_scale_anion_restores_neutrality_and_background_keeps_charges():
    counts = {"Na": 154, "Si": 692, "S": 2153}
    scaled = neutralised_charges(counts, Q, "S", "scale_anion")
    assert net_charge(counts, scaled) == pytest.approx(0.0, abs=1e-9)
    assert scaled["Na"] == 0.6 and scaled["Si"] == 2.4
    assert scaled["S"] == pytest.approx(-(0.6 * 154 + 2.4 * 692) / 2153)
    assert neutralised_charges(counts, Q, "S", "background") == Q
    # m = 2 keeps the potential's charges under either policy
    ns = {"Na": 1000, "Si": 500, "S": 1500}
    assert neutralised_charges(ns, Q, "S", "scale_anion") == Q


@pytest.mark.parametrize(
    ("x", "m", "msg"), [(1.0, 2.0, r"\[0, 1\)"), (-0.1, 2, r"\[0, 1\)"), (0.5, 1.9, "below")]
)
def test_out_of_range_rejected(x, m, msg):
    with pytest.raises(ValueError, match=msg):
        counts_from_xm(x, m, 300)


def test_too_few_atoms_rejected():
    with pytest.raises(ValueError, match="too small"):
        counts_from_xm(0.1, 2.0, 3)
