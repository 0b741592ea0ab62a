"""Transport fields over the composition plane (x, m): Gaussian-process interpolation.

A campaign measures log10 sigma (or log10 D_Na) at a few grid compositions. This module
turns those points into a field with an uncertainty, so that maps show what is known and
how well (docs/physics.md §1 for the (x, m) family, §4 for sigma and D).

Model (one temperature at a time)::

    y_i = mu + g(m_i, x_i) + eps_i,    g ~ GP(0, sigma_f^2 k),    eps_i ~ N(0, s_i^2 + sigma_n^2)

* ``y`` is log10 of the quantity (decades), ``s_i`` the reported standard error of y_i
  (replica spread, or the propagated fit error), floored at ``NOISE_FLOOR_DEC``;
  ``sigma_n`` is a fitted extra scatter ("nugget") for what the reported errors miss.
* ``k`` is the squared-exponential kernel with one length scale per axis, on coordinates
  scaled to the unit range of the measured compositions (m and x have different units).
* The constant mean ``mu`` has a flat prior and is integrated out (universal kriging):
  hyperparameters (sigma_f, l_m, l_x, sigma_n) maximise the *restricted* marginal
  likelihood within the bounds of :func:`hyper_bounds`, and the predictive variance
  includes the uncertainty of ``mu``.
* Predictions are of the latent field ``mu + g`` (no measurement noise added): ``std``
  is the standard deviation of log10 y in decades.

A 2-D field needs at least 3 compositions that are not on one line; otherwise
:func:`interpolate_field` returns no field and a note saying why (maps then show points).
Along one line of constant x (``fit_gp(..., along_m_only=True)``, the adaptive
refinement of :mod:`glassflow.campaign.adaptive`) the same GP is fitted to >= 3 distinct
m; the x coordinate is then scaled by 1 and its length scale plays no role.

The hopping-model field (PRL eq 2-4, :mod:`glassflow.analysis.rigidity`) needs the cluster tables of
the PRL supplement; :class:`HoppingInputs` carries them when a user has them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import linalg, optimize

from glassflow.analysis.rigidity import (
    connection_probabilities,
    floppy_density_f2,
    hopping_conductivity,
    mean_coulomb_energy,
)

FloatArray = npt.NDArray[np.float64]

#: Smallest per-point noise standard deviation used in the GP, decades of y.
NOISE_FLOOR_DEC = 0.01
#: Relative tolerance of the collinearity test (smallest/largest singular value).
COLLINEAR_RTOL = 1e-6


# --------------------------------------------------------------------------- threads


@contextlib.contextmanager
def _single_blas_thread() -> Iterator[None]:
    """Run tiny linear algebra on one BLAS thread (threadpoolctl, a scikit-learn dependency).

    The GP matrices are at most a few hundred wide; on a loaded machine a multi-threaded
    BLAS made the hyperparameter search ten times slower than one thread.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1):
        yield


# --------------------------------------------------------------------------- geometry


def distinct_points(m: npt.ArrayLike, x: npt.ArrayLike) -> FloatArray:
    """Unique (m, x) pairs as an (n, 2) array."""
    pts = np.column_stack([np.asarray(m, dtype=float).ravel(), np.asarray(x, dtype=float).ravel()])
    return np.unique(pts, axis=0) if pts.size else pts.reshape(0, 2)


def spans_plane(m: npt.ArrayLike, x: npt.ArrayLike) -> bool:
    """True when >= 3 distinct (m, x) points span a 2-D area (coordinates unit-scaled)."""
    pts = distinct_points(m, x)
    if pts.shape[0] < 3:
        return False
    span = np.ptp(pts, axis=0)
    if np.any(span == 0):
        return False
    scaled = (pts - pts.min(axis=0)) / span
    sv = np.linalg.svd(scaled - scaled.mean(axis=0), compute_uv=False)
    return bool(sv[-1] > COLLINEAR_RTOL * sv[0])


def degenerate_reason(m: npt.ArrayLike, x: npt.ArrayLike) -> str | None:
    """Why a 2-D field cannot be interpolated from these points, or None if it can."""
    n = distinct_points(m, x).shape[0]
    if n == 0:
        return "no measured composition"
    if n < 3:
        return f"{n} composition{'s' if n > 1 else ''}: a map needs >= 3 not on one line"
    if not spans_plane(m, x):
        return f"{n} compositions on one line: a map needs points off that line"
    return None


# --------------------------------------------------------------------------- GP


