"""Periodic-box geometry shared by the structure, topology and softness analyses.

Pair labels ("Si-S" means S around Si), wrapping of unwrapped positions into the box,
minimum-image separation vectors, even frame striding and the periodic neighbour search
(``cKDTree(boxsize=L)``).

Conventions (lengths in Å): positions are given per frame, shape (frames, atoms, 3), in
an orthorhombic periodic box ``box_A = (Lx, Ly, Lz)``; unwrapped positions are wrapped
here. ``types`` holds the species index of each atom into ``species`` (e.g.
("Na", "Si", "S")).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def pair_label(a: str, b: str) -> str:
    """Label of the (ordered) pair: "Si-S" means b = S around a = Si."""
    return f"{a}-{b}"


def unordered_pairs(species: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (a <= b) in species order."""
    n = len(species)
    return [(a, b) for a in range(n) for b in range(a, n)]


def lookup_pair(mapping: Mapping[str, float], a: str, b: str) -> float | None:
    """Value for the pair a-b in a dict keyed "A-B" in either order, or None."""
    for key in (f"{a}-{b}", f"{b}-{a}"):
        if key in mapping:
            return float(mapping[key])
    return None


def wrap_positions(positions: npt.ArrayLike, box_A: npt.ArrayLike) -> FloatArray:
    """Positions wrapped into [0, L) per axis (float64), as cKDTree(boxsize=L) requires."""
    box = np.asarray(box_A, dtype=np.float64)
    x = np.mod(np.asarray(positions, dtype=np.float64), box)
    x[x >= box] = 0.0  # float rounding can give exactly L
    return x


def minimum_image(d: FloatArray, box_A: FloatArray) -> FloatArray:
    """Minimum-image separation vectors (in place), Å."""
    d -= box_A * np.rint(d / box_A)
    return d


def frame_stride(n_frames: int, max_frames: int) -> IntArray:
    """Indices of at most ``max_frames`` evenly strided frames (stride = ceil(n/max))."""
    stride = max(1, math.ceil(n_frames / max(1, max_frames)))
    return np.arange(0, n_frames, stride, dtype=np.intp)


def _as_frames(positions: npt.ArrayLike) -> np.ndarray:
    pos = np.asarray(positions)
    if pos.ndim == 2:
        pos = pos[None]
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must be (frames, atoms, 3), got shape {pos.shape}")
    return pos


def neighbour_pairs(
    x: FloatArray,
    box_A: FloatArray,
    centres: IntArray,
    others: IntArray,
    r_cut_A: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs (centre, neighbour) within r_cut (global atom indices) and separation vectors.

    ``x`` must be wrapped; periodic search with cKDTree(boxsize=L).sparse_distance_matrix.
    Self pairs are dropped when the two sets overlap.
    """
    if centres.size == 0 or others.size == 0 or not np.isfinite(r_cut_A):
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros((0, 3))
    ta = cKDTree(x[centres], boxsize=box_A)
    tb = cKDTree(x[others], boxsize=box_A)
    m = ta.sparse_distance_matrix(tb, r_cut_A, output_type="ndarray")
    ci = centres[m["i"]]
    oj = others[m["j"]]
    keep = ci != oj
    ci, oj = ci[keep], oj[keep]
    d = minimum_image(x[oj] - x[ci], box_A)
    return ci, oj, d
