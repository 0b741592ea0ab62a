"""Bond-angle distributions over the first coordination shell (physics.md §5).

Xu & Xia review eq 5: all A-B-C angles (degrees, centre B) between bonds to neighbours
within the B-A and B-C cutoffs (Å, from
:func:`glassflow.analysis.structure.pair_correlation.find_cutoffs`), their normalised
histogram and its peak.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d

from glassflow.analysis.structure.geometry import (
    _as_frames,
    lookup_pair,
    neighbour_pairs,
    wrap_positions,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def _angles_from_bonds(ci: IntArray, d: FloatArray, distinct: IntArray | None) -> FloatArray:
    """All angles (deg) between bond vectors sharing a centre (pairs of distinct neighbours)."""
    if ci.size < 2:
        return np.zeros(0)
    order = np.argsort(ci, kind="stable")
    ci, d = ci[order], d[order]
    nb_id = None if distinct is None else distinct[order]
    centres, start, count = np.unique(ci, return_index=True, return_counts=True)
    kmax = int(count.max())
    if kmax < 2:
        return np.zeros(0)
    slot = np.arange(ci.size) - np.repeat(start, count)
    row = np.repeat(np.arange(centres.size), count)
    vec = np.full((centres.size, kmax, 3), np.nan)
    vec[row, slot] = d / np.linalg.norm(d, axis=1)[:, None]
    ids = np.full((centres.size, kmax), -1, dtype=np.intp)
    if nb_id is not None:
        ids[row, slot] = nb_id
    out = []
    for p in range(kmax):
        for q in range(p + 1, kmax):
            c = np.einsum("ij,ij->i", vec[:, p], vec[:, q])
            ok = np.isfinite(c)
            if nb_id is not None:
                ok &= ids[:, p] != ids[:, q]
            out.append(c[ok])
    cosines = np.clip(np.concatenate(out), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))


def bond_angles(
    positions: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    box_A: npt.ArrayLike,
    triplet: tuple[str, str, str],
    cutoffs_A: Mapping[str, float],
) -> FloatArray:
    """All A-B-C angles (deg, centre B) over frames; neighbours within the B-A / B-C cutoffs.

    Review eq 5 (bond-angle distribution f(theta) over the first coordination shell).
    For A != C each (A, C) pair of neighbours gives one angle.
    """
    frames = _as_frames(positions)
    box = np.asarray(box_A, dtype=np.float64)
    t = np.asarray(types, dtype=np.intp)
    a, b, c = triplet
    idx = {s: np.flatnonzero(t == species.index(s)) for s in set(triplet) if s in species}
    if len(idx) < len(set(triplet)):
        return np.zeros(0)
    rc_ab = lookup_pair(cutoffs_A, b, a)
    rc_cb = lookup_pair(cutoffs_A, b, c)
    if rc_ab is None or rc_cb is None:
        raise KeyError(f"no cutoff for {b}-{a} or {b}-{c} in {dict(cutoffs_A)}")
    out = []
    for fr in frames:
        x = wrap_positions(fr, box)
        if a == c:
            ci, _, d = neighbour_pairs(x, box, idx[b], idx[a], rc_ab)
            out.append(_angles_from_bonds(ci, d, None))
        else:
            ci1, oj1, d1 = neighbour_pairs(x, box, idx[b], idx[a], rc_ab)
            ci2, oj2, d2 = neighbour_pairs(x, box, idx[b], idx[c], rc_cb)
            # mixed triplets: angles between an A bond and a C bond of the same centre
            out.append(_mixed_angles(ci1, d1, ci2, d2))
    return np.concatenate(out) if out else np.zeros(0)


def _mixed_angles(ci1: IntArray, d1: FloatArray, ci2: IntArray, d2: FloatArray) -> FloatArray:
    if ci1.size == 0 or ci2.size == 0:
        return np.zeros(0)
    o1, o2 = np.argsort(ci1), np.argsort(ci2)
    ci1, d1, ci2, d2 = ci1[o1], d1[o1], ci2[o2], d2[o2]
    u1 = d1 / np.linalg.norm(d1, axis=1)[:, None]
    u2 = d2 / np.linalg.norm(d2, axis=1)[:, None]
    lo = np.searchsorted(ci2, ci1, "left")
    hi = np.searchsorted(ci2, ci1, "right")
    n = hi - lo
    rows = np.repeat(np.arange(ci1.size), n)
    cols = np.concatenate([np.arange(s, e) for s, e in zip(lo, hi, strict=True)] or [[]])
    cols = cols.astype(np.intp)
    c = np.clip(np.einsum("ij,ij->i", u1[rows], u2[cols]), -1.0, 1.0)
    return np.degrees(np.arccos(c))


def angle_distribution(
    angles_deg: FloatArray, bin_deg: float = 1.0
) -> tuple[FloatArray, FloatArray]:
    """Histogram of angles on [0, 180] deg normalised to unit area (density in 1/deg).

    No sin(theta) Jacobian is removed (the usual bond-angle distribution, review eq 5).
    """
    edges = np.arange(0.0, 180.0 + 0.5 * bin_deg, bin_deg)
    hist, _ = np.histogram(angles_deg, bins=edges)
    total = hist.sum()
    dens = hist / (total * bin_deg) if total else np.zeros(hist.shape)
    return 0.5 * (edges[1:] + edges[:-1]), dens.astype(np.float64)


def angle_peak(theta_deg: FloatArray, density: FloatArray, smooth_deg: float = 2.0) -> float:
    """Position (deg) of the maximum of a smoothed angle distribution (NaN if empty)."""
    if not np.any(density > 0):
        return float("nan")
    step = float(theta_deg[1] - theta_deg[0])
    s = gaussian_filter1d(density, smooth_deg / step)
    return float(theta_deg[int(np.argmax(s))])