@dataclass(frozen=True)
class GPHyper:
    """Kernel hyperparameters: amplitude and nugget in decades, length scales in scaled units."""

    sigma_f: float
    length_m: float
    length_x: float
    sigma_n: float


@dataclass(frozen=True)
class GPFit:
    """A fitted GP over (m, x); ``predict`` gives mean and std of log10 y (decades)."""

    m: FloatArray
    x: FloatArray
    y: FloatArray
    noise_var: FloatArray  # reported s_i^2 (floored), decades^2
    hyper: GPHyper
    mu: float  # GLS estimate of the constant mean, decades
    log_likelihood: float  # restricted log marginal likelihood at the optimum
    origin: tuple[float, float]  # (m0, x0) of the coordinate scaling
    scale: tuple[float, float]  # (span_m, span_x) of the coordinate scaling

    def _scaled(self, m: FloatArray, x: FloatArray) -> FloatArray:
        return np.column_stack(
            [(m - self.origin[0]) / self.scale[0], (x - self.origin[1]) / self.scale[1]]
        )

    def predict(self, m: npt.ArrayLike, x: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and std (decades) of the latent field at (m, x) (any equal shapes)."""
        with _single_blas_thread():
            return self._predict(m, x)

    def predict_joint(self, m: npt.ArrayLike, x: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Posterior mean (G,) and covariance (G, G) of the latent field at G points.

        ``m`` and ``x`` broadcast to one shape and are flattened (G points); decades and
        decades^2. The diagonal of the covariance is the square of ``predict``'s std (up
        to rounding); the off-diagonal terms include the shared uncertainty of the
        integrated-out mean. For joint posterior samples (e.g. of the location of a
        maximum).
        """
        with _single_blas_thread():
            ma, xa = np.broadcast_arrays(np.asarray(m, dtype=float), np.asarray(x, dtype=float))
            test = self._scaled(ma.ravel(), xa.ravel())
            mean, k_star, kinv_ks, lever, one_kinv_1 = self._solve(test)
            h = self.hyper
            lengths = np.array([h.length_m, h.length_x])
            cov = _se_kernel(test, test, h.sigma_f, lengths) - k_star @ kinv_ks
            cov = cov + np.outer(lever, lever) / one_kinv_1
            return mean, 0.5 * (cov + cov.T)

    def _solve(
        self, test: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
        """Mean at scaled test points and the pieces of the posterior (co)variance."""
        h = self.hyper
        train = self._scaled(self.m, self.x)
        lengths = np.array([h.length_m, h.length_x])
        k_tt = _se_kernel(train, train, h.sigma_f, lengths)
        cov = k_tt + np.diag(self.noise_var + h.sigma_n**2)
        chol = linalg.cho_factor(cov, lower=True)
        ones = np.ones(self.y.size)
        k_star = _se_kernel(test, train, h.sigma_f, lengths)  # (G, n)
        kinv_r = linalg.cho_solve(chol, self.y - self.mu)
        mean = self.mu + k_star @ kinv_r
        kinv_ks = linalg.cho_solve(chol, k_star.T)  # (n, G)
        kinv_1 = linalg.cho_solve(chol, ones)
        # uncertainty of the integrated-out constant mean (universal kriging)
        lever = 1.0 - ones @ kinv_ks
        return mean, k_star, kinv_ks, lever, float(ones @ kinv_1)

    def _predict(self, m: npt.ArrayLike, x: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        ma, xa = np.broadcast_arrays(np.asarray(m, dtype=float), np.asarray(x, dtype=float))
        shape = ma.shape
        test = self._scaled(ma.ravel(), xa.ravel())
        mean, k_star, kinv_ks, lever, one_kinv_1 = self._solve(test)
        var = self.hyper.sigma_f**2 - np.einsum("gn,ng->g", k_star, kinv_ks)
        var = var + lever**2 / one_kinv_1
        std = np.sqrt(np.clip(var, 0.0, None))
        return mean.reshape(shape), std.reshape(shape)


def _se_kernel(a: FloatArray, b: FloatArray, sigma_f: float, lengths: FloatArray) -> FloatArray:
    d = (a[:, None, :] - b[None, :, :]) / lengths
    return sigma_f**2 * np.exp(-0.5 * np.sum(d * d, axis=-1))


def restricted_log_likelihood(
    y: FloatArray, pts: FloatArray, noise_var: FloatArray, hyper: GPHyper
) -> float:
    """Restricted (mean integrated out, flat prior) log marginal likelihood of the GP model.

    ``log L = -1/2 r^T K^-1 r - 1/2 log|K| - 1/2 log(1^T K^-1 1) - (n-1)/2 log 2 pi`` with
    ``r = y - mu_GLS``; ``pts`` are unit-scaled coordinates (n, 2).
    """
    return _restricted_ll_and_grad(y, pts, noise_var, hyper, gradient=False)[0]


def _restricted_ll_and_grad(
    y: FloatArray, pts: FloatArray, noise_var: FloatArray, hyper: GPHyper, gradient: bool = True
) -> tuple[float, FloatArray]:
    """Restricted log likelihood and its gradient in (log sigma_f, log l_m, log l_x, log sigma_n).

    Gradient: ``d logL/d theta = 1/2 y^T P K' P y - 1/2 tr(P K')`` with
    ``P = K^-1 - K^-1 1 1^T K^-1 / (1^T K^-1 1)`` (the REML identity).
    """
    lengths = np.array([hyper.length_m, hyper.length_x])
    diff = pts[:, None, :] - pts[None, :, :]
    d2 = (diff / lengths) ** 2  # (n, n, 2)
    corr = np.exp(-0.5 * d2.sum(-1))
    n = y.size
    cov = hyper.sigma_f**2 * corr + np.diag(noise_var + hyper.sigma_n**2)
    try:
        chol = linalg.cho_factor(cov, lower=True)
    except linalg.LinAlgError:
        return -np.inf, np.zeros(4)
    kinv = linalg.cho_solve(chol, np.eye(n))
    kinv_1 = kinv.sum(axis=1)
    denom = float(kinv_1.sum())
    proj = kinv - np.outer(kinv_1, kinv_1) / denom
    py = proj @ y
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
    ll = -0.5 * (float(y @ py) + logdet + np.log(denom) + (n - 1) * np.log(2.0 * np.pi))
    if not gradient:
        return ll, np.zeros(4)
    base = hyper.sigma_f**2 * corr
    derivs = (
        2.0 * base,
        base * d2[..., 0],
        base * d2[..., 1],
        2.0 * hyper.sigma_n**2 * np.eye(n),
    )
    grad = np.array([0.5 * float(py @ dk @ py) - 0.5 * float(np.sum(proj * dk)) for dk in derivs])
    return ll, grad


def hyper_bounds(
    pts: FloatArray, y: FloatArray
) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Bounds of (sigma_f, length_m, length_x, sigma_n); pts unit-scaled, y in decades.

    * sigma_f in [0.01, max(0.1, 2 ptp(y))] decades: from "flat" to twice the data range;
    * each length scale in [half the smallest spacing between distinct coordinates on that
      axis, 2] (scaled units: 1 = the measured span): no wiggles between neighbouring
      points that the data cannot resolve, and no correlation claimed over more than
      twice the measured span (with 3-4 points the likelihood alone would push the length
      to infinity and the std to ~0 away from the points);
    * sigma_n in [1e-3, max(0.01, ptp(y))] decades (extra scatter beyond the reported errors).
    """
    ptp = float(np.ptp(y)) if y.size else 0.0
    out = []
    for axis in range(2):
        u = np.unique(np.round(pts[:, axis], 12))
        gaps = np.diff(u)
        lo = 0.5 * float(gaps.min()) if gaps.size else 0.5
        out.append((max(lo, 0.05), 2.0))
    return (0.01, max(0.1, 2.0 * ptp)), out[0], out[1], (1e-3, max(0.01, ptp))


def along_m_reason(m: npt.ArrayLike, x: npt.ArrayLike) -> str | None:
    """Why a field along m (at one x) cannot be fitted to these points, or None if it can."""
    xa = np.asarray(x, dtype=float).ravel()
    if xa.size and np.ptp(xa) != 0:
        return f"x varies ({xa.min():g} to {xa.max():g}): a field along m needs one x"
    n = np.unique(np.asarray(m, dtype=float).ravel()).size
    if n < 3:
        return f"{n} distinct m: a field along m needs >= 3"
    return None


def fit_gp(
    m: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    y_se: npt.ArrayLike,
    *,
    along_m_only: bool = False,
) -> GPFit:
    """Fit the GP of the module docstring to points (m_i, x_i, y_i +- y_se_i), y in decades.

    Non-finite ``y_se`` are replaced by the median of the finite ones (or the floor);
    every ``y_se`` is floored at :data:`NOISE_FLOOR_DEC`. Hyperparameters maximise the
    restricted marginal likelihood (L-BFGS-B in log space from a small deterministic
    set of starts, within :func:`hyper_bounds`). Raises ValueError for < 3 points or
    points that do not span the plane.

    With ``along_m_only=True`` the points must share one x (a line of the plane) and
    have >= 3 distinct m (:func:`along_m_reason`); the x axis is scaled by 1 (its span
    is 0), its length scale stays at its start (no datum depends on it) and predictions
    are meant at that x. Repeated m (replicas) are allowed in both modes.
    """
    ma = np.asarray(m, dtype=float).ravel()
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    se = np.asarray(y_se, dtype=float).ravel()
    if not (ma.size == xa.size == ya.size == se.size):
        raise ValueError(
            f"m, x, y, y_se must have equal lengths, got {ma.size}, {xa.size}, {ya.size}, {se.size}"
        )
    if not np.all(np.isfinite(ya)):
        raise ValueError("y (log10 values) must be finite")
    if along_m_only:
        reason = along_m_reason(ma, xa)
        if reason is not None:
            raise ValueError(f"cannot fit a field along m: {reason}")
    else:
        reason = degenerate_reason(ma, xa)
        if reason is not None:
            raise ValueError(f"cannot fit a 2-D field: {reason}")
    finite = np.isfinite(se) & (se > 0)
    fill = float(np.median(se[finite])) if finite.any() else NOISE_FLOOR_DEC
    se = np.maximum(np.where(finite, se, fill), NOISE_FLOOR_DEC)
    noise_var = se**2

    origin = (float(ma.min()), float(xa.min()))
    scale = (float(np.ptp(ma)), float(np.ptp(xa)) or 1.0)  # 1: one x (along_m_only)
    pts = np.column_stack([(ma - origin[0]) / scale[0], (xa - origin[1]) / scale[1]])
    bounds = hyper_bounds(pts, ya)
    log_bounds = [(np.log(lo), np.log(hi)) for lo, hi in bounds]

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = _restricted_ll_and_grad(ya, pts, noise_var, GPHyper(*np.exp(theta)))
        return (1e300, np.zeros(4)) if not np.isfinite(ll) else (-ll, -grad)

    sd = max(float(np.std(ya)), 0.05)
    starts = [
        (sd, lm, lx, max(0.1 * sd, bounds[3][0]))
        for lm in (0.5, 1.0, 2.0)
        for lx in ((1.0,) if along_m_only else (0.5, 1.0, 2.0))
    ]
    lo_b = np.array([b[0] for b in log_bounds])
    hi_b = np.array([b[1] for b in log_bounds])
    best: tuple[float, FloatArray] | None = None
    with _single_blas_thread():
        for s in starts:
            theta0 = np.clip(np.log(np.array(s)), lo_b, hi_b)
            res = optimize.minimize(
                objective, theta0, jac=True, method="L-BFGS-B", bounds=log_bounds
            )
            if best is None or res.fun < best[0]:
                best = (float(res.fun), np.asarray(res.x))
        assert best is not None
        hyper = GPHyper(*(float(v) for v in np.exp(best[1])))
        lengths = np.array([hyper.length_m, hyper.length_x])
        cov = _se_kernel(pts, pts, hyper.sigma_f, lengths) + np.diag(noise_var + hyper.sigma_n**2)
        chol = linalg.cho_factor(cov, lower=True)
        kinv_1 = linalg.cho_solve(chol, np.ones(ya.size))
    mu = float(kinv_1 @ ya / kinv_1.sum())
    return GPFit(ma, xa, ya, noise_var, hyper, mu, -best[0], origin, scale)


@dataclass(frozen=True)
class Field:
    """A field on a regular grid: ``mean``/``std`` have shape (len(x_grid), len(m_grid)).

    ``fit`` is None (and mean/std all NaN) when the points cannot define a 2-D field; ``note``
    then says why.
    """

    m_grid: FloatArray
    x_grid: FloatArray
    mean: FloatArray
    std: FloatArray
    fit: GPFit | None
    note: str | None


def interpolate_field(
    m: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    y_se: npt.ArrayLike,
    m_grid: npt.ArrayLike,
    x_grid: npt.ArrayLike,
) -> Field:
    """GP mean and std (decades) of log10 y on the grid ``m_grid`` x ``x_grid``.

    Degenerate inputs (fewer than 3 compositions, or all on one line) give NaN fields and a
    ``note`` instead of an exception, so a figure can fall back to drawing the points.
    """
    mg = np.asarray(m_grid, dtype=float)
    xg = np.asarray(x_grid, dtype=float)
    nan = np.full((xg.size, mg.size), np.nan)
    reason = degenerate_reason(m, x)
    if reason is not None:
        return Field(mg, xg, nan, nan.copy(), None, reason)
    fit = fit_gp(m, x, y, y_se)
    mm, xx = np.meshgrid(mg, xg)
    mean, std = fit.predict(mm, xx)
    return Field(mg, xg, mean, std, fit, None)


def shared_limits(values: Sequence[npt.ArrayLike], step: float = 0.25) -> tuple[float, float]:
    """One (vmin, vmax) over several arrays (NaN ignored), rounded outwards to ``step``.

    Used for a colour scale shared by all temperatures of a campaign. With no finite
    value returns (NaN, NaN); a zero range is widened to one ``step`` on each side.
    """
    finite = [np.asarray(v, dtype=float).ravel() for v in values]
    allv = np.concatenate(finite) if finite else np.empty(0)
    allv = allv[np.isfinite(allv)]
    if allv.size == 0:
        return float("nan"), float("nan")
    lo = np.floor(allv.min() / step) * step
    hi = np.ceil(allv.max() / step) * step
    if hi - lo < step:
        lo, hi = lo - step, hi + step
    return float(lo), float(hi)


# --------------------------------------------------------------------------- hopping model


@dataclass(frozen=True)
class HoppingInputs:
    """What the PRL hopping model (eq 2-4) needs beyond (x, m); all from its supplement.

    Energies (``energies``, ``e_c``, ``delta``) are in units of ``kT`` of the map's
    temperature (the PRL's Fig. 1(d) uses E_c = 0.0002 and Delta = 0.2 in k_B T units);
    the result is a *relative* conductivity (see
    :func:`glassflow.analysis.rigidity.hopping_conductivity`). ``q_sites`` lists, per
    cluster, the anionic-site charges q summed over in eq 4.
    """

    weights: Mapping[tuple[int, int], float]
    energies: Mapping[tuple[int, int], float]
    n_atoms: Mapping[tuple[int, int], float]
    n_constraints: Mapping[tuple[int, int], float]
    q_sites: Mapping[tuple[int, int], Sequence[float]]
    e_c: float
    delta: float
    kT: float = 1.0


def _sites(inputs: HoppingInputs, keys: Sequence[tuple[int, int]]) -> list[Sequence[float]]:
    """q_sites of each cluster (either pair order); a cluster without sites is an error."""
    out = []
    for k in keys:
        q = inputs.q_sites.get(k, inputs.q_sites.get((k[1], k[0])))
        if q is None:
            raise ValueError(f"hopping inputs: q_sites has no entry for cluster {k}")
        out.append(q)
    return out


def hopping_log10_field(
    m_grid: npt.ArrayLike, x_grid: npt.ArrayLike, inputs: HoppingInputs
) -> FloatArray:
    """log10 of the PRL eq 3 relative conductivity on the grid (shape (len(x), len(m))).

    NaN where the building-block model is undefined (it needs m >= 2 and x <= 1/3, see
    :func:`glassflow.analysis.rigidity.building_blocks`), at x = 0 (no carriers) and where every
    supplied cluster has zero probability. Inconsistent tables (a cluster without an
    energy, negative weights, ...) raise a ValueError naming the first (x, m) and the
    problem.
    """
    mg = np.asarray(m_grid, dtype=float)
    xg = np.asarray(x_grid, dtype=float)
    out = np.full((xg.size, mg.size), np.nan)
    for i, xv in enumerate(xg):
        for j, mv in enumerate(mg):
            if not (0.0 < xv <= 1.0 / 3.0 and mv >= 2.0):
                continue  # building blocks undefined (or no carriers)
            try:
                p = connection_probabilities(xv, mv, inputs.weights, inputs.energies, inputs.kT)
            except ValueError as exc:  # bad tables are the caller's error; an empty mix is not
                if "vanish" not in str(exc):
                    raise ValueError(
                        f"hopping inputs at (x, m) = ({xv:.3g}, {mv:.3g}): {exc}"
                    ) from exc
                continue
            f2 = floppy_density_f2(p, inputs.n_atoms, inputs.n_constraints)
            keys = list(p)
            ec = mean_coulomb_energy(
                [p[k] for k in keys], _sites(inputs, keys), inputs.e_c, inputs.kT
            )
            sigma = float(hopping_conductivity(xv, ec, f2, inputs.delta, inputs.kT))
            out[i, j] = np.log10(sigma) if sigma > 0 else np.nan
    return out
