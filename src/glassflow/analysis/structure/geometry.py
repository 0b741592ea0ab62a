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


def wrap_positions(
    positions: npt.ArrayLike, box_A: npt.ArrayLike, dtype: npt.DTypeLike = np.float64
) -> npt.NDArray[np.floating]:
    """Positions wrapped into the periodic box: every coordinate in ``[0, L)``.

    ``x mod L`` is the exact remainder of the float x (``np.mod``), computed in float64
    and then cast to ``dtype``. A result that rounds up to L (in float64 for a tiny
    negative x, or in the cast) is set to 0, the same point of the periodic box, so
    the result is always ``>= 0`` and ``< L`` (as ``cKDTree(boxsize=L)`` requires).
    At the edges: x = L and every multiple of L map to 0; -0.0 maps to +0.0; a tiny
    negative x (e.g. -1e-20) maps to 0; x many boxes away maps to its remainder.
    NaN and infinite coordinates give NaN.

    Parameters
    ----------
    positions : (..., atoms, 3) float, Å
        Unwrapped (or wrapped) positions, any float or integer dtype.
    box_A : (3,) or (..., 3) float, Å
        Orthorhombic box lengths, finite and > 0. A (..., 3) array (one box per
        frame) broadcasts over the atoms axis of ``positions``.
    dtype : float dtype, optional
        Dtype of the result: float64 (default) for the analyses, the positions'
        float32 for the trajectory export.

    Returns
    -------
    (..., atoms, 3) ``dtype``, Å
        Wrapped positions, each coordinate in ``[0, L)`` of its axis.
    """
    out_dtype = np.dtype(dtype)
    if out_dtype.kind != "f":
        raise ValueError(f"wrap_positions: dtype must be a float dtype, got {out_dtype}")
    box = np.asarray(box_A, dtype=np.float64)
    if box.shape[-1:] != (3,) or not np.all(np.isfinite(box) & (box > 0)):
        raise ValueError(f"box lengths must be 3 finite values > 0 per box, got {box}")
    if box.ndim > 1:
        box = box[..., None, :]
    with np.errstate(invalid="ignore"):  # NaN/inf positions: NaN, as documented
        wrapped = np.mod(np.asarray(positions, dtype=np.float64), box).astype(out_dtype, copy=False)
    return np.where(wrapped >= box, out_dtype.type(0), wrapped)


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


def neighbours_within(
    centres_A: npt.ArrayLike, others_A: npt.ArrayLike, box_A: npt.ArrayLike, r_cut_A: float
) -> IntArray:
    """Indices of the ``others`` within ``r_cut`` of at least one centre (periodic).

    Parameters
    ----------
    centres_A : (n_centres, 3) float, Å
        Positions of the centres (wrapped here).
    others_A : (n_others, 3) float, Å
        Positions of the candidate neighbours (wrapped here).
    box_A : (3,) float, Å
        Orthorhombic box lengths.
    r_cut_A : float, Å
        Distance cutoff (a distance equal to it counts), minimum image.

    Returns
    -------
    (n_found,) intp
        Sorted unique indices into ``others_A``.
    """
    box = np.asarray(box_A, dtype=np.float64)
    tc = cKDTree(wrap_positions(centres_A, box), boxsize=box)
    to = cKDTree(wrap_positions(others_A, box), boxsize=box)
    pairs = tc.sparse_distance_matrix(to, r_cut_A, output_type="ndarray")
    return np.unique(pairs["j"]).astype(np.intp)


def coordination_numbers(
    centres_A: npt.ArrayLike, others_A: npt.ArrayLike, box_A: npt.ArrayLike, r_cut_A: float
) -> FloatArray:
    """Number of ``others`` within ``r_cut`` of each centre (periodic, minimum image).

    The coordination number of each centre at the cutoff ``r_cut`` (the per-atom count
    whose mean is CN of docs/physics.md §5, review eq 6, with r_min = r_cut). A centre
    that is itself in ``others`` counts itself.

    Parameters
    ----------
    centres_A : (n_centres, 3) float, Å
        Positions of the centres (wrapped here).
    others_A : (n_others, 3) float, Å
        Positions of the neighbours counted (wrapped here).
    box_A : (3,) float, Å
        Orthorhombic box lengths.
    r_cut_A : float, Å
        Distance cutoff (a distance equal to it counts).

    Returns
    -------
    (n_centres,) float64
        Neighbour count of each centre.
    """
    box = np.asarray(box_A, dtype=np.float64)
    to = cKDTree(wrap_positions(others_A, box), boxsize=box)
    counts = to.query_ball_point(wrap_positions(centres_A, box), r_cut_A, return_length=True)
    return np.asarray(counts, dtype=np.float64).reshape(-1)
