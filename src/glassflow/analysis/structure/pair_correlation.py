"""Pair distribution functions g_ab(r), running coordination numbers, bond cutoffs.

Science: physics.md §5 and §8; Xu & Xia review eq 4 (g(r)) and eq 6 (CN); section 2.2.1
(the first minimum of g(r) bounds the first coordination shell, hence the bond cutoffs
of :mod:`glassflow.analysis.topology`).

Conventions (all lengths in Å):

* Positions are given per frame, shape (frames, atoms, 3), in an orthorhombic periodic box
  ``box_A = (Lx, Ly, Lz)``; unwrapped positions are wrapped here.
* ``types`` holds the species index of each atom into ``species`` (e.g. ("Na", "Si", "S")).
* Partial g_ab(r) is symmetric in (a, b). The running coordination number
  ``cn[a, b](r)`` is the mean number of b atoms within r of an a atom (not symmetric):
  the pair label "Si-S" means S around Si.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks
from scipy.spatial import cKDTree

from glassflow.analysis.structure.geometry import (
    _as_frames,
    lookup_pair,
    pair_label,
    unordered_pairs,
    wrap_positions,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class PairDistribution:
    """Partial pair distribution functions (review eq 4) and running CN (review eq 6).

    r_A: bin centres (nb,), Å; edges_A: (nb+1,), Å.
    g: (S, S, nb) symmetric partial g_ab(r).
    cn: (S, S, nb) running coordination number of b around a at the upper bin edge.
    counts: (S, S, nb) ordered pair counts (i in a, j in b, i != j) summed over frames.
    n_atoms: (S,) atoms per species; volume_A3: box volume; n_frames: frames averaged.
    """

    species: tuple[str, ...]
    r_A: FloatArray
    edges_A: FloatArray
    g: FloatArray
    cn: FloatArray
    counts: FloatArray
    n_atoms: npt.NDArray[np.int64]
    volume_A3: float
    n_frames: int

    @property
    def density_A3(self) -> float:
        """Total number density, 1/Å^3."""
        return float(self.n_atoms.sum()) / self.volume_A3

    def index(self, name: str) -> int:
        return self.species.index(name)

    def partial(self, a: str, b: str) -> FloatArray:
        return self.g[self.index(a), self.index(b)]

    def running_cn(self, a: str, b: str) -> FloatArray:
        return self.cn[self.index(a), self.index(b)]


def _frame_pair_histogram(
    x: FloatArray,
    types: IntArray,
    n_species: int,
    box: FloatArray,
    r_max: float,
    dr: float,
    n_bins: int,
) -> npt.NDArray[np.int64]:
    """Unordered pair histogram of one frame, flat (S*S*nb,), keyed (min type, max type, bin)."""
    tree = cKDTree(x, boxsize=box, leafsize=16, balanced_tree=False)
    pairs = tree.query_pairs(r_max, output_type="ndarray")
    # float32 coordinates and int32 indices with np.take: ~3x faster gathers than x[i]
    ij = pairs.T.astype(np.int32)
    i, j = ij[0], ij[1]
    xs = x.T.astype(np.float32)
    r2 = np.zeros(i.size, dtype=np.float32)
    for c in range(3):
        d = xs[c].take(i)
        d -= xs[c].take(j)
        d -= np.float32(box[c]) * np.rint(d * np.float32(1.0 / box[c]))
        r2 += d * d
    b = (np.sqrt(r2) * np.float32(1.0 / dr)).astype(np.int32)
    np.minimum(b, n_bins - 1, out=b)
    ti = types.take(i)
    tj = types.take(j)
    key = (np.minimum(ti, tj) * n_species + np.maximum(ti, tj)) * n_bins + b
    return np.bincount(key, minlength=n_species * n_species * n_bins)


def pair_histogram(
    positions: npt.ArrayLike,
    types: npt.ArrayLike,
    n_species: int,
    box_A: npt.ArrayLike,
    r_max_A: float,
    dr_A: float,
    workers: int = 2,
) -> npt.NDArray[np.int64]:
    """Ordered pair counts (S, S, nb) within r_max, summed over frames.

    Periodic neighbour search with ``cKDTree(boxsize=L).query_pairs`` per frame and one
    ``np.bincount`` keyed by (pair type, bin); frames run on ``workers`` threads (scipy and
    numpy release the GIL). counts[a, b] counts (i in a, j in b, i != j): unordered like pairs
    are counted twice, so ``counts`` is symmetric.
    """
    frames = _as_frames(positions)
    box = np.asarray(box_A, dtype=np.float64)
    if r_max_A > 0.5 * box.min() + 1e-9:
        raise ValueError(f"r_max {r_max_A} Å exceeds half the shortest box length {box.min() / 2}")
    t = np.asarray(types, dtype=np.int32)
    n_bins = int(round(r_max_A / dr_A))
    r_max = n_bins * dr_A

    def one(k: int) -> npt.NDArray[np.int64]:
        x = wrap_positions(frames[k], box)
        return _frame_pair_histogram(x, t, n_species, box, r_max, dr_A, n_bins)

    total = np.zeros(n_species * n_species * n_bins, dtype=np.int64)
    if workers > 1 and len(frames) > 1:
        with ThreadPoolExecutor(workers) as ex:
            for h in ex.map(one, range(len(frames))):
                total += h
    else:
        for k in range(len(frames)):
            total += one(k)
    h = total.reshape(n_species, n_species, n_bins).astype(np.float64)
    ordered = h.copy()
    # like pairs: each unordered pair is an (i, j) and a (j, i) ordered pair
    diag = np.arange(n_species)
    ordered[diag, diag] *= 2.0
    # unlike pairs were stored at (min, max): mirror them
    lower_i, lower_j = np.tril_indices(n_species, -1)
    ordered[lower_i, lower_j] = ordered[lower_j, lower_i]
    return ordered


def pair_distribution(
    positions: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    box_A: npt.ArrayLike,
    r_max_A: float | None = None,
    dr_A: float = 0.02,
    workers: int = 2,
) -> PairDistribution:
    """Partial g_ab(r) and running CN averaged over frames (review eq 4 and 6).

    ``g_ab(r) = n_ab(r) / (N_a rho_b 4/3 pi (r_hi^3 - r_lo^3))`` with n_ab the ordered pair
    count per frame in the shell and rho_b = N_b / V; exact shell volumes. Like and unlike
    pairs share this formula because n_aa counts each pair twice. ``cn_ab(r) = sum n_ab / N_a``
    up to the upper bin edge (= rho_b int_0^r g_ab 4 pi r'^2 dr').
    """
    frames = _as_frames(positions)
    box = np.asarray(box_A, dtype=np.float64)
    t = np.asarray(types, dtype=np.intp)
    n_sp = len(species)
    r_max = min(10.0, 0.5 * box.min()) if r_max_A is None else float(r_max_A)
    counts = pair_histogram(frames, t, n_sp, box, r_max, dr_A, workers)
    n_bins = counts.shape[2]
    edges = np.arange(n_bins + 1) * dr_A
    volume = float(np.prod(box))
    n_atoms = np.bincount(t, minlength=n_sp).astype(np.int64)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    na = n_atoms.astype(np.float64)
    per_frame = counts / len(frames)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = na[:, None, None] * (na[None, :, None] / volume) * shell[None, None, :]
        g = np.where(norm > 0, per_frame / norm, 0.0)
        cn = np.where(na[:, None, None] > 0, np.cumsum(per_frame, axis=2) / na[:, None, None], 0)
    return PairDistribution(
        species=tuple(species),
        r_A=0.5 * (edges[1:] + edges[:-1]),
        edges_A=edges,
        g=g,
        cn=cn,
        counts=counts,
        n_atoms=n_atoms,
        volume_A3=volume,
        n_frames=len(frames),
    )


def partial_rdf(
    pos_a: npt.ArrayLike,
    pos_b: npt.ArrayLike,
    box_A: npt.ArrayLike,
    r_max_A: float | None = None,
    dr_A: float = 0.05,
    same: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Partial g_ab(r) between two sets of positions at one frame (review eq 4).

    ``g_ab(r) = n_ab(r) / (N_a rho_b 4/3 pi (r_hi^3 - r_lo^3))`` (docs/physics.md §5),
    n_ab the number of (a, b) pairs in the shell, exact shell volumes, periodic KD-tree
    neighbour search (minimum image). Unlike :func:`pair_distribution` (species of one
    configuration) the two sets can be any subsets, e.g. fast and slow Na ([S23]
    §3.4.3). With ``same`` the two sets are the same atoms: self pairs are dropped and
    ``rho_b = (N_b - 1) / V``, so an ideal gas of few atoms still gives g = 1.

    Parameters
    ----------
    pos_a : (N_a, 3) float, Å
        Positions of the centres (wrapped here).
    pos_b : (N_b, 3) float, Å
        Positions of the neighbours (wrapped here); ``pos_a`` itself with ``same``.
    box_A : (3,) float, Å
        Orthorhombic box lengths.
    r_max_A : float, Å, optional
        Largest distance, default half the shortest box length.
    dr_A : float, Å
        Bin width; bins ``[k dr, (k + 1) dr)`` from 0.
    same : bool
        Whether ``pos_b`` are the same atoms as ``pos_a``.

    Returns
    -------
    r_A : (n_bins,) float64, Å
        Bin centres.
    g : (n_bins,) float64, dimensionless
        g_ab(r); zeros when either set is empty (or has one atom with ``same``).
    """
    box = np.asarray(box_A, dtype=np.float64)
    r_max = float(np.min(box) / 2.0 if r_max_A is None else r_max_A)
    edges = np.arange(0.0, r_max + 0.5 * dr_A, dr_A)
    a = wrap_positions(pos_a, box)
    b = wrap_positions(pos_b, box)
    ta, tb = cKDTree(a, boxsize=box), cKDTree(b, boxsize=box)
    pairs = ta.sparse_distance_matrix(tb, r_max, output_type="ndarray")
    d = pairs["v"][pairs["i"] != pairs["j"]] if same else pairs["v"]
    counts = np.histogram(d, bins=edges)[0].astype(np.float64)
    nb = b.shape[0] - 1 if same else b.shape[0]
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    g = np.zeros_like(counts)
    if a.shape[0] and nb > 0:
        g = counts / (a.shape[0] * (nb / float(np.prod(box))) * shell)
    return 0.5 * (edges[1:] + edges[:-1]), g


