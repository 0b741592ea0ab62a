"""Static structure of glasses and melts: g(r), coordination, bond angles, S(k).

Science: physics.md §5 and §8; Xu & Xia review eq 4 (g(r)), eq 6 (CN), eq 5 (bond-angle
distribution), eq 7 (S(q) by Fourier transform of g(r)), eq 8 (S(q) by direct k sums);
Sørensen 2023 Figure 2 (X-ray I(k) = k[S(k) - 1]) and Figure 5 (Na-Na prepeak, length
scale 7.7/k_pp, the first maximum of j0(kr)).

Conventions (all lengths in Å, wavevectors in 1/Å, angles in degrees):

* Positions are given per frame, shape (frames, atoms, 3), in an orthorhombic periodic box
  ``box_A = (Lx, Ly, Lz)``; unwrapped positions are wrapped here.
* ``types`` holds the species index of each atom into ``species`` (e.g. ("Na", "Si", "S")).
* Partial g_ab(r) is symmetric in (a, b). The running coordination number
  ``cn[a, b](r)`` is the mean number of b atoms within r of an a atom (not symmetric):
  the pair label "Si-S" means S around Si.
* Faber-Ziman partials: ``S_ab(k) - 1 = rho * int 4 pi r^2 (g_ab - 1) sin(kr)/(kr) dr``
  with rho the total number density; equivalently review eq 8 with the N/(N_a N_b) prefactor.
* Total S(k) (Faber-Ziman): ``S(k) - 1 = sum_ab c_a c_b w_a w_b (S_ab - 1) / (sum_a c_a w_a)^2``
  with w = X-ray form factor f0(k) (xraydb, Waasmaier-Kirfel) or neutron coherent scattering
  length b_c (periodictable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks
from scipy.spatial import cKDTree

from glassflow.settings import known_settings

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: kr at the first maximum of the spherical Bessel function j0 used to convert a k-space
#: prepeak position into a real-space length (Sørensen 2023, text near Figure 5).
PREPEAK_KR = 7.7


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class StructureSettings:
    """Settings of the structure analysis (``snakemake.params.settings``).

    r_max_A: g(r) range, Å; None means min(10, min(L)/2).
    dr_A: g(r) bin width, Å.
    cutoffs_A: first-minimum overrides, e.g. {"Si-S": 2.8} (order of the pair is irrelevant).
    ss_bond_max_A: a homopolar S-S bond exists only if g_SS has its first peak below this
        distance (Å); otherwise the S-S bond cutoff is this value (no bonds in practice).
    smooth_A: Gaussian smoothing (sigma, Å) of g(r) before searching the first minimum.
    k_min_inv_A, k_max_inv_A: k range of S(k), 1/Å.
    dk_inv_A: k step of the Fourier route, 1/Å.
    dk_direct_inv_A: |k| shell width of the direct route, 1/Å.
    window: "lorch" or "none": window w(r) of the Fourier transform (review eq 7).
    max_frames: at most this many frames (even stride) of a trajectory are analysed.
    prepeak_window_inv_A: k window (1/Å) searched for the Na-Na prepeak.
    max_k_vectors_per_shell: cap on k vectors per |k| shell in the direct route.
    angle_bin_deg: bond-angle histogram bin, degrees.
    workers: threads used for the neighbour search over frames.
    seed: seed of the random choice of k vectors in crowded shells.
    include_na_in_mean_r: count Na (and Na-S bonds) in the network mean coordination <r>.
    """

    r_max_A: float | None = None
    dr_A: float = 0.02
    cutoffs_A: Mapping[str, float] = field(default_factory=dict)
    ss_bond_max_A: float = 2.6
    smooth_A: float = 0.06
    k_min_inv_A: float = 0.3
    k_max_inv_A: float = 12.0
    dk_inv_A: float = 0.02
    dk_direct_inv_A: float = 0.05
    window: str = "lorch"
    max_frames: int = 50
    prepeak_window_inv_A: tuple[float, float] = (0.6, 1.5)
    max_k_vectors_per_shell: int = 64
    angle_bin_deg: float = 1.0
    workers: int = 2
    seed: int = 0
    include_na_in_mean_r: bool = False

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> StructureSettings:
        """Build settings from a dict; unknown keys raise ``ValueError`` naming them."""
        values = known_settings(cls, values, "structure")
        if "cutoffs_A" in values:
            values["cutoffs_A"] = {str(k): float(v) for k, v in dict(values["cutoffs_A"]).items()}
        if values.get("window", "lorch") not in ("lorch", "none"):
            raise ValueError(f"window must be 'lorch' or 'none', got {values['window']!r}")
        return cls(**values)

    def r_max_for(self, box_A: npt.ArrayLike) -> float:
        """g(r) range for a box: the setting, capped at half the shortest box length."""
        half = 0.5 * float(np.min(box_A))
        return min(half, 10.0) if self.r_max_A is None else min(float(self.r_max_A), half)


# --------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------- g(r)


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


# --------------------------------------------------------------------------- angles


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


# --------------------------------------------------------------------------- S(k)


def window_function(r_A: FloatArray, r_max_A: float, window: str = "lorch") -> FloatArray:
    """Window w(r) of review eq 7: Lorch sin(pi r/R)/(pi r/R), or 1 ("none")."""
    if window == "none":
        return np.ones_like(r_A)
    if window == "lorch":
        return np.sinc(r_A / r_max_A)  # numpy sinc(x) = sin(pi x)/(pi x)
    raise ValueError(f"unknown window {window!r}")


def structure_factor_fourier(
    pd: PairDistribution, k_inv_A: FloatArray, window: str = "lorch"
) -> FloatArray:
    """Faber-Ziman partial S_ab(k) (S, S, nk) by Fourier transform of g_ab(r) (review eq 7).

    ``S_ab(k) = 1 + 4 pi rho int_0^R w(r) (g_ab(r) - 1) r^2 sin(kr)/(kr) dr``, rho the total
    number density, R the g(r) range; midpoint rule on the g(r) bins. Unreliable below
    k ~ 2 pi / R (truncation); use :func:`structure_factor_direct` there.
    """
    r = pd.r_A
    dr = float(pd.edges_A[1] - pd.edges_A[0])
    w = window_function(r, float(pd.edges_A[-1]), window)
    k = np.asarray(k_inv_A, dtype=np.float64)
    kernel = np.sinc(np.outer(k, r) / np.pi) * (r**2 * w * dr)[None, :]  # (nk, nb)
    h = pd.g - 1.0
    return 1.0 + 4.0 * np.pi * pd.density_A3 * np.einsum("abr,kr->abk", h, kernel)


def k_vector_shells(
    box_A: npt.ArrayLike,
    k_min_inv_A: float,
    k_max_inv_A: float,
    dk_inv_A: float,
    max_per_shell: int = 64,
    seed: int = 0,
) -> tuple[IntArray, IntArray, int]:
    """Reciprocal-lattice vectors k = 2 pi (nx/Lx, ny/Ly, nz/Lz) of the cell, half space.

    Returns (n (K, 3) integer triplets, shell index (K,), number of shells); shells are
    |k| bins [k_min + i dk, k_min + (i+1) dk). Crowded shells keep at most ``max_per_shell``
    vectors chosen at random (seeded); low-k shells keep every vector (exact there).
    Only one of k, -k is kept (S(k) = S(-k)).
    """
    box = np.asarray(box_A, dtype=np.float64)
    b = 2.0 * np.pi / box
    nmax = np.floor(k_max_inv_A / b).astype(int)
    ax = [np.arange(-n, n + 1) for n in nmax]
    n_shells = int(math.ceil((k_max_inv_A - k_min_inv_A) / dk_inv_A - 1e-9))
    rng = np.random.default_rng(seed)
    ny, nz = np.meshgrid(ax[1], ax[2], indexing="ij")
    ny, nz = ny.ravel(), nz.ravel()
    parts_n: list[IntArray] = []
    parts_s: list[IntArray] = []
    for nx in ax[0][ax[0] >= 0]:  # half space: nx > 0, or nx = 0 and (ny, nz) > 0
        n = np.column_stack([np.full(ny.size, nx), ny, nz])
        if nx == 0:
            n = n[(n[:, 1] > 0) | ((n[:, 1] == 0) & (n[:, 2] > 0))]
        kk = np.linalg.norm(n * b, axis=1)
        sel = (kk >= k_min_inv_A) & (kk < k_min_inv_A + n_shells * dk_inv_A)
        parts_n.append(n[sel])
        parts_s.append(((kk[sel] - k_min_inv_A) / dk_inv_A).astype(np.intp))
    n = np.concatenate(parts_n) if parts_n else np.zeros((0, 3), np.intp)
    shell = np.concatenate(parts_s) if parts_s else np.zeros(0, np.intp)
    # random rank inside each shell; keep the first max_per_shell of each
    order = np.lexsort((rng.random(shell.size), shell))
    n, shell = n[order], shell[order]
    start = np.searchsorted(shell, shell, "left")
    keep = (np.arange(shell.size) - start) < max_per_shell
    return n[keep].astype(np.intp), shell[keep], n_shells


def _species_amplitudes(
    x: FloatArray, types: IntArray, n_species: int, box: FloatArray, n: IntArray, chunk: int
) -> npt.NDArray[np.complex128]:
    """rho_a(k) = sum_{i in a} exp(i k.r_i) for every species a and k vector, (S, K)."""
    nmax = np.abs(n).max(axis=0)
    out = np.zeros((n_species, n.shape[0]), dtype=np.complex128)
    # separable phases: exp(i 2 pi n x / L) = exp(i 2 pi x / L) ** n, tabulated per axis as
    # (2 nmax + 1, atoms) so that gathering the rows of a chunk of k vectors is contiguous
    tables = []
    for ax in range(3):
        base = np.exp(2j * np.pi * x[:, ax] / box[ax])
        powers = np.ones((2 * nmax[ax] + 1, x.shape[0]), dtype=np.complex128)
        for p in range(1, nmax[ax] + 1):
            powers[nmax[ax] + p] = powers[nmax[ax] + p - 1] * base
        powers[: nmax[ax]] = np.conj(powers[nmax[ax] + 1 :][::-1])
        tables.append(powers.astype(np.complex64))
    onehot = np.zeros((x.shape[0], n_species), dtype=np.complex64)
    onehot[np.arange(x.shape[0]), types] = 1.0
    shifted = n + nmax[None, :]
    for s in range(0, n.shape[0], chunk):
        nn = shifted[s : s + chunk]
        ph = tables[0][nn[:, 0]]
        ph *= tables[1][nn[:, 1]]
        ph *= tables[2][nn[:, 2]]
        out[:, s : s + chunk] = (ph @ onehot).T.astype(np.complex128)
    return out


def structure_factor_direct(
    positions: npt.ArrayLike,
    types: npt.ArrayLike,
    species: Sequence[str],
    box_A: npt.ArrayLike,
    k_min_inv_A: float = 0.3,
    k_max_inv_A: float = 12.0,
    dk_inv_A: float = 0.05,
    max_per_shell: int = 64,
    seed: int = 0,
    chunk: int = 512,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Faber-Ziman partial S_ab(k) by direct sums over reciprocal-lattice vectors (review eq 8).

    ``S_ab(k) = 1 + N/(N_a N_b) < Re(rho_a(k) rho_b(k)*) - delta_ab N_a >`` averaged over the
    k vectors of each |k| shell and over frames. Returns (k (nk,) mean |k| of the vectors
    in each non-empty shell, 1/Å; S (S, S, nk); vectors per shell (nk,)).
    """
    frames = _as_frames(positions)
    box = np.asarray(box_A, dtype=np.float64)
    t = np.asarray(types, dtype=np.intp)
    n_sp = len(species)
    n, shell, n_shells = k_vector_shells(
        box, k_min_inv_A, k_max_inv_A, dk_inv_A, max_per_shell, seed
    )
    kmag = np.linalg.norm(n * (2.0 * np.pi / box), axis=1)
    acc = np.zeros((n_sp, n_sp, n.shape[0]))
    for fr in frames:
        x = wrap_positions(fr, box)
        rho = _species_amplitudes(x, t, n_sp, box, n, chunk)
        acc += np.real(rho[:, None, :] * np.conj(rho[None, :, :]))
    acc /= len(frames)
    na = np.bincount(t, minlength=n_sp).astype(np.float64)
    acc[np.arange(n_sp), np.arange(n_sp)] -= na[:, None]
    counts = np.bincount(shell, minlength=n_shells)
    present = np.flatnonzero(counts)
    sums = np.zeros((n_sp, n_sp, n_shells))
    for a in range(n_sp):
        for b in range(n_sp):
            sums[a, b] = np.bincount(shell, weights=acc[a, b], minlength=n_shells)
    k_mean = np.bincount(shell, weights=kmag, minlength=n_shells)[present] / counts[present]
    with np.errstate(divide="ignore", invalid="ignore"):
        pref = na.sum() / np.outer(na, na)
    s_ab = 1.0 + pref[:, :, None] * sums[:, :, present] / counts[present]
    return k_mean, s_ab, counts[present].astype(np.int64)


