"""Covariance of an all-origin MSD between lags, and generalised least squares on it.

Used by :mod:`glassflow.analysis.dynamics.transport` for the Einstein diffusivity (docs/physics.md
§4, eq 2 and eq 4) and the collective conductivity (eq 5). The derivation is written out
for users in ``docs/transport.md``; in short:

**One particle, one pair of segments.** Let ``s_A = |r(u + t_A) - r(u)|^2`` and
``s_B = |r(v + t_B) - r(v)|^2`` be squared displacements over two time segments A and
B of one particle. If the displacement has independent increments (a random walk, a
hopping process, any diffusive process at times longer than its memory), write
``dA = Y + X`` and ``dB = X + Z`` with X the displacement over the *overlap* of the
segments (length ``o``) and Y, Z the independent, zero-mean rest. Expanding the
squares, every cross term has a zero-mean independent factor, so

    Cov(s_A, s_B) = Var(|X(o)|^2) =: V(o)                                   (C1)

the variance of the squared displacement over the overlap alone, and 0 for disjoint
segments. For Gaussian displacements ``V(o) = (2/3) <r^2(o)>^2 = (2/3)(6 D o)^2``
(a chi-square with 3 degrees of freedom). A non-Gaussian process adds its fourth
cumulant, which for a process with short memory grows linearly in time:

    V(o) = (2/3) (6 D o)^2 + kappa o,     kappa >= 0                        (C2)

and ``kappa`` is measured from the fourth moment through the non-Gaussian parameter
(eq 13): ``<r^4> - (5/3) <r^2>^2 = (5/3) <r^2>^2 alpha2 = kappa t`` at long times.

**All-origin average.** The MSD at lag ``t_i`` averages ``s`` over the origins
``u in [0, S_i]`` (``S_i = (n_frames - lag_i) dt`` in the continuum limit) and over
``N`` independent particles, so

    Cov(m_i, m_j) = 1 / (N S_i S_j) * int_0^{S_i} du int_0^{S_j} dv V(o_ij(u, v))   (C3)

with ``o_ij(u, v)`` the overlap of ``[u, u + t_i]`` and ``[v, v + t_j]``. With
``delta = u - v`` the double integral is one integral of piecewise-linear functions:
the overlap ``f(delta)`` and the number of origin pairs at that offset ``w(delta)``;
it is evaluated exactly by Gauss-Legendre quadrature between their breakpoints.
For Gaussian displacements and ``t << S`` the variance is
``Var(m) = (2/3) <r^2>^2 / N_eff`` with ``N_eff = N (3 S / 2 t)`` statistically
independent observations per lag: a particle contributes about ``S / t``
non-overlapping windows, and overlapping ones add half as much again.

**Fit.** ``m = X beta + noise`` with ``X = [6 t, 1]`` (``beta = (D, c)``, the intercept
absorbing the ballistic/cage offset), ``Cov = Sigma``. With the Cholesky factor
``Sigma = L L^T``, whitened rows ``L^-1 X``, ``L^-1 m`` give the generalised least
squares estimate ``beta = F^-1 b``, ``F = X^T Sigma^-1 X``, ``b = X^T Sigma^-1 m``,
``Cov(beta) = F^-1``. Independent replicas add their ``F`` and ``b``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import linalg

FloatArray = npt.NDArray[np.float64]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(3)
#: relative diagonal jitter that keeps the Cholesky factor of near-singular
#: covariance matrices (densely spaced lags) well defined
_JITTER = 1e-10


def gaussian_v2(d: float) -> float:
    """Coefficient of ``o^2`` in eq C2 for diffusivity ``d`` (units of MSD per time / 6).

    ``(2/3) (6 d)^2``: the variance of a 3-D Gaussian squared displacement over a
    segment of length ``o`` is ``(2/3) <r^2>^2 = (2/3)(6 d o)^2``.
    """
    return (2.0 / 3.0) * (6.0 * d) ** 2


def overlap_variance_integral(
    t_i: npt.ArrayLike,
    t_j: npt.ArrayLike,
    s_i: npt.ArrayLike,
    s_j: npt.ArrayLike,
    v2: float,
    v1: float = 0.0,
) -> FloatArray:
    """``int_0^{s_i} du int_0^{s_j} dv V(o)`` of eq C3 with ``V(o) = v2 o^2 + v1 o``.

    ``t_i, t_j``: lags; ``s_i, s_j``: origin ranges (same time unit, broadcast
    together). Exact: the integrand is piecewise polynomial of degree <= 3 in the
    origin offset, integrated with 3-point Gauss-Legendre between breakpoints.
    """
    ti, tj, si, sj = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (t_i, t_j, s_i, s_j))
    )
    zero = np.zeros_like(ti)
    bp = np.sort(np.stack([-ti, zero, tj - ti, tj, -sj, si - sj, zero, si], axis=-1), axis=-1)
    lo, hi = bp[..., :-1], bp[..., 1:]
    half = 0.5 * (hi - lo)
    mid = 0.5 * (hi + lo)
    x = mid[..., None] + half[..., None] * _GL_NODES  # (..., 7, 3)
    tie, tje, sie, sje = (a[..., None, None] for a in (ti, tj, si, sj))
    f = np.clip(np.minimum(x + tie, tje) - np.maximum(x, 0.0), 0.0, None)
    w = np.clip(np.minimum(sje, sie - x) - np.maximum(0.0, -x), 0.0, None)
    v = v2 * f * f + v1 * f
    return np.sum(np.sum(v * w * _GL_WEIGHTS, axis=-1) * half, axis=-1)


def msd_covariance_basis(
    t: npt.ArrayLike, n_frames: int, dt: float, n_particles: float
) -> tuple[FloatArray, FloatArray]:
    """``(A, B)`` with ``Cov(m_i, m_j) = v2 A_ij + v1 B_ij`` (eq C3 for eq C2's V).

    Lags ``t`` in the time unit of ``dt``; ``n_frames`` frames, so lag ``t`` has
    ``S = n_frames dt - t`` of origin range; ``n_particles`` independent particles.
    Only the upper triangle is integrated (the matrices are symmetric).
    """
    tt = np.asarray(t, dtype=np.float64)
    s = n_frames * dt - tt
    if np.any(s <= 0):
        raise ValueError(f"lags up to {tt.max():g} exceed the run ({n_frames} frames x {dt:g})")
    i, j = np.triu_indices(tt.size)
    norm = n_particles * s[i] * s[j]
    out = []
    for v2, v1 in ((1.0, 0.0), (0.0, 1.0)):
        m = np.empty((tt.size, tt.size))
        vals = overlap_variance_integral(tt[i], tt[j], s[i], s[j], v2, v1) / norm
        m[i, j] = vals
        m[j, i] = vals
        out.append(m)
    return out[0], out[1]


@lru_cache(maxsize=32)
def _unit_basis(lag_bytes: bytes, n_frames: int, dt: float) -> tuple[FloatArray, FloatArray]:
    lags = np.frombuffer(lag_bytes, dtype=np.int64)
    a, b = msd_covariance_basis(lags * dt, n_frames, dt, 1.0)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def cached_covariance_basis(
    lag_frames: npt.ArrayLike, n_frames: int, dt: float
) -> tuple[FloatArray, FloatArray]:
    """:func:`msd_covariance_basis` for one particle at integer lags (read-only, cached).

    Divide by the number of particles; take sub-matrices for a subset of the lags.
    Replicas, species and windows of one campaign share a lag grid, so the integrals
    are done once per grid.
    """
    lags = np.ascontiguousarray(lag_frames, dtype=np.int64)
    return _unit_basis(lags.tobytes(), int(n_frames), float(dt))


def msd_covariance(
    t: npt.ArrayLike,
    n_frames: int,
    dt: float,
    n_particles: float,
    v2: float,
    v1: float = 0.0,
) -> FloatArray:
    """Covariance matrix (eq C3) of the all-origin MSD at lags ``t`` (time units of dt).

    ``V(o) = v2 o^2 + v1 o`` (eq C2, MSD units squared); see
    :func:`msd_covariance_basis` for the other arguments.
    """
    a, b = msd_covariance_basis(t, n_frames, dt, n_particles)
    return v2 * a + v1 * b


@dataclass(frozen=True)
class GLSTerms:
    """Information form of one GLS fit: ``F = X^T Sigma^-1 X``, ``b = X^T Sigma^-1 y``.

    ``yy = y^T Sigma^-1 y`` so that the chi-square of any ``beta`` is
    ``yy - 2 beta.b + beta.F.beta``; ``n`` data points; ``logdet = ln det Sigma``.
    Terms of independent data sets (replicas) add.
    """

    F: FloatArray
    b: FloatArray
    yy: float
    n: int
    logdet: float = 0.0

    def __add__(self, other: GLSTerms) -> GLSTerms:
        return GLSTerms(
            self.F + other.F,
            self.b + other.b,
            self.yy + other.yy,
            self.n + other.n,
            self.logdet + other.logdet,
        )

    def solve(self) -> tuple[FloatArray, FloatArray]:
        """``(beta, Cov(beta))``."""
        cov = linalg.inv(self.F)
        return cov @ self.b, cov

    def chi2(self, beta: FloatArray) -> float:
        return float(self.yy - 2.0 * beta @ self.b + beta @ self.F @ beta)

    def neg2_log_likelihood(self) -> float:
        """``-2 ln L`` of the Gaussian model at the GLS ``beta`` (constants dropped)."""
        beta, _ = self.solve()
        return self.chi2(beta) + self.logdet


def gls_terms(design: npt.ArrayLike, y: npt.ArrayLike, cov: npt.ArrayLike) -> GLSTerms:
    """Whitened normal-equation terms of ``y = design @ beta`` with covariance ``cov``."""
    x = np.asarray(design, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64)
    c = np.asarray(cov, dtype=np.float64)
    scale = float(np.mean(np.diag(c)))
    if not scale > 0:
        raise ValueError("covariance matrix has no positive variance")
    chol = linalg.cholesky(c / scale + _JITTER * np.eye(c.shape[0]), lower=True)
    xw = linalg.solve_triangular(chol, x, lower=True) / np.sqrt(scale)
    yw = linalg.solve_triangular(chol, yv, lower=True) / np.sqrt(scale)
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol)))) + yv.size * np.log(scale)
    return GLSTerms(xw.T @ xw, xw.T @ yw, float(yw @ yw), int(yv.size), logdet)


def profile_variance_terms(
    designs: list[FloatArray],
    ys: list[FloatArray],
    mains: list[FloatArray],
    roughs: list[FloatArray],
    nuggets: list[FloatArray],
    rough_grid: npt.ArrayLike,
    nugget_grid: npt.ArrayLike,
    penalty: float = 2.0,
) -> tuple[float, float, float]:
    """Maximum-likelihood amplitudes ``(g, e)`` of ``Sigma = main + g rough + e diag(nugget)``.

    One entry per independent data set (replica): design ``X`` (n, p), data ``y`` (n),
    the fixed matrix ``main``, the matrix ``rough`` and the positive diagonal
    ``nugget`` (n). The Gaussian ``-2 ln L`` is profiled over the GLS ``beta``; every
    non-zero amplitude costs ``penalty`` (2: Akaike), so an amplitude is used only when
    the data ask for it. For each ``g`` one symmetric eigendecomposition of
    ``N^-1/2 (main + g rough) N^-1/2`` makes the scan over ``e`` cost O(n) per value.
    Returns ``(g, e, -2 ln L + penalties)``.
    """
    gs = np.asarray(rough_grid, dtype=np.float64)
    es = np.asarray(nugget_grid, dtype=np.float64)
    p = designs[0].shape[1]
    best = (np.inf, 0.0, 0.0)
    for g in gs:
        f_tot = np.zeros((es.size, p, p))
        b_tot = np.zeros((es.size, p))
        yy_tot = np.zeros(es.size)
        ld_tot = np.zeros(es.size)
        cache: dict[tuple[int, int, int], tuple[FloatArray, FloatArray]] = {}
        for x, y, main, rough, nug in zip(designs, ys, mains, roughs, nuggets, strict=True):
            key = (id(main), id(rough), id(nug))
            if key not in cache:
                root = 1.0 / np.sqrt(nug)
                lam, q = linalg.eigh((main + g * rough) * np.outer(root, root), driver="evd")
                cache[key] = (np.clip(lam, 1e-12 * max(lam[-1], 1e-300), None), q)
            lam, q = cache[key]
            root = 1.0 / np.sqrt(nug)
            xp = q.T @ (x * root[:, None])
            yp = q.T @ (y * root)
            w = 1.0 / (lam[None, :] + es[:, None])  # (E, n)
            f_tot += np.einsum("en,ni,nj->eij", w, xp, xp)
            b_tot += np.einsum("en,ni,n->ei", w, xp, yp)
            yy_tot += w @ (yp * yp)
            ld_tot += np.sum(np.log(lam[None, :] + es[:, None]), axis=1) + np.sum(np.log(nug))
        beta = np.linalg.solve(f_tot, b_tot[..., None])[..., 0]
        chi2 = yy_tot - np.einsum("ei,ei->e", b_tot, beta)
        score = chi2 + ld_tot + penalty * ((es > 0).astype(float) + float(g > 0))
        k = int(np.argmin(score))
        if score[k] < best[0]:
            best = (float(score[k]), float(g), float(es[k]))
    return best[1], best[2], best[0]
