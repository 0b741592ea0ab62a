"""Structure factors S(k): Fourier route, direct k sums, X-ray and neutron totals.

Science: physics.md §5 and §8; Xu & Xia review eq 7 (S(q) by Fourier transform of g(r)),
eq 8 (S(q) by direct k sums); Sørensen 2023 Figure 2 (X-ray I(k) = k[S(k) - 1]) and
Figure 5 (Na-Na prepeak, length scale 7.7/k_pp, the first maximum of j0(kr)).

Conventions (lengths in Å, wavevectors in 1/Å):

* Faber-Ziman partials: ``S_ab(k) - 1 = rho * int 4 pi r^2 (g_ab - 1) sin(kr)/(kr) dr``
  with rho the total number density; equivalently review eq 8 with the N/(N_a N_b) prefactor.
* Total S(k) (Faber-Ziman): ``S(k) - 1 = sum_ab c_a c_b w_a w_b (S_ab - 1) / (sum_a c_a w_a)^2``
  with w = X-ray form factor f0(k) (xraydb, Waasmaier-Kirfel) or neutron coherent scattering
  length b_c (periodictable).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from glassflow.analysis.structure.geometry import _as_frames, wrap_positions
from glassflow.analysis.structure.pair_correlation import PairDistribution

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
#: kr at the first maximum of the spherical Bessel function j0 used to convert a k-space
#: prepeak position into a real-space length (Sørensen 2023, text near Figure 5).
PREPEAK_KR = 7.7


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