def xray_form_factors(species: Sequence[str], k_inv_A: npt.ArrayLike) -> FloatArray:
    """Atomic X-ray form factors f0(k) (S, nk), electrons, from xraydb (Waasmaier-Kirfel).

    xraydb takes q = sin(theta)/lambda = k / (4 pi).
    """
    import xraydb

    q = np.asarray(k_inv_A, dtype=np.float64) / (4.0 * np.pi)
    return np.array([np.asarray(xraydb.f0(s, q), dtype=np.float64) for s in species])


def neutron_scattering_lengths(species: Sequence[str]) -> FloatArray:
    """Coherent neutron scattering lengths b_c (S,), fm, from periodictable."""
    import periodictable

    return np.array([float(periodictable.elements.symbol(s).neutron.b_c) for s in species])


def total_structure_factor(
    s_partial: FloatArray, concentrations: npt.ArrayLike, weights: npt.ArrayLike
) -> FloatArray:
    """Faber-Ziman total S(k) from partials (S, S, nk).

    ``S(k) = 1 + sum_ab c_a c_b w_a w_b (S_ab - 1) / (sum_a c_a w_a)^2``; weights (S,) or
    (S, nk) (X-ray f0(k) or neutron b_c).
    """
    c = np.asarray(concentrations, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = np.repeat(w[:, None], s_partial.shape[2], axis=1)
    cw = c[:, None] * w
    num = np.einsum("ak,bk,abk->k", cw, cw, s_partial - 1.0)
    return 1.0 + num / cw.sum(axis=0) ** 2


def interference_function(k_inv_A: FloatArray, s: FloatArray) -> FloatArray:
    """I(k) = k [S(k) - 1], 1/Å (Sørensen 2023 Figure 2)."""
    return np.asarray(k_inv_A) * (np.asarray(s) - 1.0)


@dataclass(frozen=True)
class Prepeak:
    """Low-k prepeak of S_NaNa(k): position (1/Å), height, length 7.7/k_pp (Å)."""

    k_inv_A: float
    height: float
    length_A: float
    is_local_max: bool


def prepeak(
    k_inv_A: FloatArray, s: FloatArray, window_inv_A: tuple[float, float] = (0.6, 1.5)
) -> Prepeak:
    """Maximum of S(k) inside the window; length scale 7.7/k_pp (Sørensen 2023, Figure 5).

    ``is_local_max`` is False when the maximum sits on the window edge (no true prepeak).
    """
    k = np.asarray(k_inv_A)
    sel = np.flatnonzero((k >= window_inv_A[0]) & (k <= window_inv_A[1]) & np.isfinite(s))
    if sel.size == 0:
        return Prepeak(float("nan"), float("nan"), float("nan"), False)
    i = sel[int(np.argmax(s[sel]))]
    local = bool(0 < i < k.size - 1 and i not in (sel[0], sel[-1]))
    kp = float(k[i])
    return Prepeak(kp, float(s[i]), PREPEAK_KR / kp, local)


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
