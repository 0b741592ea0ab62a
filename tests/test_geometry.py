"""Periodic-box geometry: wrap_positions at the box edge, periodic neighbour counts.

Expected wrapped values come from exact rational arithmetic (``fractions.Fraction``):
the remainder ``x - L floor(x / L)`` of the float x is computed exactly and rounded
once to the nearest float; a remainder that rounds to L is the point 0 of the periodic
box. The neighbour tests use hand-placed atoms whose minimum-image distances are exact
in binary floating point.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from glassflow.analysis.structure.geometry import (
    coordination_numbers,
    neighbours_within,
    wrap_positions,
)


def exact_wrap(x: float, box: float) -> float:
    """Independent reference: exact remainder in [0, L) rounded once to float64 (``float``
    of a Fraction is correctly rounded); a value that rounds to L is 0."""
    fx, fl = Fraction(x), Fraction(box)
    w = float(fx - fl * math.floor(fx / fl))
    return 0.0 if w >= box else w


def near_multiples(box: float, ks=range(-40, 41), ulps=3) -> np.ndarray:
    """k L and the ``ulps`` floats either side of it, for every k."""
    out = []
    for k in ks:
        x = k * box
        out.append(x)
        lo = hi = x
        for _ in range(ulps):
            lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
            out += [lo, hi]
    return np.asarray(out)


BOXES = (10.0, 41.277, 7.3)


@pytest.mark.parametrize("box", BOXES)
def test_multiples_of_the_box_length_wrap_to_zero(box):
    k = np.array([-7.0, -3.0, -1.0, 0.0, 1.0, 2.0, 7.0])
    x = np.stack([k * box, k * box, k * box], axis=1)
    w = wrap_positions(x, [box] * 3)
    # k L as a float may sit a rounding error off the exact multiple: compare with
    # the exact reference rather than with 0
    assert np.array_equal(w[:, 0], [exact_wrap(v, box) for v in x[:, 0]])
    assert w[4, 0] == 0.0 and wrap_positions([[box, box, box]], [box] * 3).tolist() == [[0.0] * 3]


def test_negative_zero_and_tiny_negatives_wrap_to_plus_zero():
    x = np.array([[-0.0, -1e-20, -5e-324], [-1e-300, -0.0, -1e-17]])
    w = wrap_positions(x, [10.0, 41.277, 7.3])
    assert np.array_equal(w, np.zeros((2, 3)))
    assert not np.any(np.signbit(w))  # +0.0, not -0.0
    # a negative value whose remainder is representable below L stays there
    w = wrap_positions([[-1e-14, -0.5, -7.3]], [10.0, 41.277, 7.3])
    assert w[0, 0] == exact_wrap(-1e-14, 10.0) and 0 < w[0, 0] < 10.0
    assert w[0, 1] == exact_wrap(-0.5, 41.277) and w[0, 2] == 0.0


@pytest.mark.parametrize("box", BOXES)
def test_values_near_every_multiple_match_exact_arithmetic(box):
    """k L +- a few ulps for |k| <= 40: the result is in [0, L) and equals the exact
    remainder rounded once (0 where that rounds to L)."""
    x = near_multiples(box)
    w = wrap_positions(np.repeat(x[:, None], 3, axis=1), [box] * 3)[:, 0]
    assert np.all((w >= 0) & (w < box))
    assert not np.any(np.signbit(w))
    assert np.array_equal(w, [exact_wrap(v, box) for v in x])


def test_values_many_boxes_away():
    box = np.array([10.0, 41.277, 7.3])
    x = np.array([[1e7 + 0.25, 1e15, 3.5 + 1000 * 7.3], [-(1e7 + 0.25), -1e15, -123456.789]])
    w = wrap_positions(x, box)
    assert w[0, 0] == 0.25 and w[1, 0] == 9.75  # 1e7 + 0.25 is exact in float64
    for i, j in np.ndindex(x.shape):
        assert w[i, j] == exact_wrap(x[i, j], box[j])
    assert np.all((w >= 0) & (w < box))


def test_random_positions_in_range_and_exact():
    rng = np.random.default_rng(0)
    box = np.array([12.5, 41.277, 3.3])
    x = rng.normal(scale=1e3, size=(2000, 3)) * box
    w = wrap_positions(x, box)
    assert w.dtype == np.float64 and np.all((w >= 0) & (w < box))
    sample = rng.choice(x.shape[0], 200, replace=False)
    for i in sample:
        for j in range(3):
            assert w[i, j] == exact_wrap(x[i, j], box[j])


def test_float32_result_stays_below_the_box_length():
    """In float32 (the trajectory export) a remainder just below L can round up to L in
    the cast: it must become 0 there too."""
    box = np.array([10.5, 10.0, 41.25])
    x = np.array([[-1e-7, -2e-7, -1e-6], [10.5, 20.0, 41.25], [-10.5, 3.25, 1.0]], np.float32)
    w = wrap_positions(x, box, dtype=np.float32)
    assert w.dtype == np.float32
    assert np.all((w >= 0) & (w.astype(np.float64) < box))
    assert np.array_equal(w[0], [0.0, 0.0, 0.0]) and np.array_equal(w[1], [0.0, 0.0, 0.0])
    assert np.array_equal(w[2], np.array([0.0, 3.25, 1.0], np.float32))
    many = near_multiples(10.5, ks=range(-20, 21), ulps=2).astype(np.float32)
    w = wrap_positions(np.repeat(many[:, None], 3, axis=1), [10.5] * 3, dtype=np.float32)
    assert np.all((w >= 0) & (w.astype(np.float64) < 10.5))


def test_one_box_per_frame_broadcasts_over_atoms():
    boxes = np.array([[10.0, 10.0, 10.0], [12.0, 12.0, 12.0]])
    pos = np.array([[[11.0, -1.0, 10.0], [5.0, 5.0, 5.0]], [[11.0, -1.0, 12.0], [25.0, 0, 0]]])
    w = wrap_positions(pos, boxes)
    expected = [[[1.0, 9.0, 0.0], [5.0, 5.0, 5.0]], [[11.0, 11.0, 0.0], [1.0, 0.0, 0.0]]]
    assert np.array_equal(w, expected)


def test_inputs_unchanged_ints_nan_and_bad_arguments():
    x = np.array([[-1.0, 10.0, 3.0]])
    x0 = x.copy()
    wrap_positions(x, [10.0] * 3)
    assert np.array_equal(x, x0)
    w = wrap_positions(np.array([[-1, 10, 23]]), [10.0] * 3)
    assert w.dtype == np.float64 and w.tolist() == [[9.0, 0.0, 3.0]]
    assert np.all(np.isnan(wrap_positions([[np.nan, np.inf, -np.inf]], [10.0] * 3)))
    for bad in ([10.0, 0.0, 10.0], [10.0, -1.0, 10.0], [np.nan, 1.0, 1.0], [10.0, 10.0]):
        with pytest.raises(ValueError, match="box lengths"):
            wrap_positions(x, bad)
    with pytest.raises(ValueError, match="float dtype"):
        wrap_positions(x, [10.0] * 3, dtype=np.int64)


def test_neighbours_and_coordination_across_the_boundary():
    """Box 10 Å. Centre A at (0.5, 5, 5): B at (9.5, 5, 5) is 1.0 Å away through the
    boundary (exactly the cutoff, counted), C at (2.0, 5, 5) is 1.5 Å away (not
    counted at 1.0, counted at 1.5). Centre D at (-0.25, 0, 0) (unwrapped): E at
    (9.5, 9.75, 0.0) is 0.25 sqrt(2) = 0.354 Å away through two faces."""
    box = np.array([10.0, 10.0, 10.0])
    centres = np.array([[0.5, 5.0, 5.0], [-0.25, 0.0, 0.0]])
    others = np.array([[9.5, 5.0, 5.0], [2.0, 5.0, 5.0], [9.5, 9.75, 0.0], [5.0, 0.0, 5.0]])
    assert coordination_numbers(centres, others, box, 1.0).tolist() == [1.0, 1.0]
    assert coordination_numbers(centres, others, box, 1.5).tolist() == [2.0, 1.0]
    assert coordination_numbers(centres, others, box, 0.3).tolist() == [0.0, 0.0]
    assert neighbours_within(centres, others, box, 1.0).tolist() == [0, 2]
    assert neighbours_within(centres, others, box, 1.5).tolist() == [0, 1, 2]
    assert neighbours_within(centres, others, box, 0.3).size == 0
    assert neighbours_within(centres, others, box, 0.3).dtype == np.intp