def coordination_number(pd: PairDistribution, a: str, b: str, r_cut_A: float) -> float:
    """Mean number of b atoms within r_cut of an a atom (review eq 6), linear in the bin."""
    if not np.isfinite(r_cut_A):
        return float("nan")
    cn = np.concatenate([[0.0], pd.running_cn(a, b)])
    return float(np.interp(r_cut_A, pd.edges_A, cn))


def first_peak_and_minimum(
    r_A: FloatArray,
    g: FloatArray,
    smooth_A: float = 0.06,
    min_height: float = 1.0,
    counts: FloatArray | None = None,
    min_counts: float = 10.0,
) -> tuple[float, float]:
    """Position (Å) of the first maximum of g(r) and of the minimum that follows it.

    g is smoothed with a Gaussian of sigma ``smooth_A``; the first maximum is the first
    local maximum above ``min_height`` (an ideal gas has g = 1) with prominence at least
    max(0.1, 5 % of the highest value) and, if pair ``counts`` per bin are given, at least
    ``min_counts`` pairs within +-3 sigma of it (rejects noise at tiny r); the minimum is the
    first point after it that is the lowest within +-3 sigma (before the next maximum),
    taken at the middle of a flat run of equal values (zero plateaus of crystals). NaN
    when absent. Review section 2.2.1: the first minimum of g(r) bounds the first
    coordination shell (CN, eq 6; bond cutoffs).
    """
    dr = float(r_A[1] - r_A[0])
    gs = gaussian_filter1d(np.asarray(g, dtype=np.float64), max(smooth_A / dr, 1e-6))
    if not np.any(gs > min_height):
        return float("nan"), float("nan")
    peaks, _ = find_peaks(gs, height=min_height, prominence=max(0.1, 0.05 * float(gs.max())))
    if counts is not None and peaks.size:
        half = max(1, int(round(3 * smooth_A / dr)))
        csum = np.concatenate([[0.0], np.cumsum(counts)])
        lo = np.clip(peaks - half, 0, gs.size)
        hi = np.clip(peaks + half + 1, 0, gs.size)
        peaks = peaks[csum[hi] - csum[lo] >= min_counts]
    if peaks.size == 0:
        return float("nan"), float("nan")
    p0 = int(peaks[0])
    stop = int(peaks[1]) if peaks.size > 1 else gs.size
    seg = gs[p0:stop]
    tol = 1e-6 + 1e-3 * float(gs[p0])
    # first point that is the lowest within +-3 sigma (a local minimum robust to noise dips)
    w = max(1, int(round(3 * smooth_A / dr)))
    padded = np.concatenate([seg, np.full(w, np.inf)])
    windows = np.lib.stride_tricks.sliding_window_view(
        np.concatenate([np.full(w, np.inf), padded]), 2 * w + 1
    )[: seg.size]
    is_min = seg <= windows.min(axis=1) + tol
    is_min[0] = False
    if not np.any(is_min):
        return float(r_A[p0]), float("nan")
    lo = int(np.argmax(is_min))
    if p0 + lo >= gs.size - 1:
        return float(r_A[p0]), float("nan")
    # a flat run of equal minima (crystal zero plateau): take its middle
    hi = lo
    while hi < seg.size - 1 and seg[hi + 1] <= seg[lo] + tol:
        hi += 1
    return float(r_A[p0]), float(r_A[p0 + (lo + hi) // 2])


def find_cutoffs(
    pd: PairDistribution,
    overrides: Mapping[str, float] | None = None,
    smooth_A: float = 0.06,
) -> tuple[dict[str, float], dict[str, float]]:
    """First-peak positions and first-minimum cutoffs (Å) for every unordered pair.

    Returns (r_peak, r_cut) keyed "A-B" in species order; ``overrides`` (either pair order)
    replace the automatic cutoff.
    """
    overrides = overrides or {}
    peaks: dict[str, float] = {}
    cuts: dict[str, float] = {}
    for a, b in unordered_pairs(pd.species):
        sa, sb = pd.species[a], pd.species[b]
        rp, rc = first_peak_and_minimum(pd.r_A, pd.g[a, b], smooth_A, counts=pd.counts[a, b])
        over = lookup_pair(overrides, sa, sb)
        peaks[pair_label(sa, sb)] = rp
        cuts[pair_label(sa, sb)] = rc if over is None else over
    return peaks, cuts


def homopolar_bond_cutoff(
    pd: PairDistribution,
    element: str,
    overrides: Mapping[str, float] | None = None,
    bond_max_A: float = 2.6,
    smooth_A: float = 0.06,
) -> float:
    """Cutoff (Å) of a homopolar bond (e.g. S-S) for the network topology.

    The automatic first minimum of g_SS is a bond cutoff only when the first S-S peak is a
    bond (below ``bond_max_A``); for m = 2 glasses the first S-S peak is the tetrahedral edge
    near 3.3 Å (physics.md §8) and the cutoff falls back to ``bond_max_A``. An override
    "S-S" wins.
    """
    over = lookup_pair(overrides or {}, element, element)
    if over is not None:
        return over
    if element not in pd.species:
        return bond_max_A
    i = pd.index(element)
    rp, rc = first_peak_and_minimum(pd.r_A, pd.g[i, i], smooth_A, counts=pd.counts[i, i])
    if np.isfinite(rp) and rp < bond_max_A and np.isfinite(rc):
        return float(rc)
    return float(bond_max_A)


def tetrahedral_ss_distance(
    pd: PairDistribution, former: str = "Si", chalcogen: str = "S"
) -> float:
    """Intra-tetrahedral S-S distance (Å): the highest g_SS point in [1.3, 2.0] r_SiS.

    An ideal tetrahedron has r_SS / r_SiS = sqrt(8/3) = 1.633; physics.md §8 quotes
    3.3/2.1 = 1.57 for NS. Searching near that ratio skips homopolar S-S bonds (m > 2).
    """
    if former not in pd.species or chalcogen not in pd.species:
        return float("nan")
    ia, ib = pd.index(former), pd.index(chalcogen)
    r_sis, _ = first_peak_and_minimum(pd.r_A, pd.g[ia, ib], counts=pd.counts[ia, ib])
    if not np.isfinite(r_sis):
        return float("nan")
    sel = (pd.r_A >= 1.3 * r_sis) & (pd.r_A <= 2.0 * r_sis)
    if not np.any(sel):
        return float("nan")
    g = gaussian_filter1d(pd.partial(chalcogen, chalcogen), 3.0)[sel]
    return float(pd.r_A[sel][int(np.argmax(g))])
