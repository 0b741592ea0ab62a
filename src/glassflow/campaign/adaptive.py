"""Adaptive refinement of the composition grid along m (fixed x and T), one round at a time.

A campaign starts from a coarse grid in the flexibility index m (:func:`initial_grid`)
and, in rounds, adds the compositions where the Gaussian-process model of y = log10 sigma
(or log10 D) is most informative, until the goal is reached or the budget is spent. The
GP is the project's one (:func:`glassflow.campaign.composition_map.fit_gp` with
``along_m_only=True``): restricted marginal likelihood, constant mean integrated out,
latent mean and covariance in decades.

Units: m is dimensionless; y in decades (log10 of S/cm or cm^2/s); errors are 1 sigma in
decades. A *run* is one measurement of one composition; a composition measured by k runs
enters with its pooled value and error (about the one-run error / sqrt(k)).

Goals (:class:`AdaptiveSettings`):

* ``"uncertainty"``: a map of known accuracy; the next points go where the posterior std
  is largest; stop when its maximum over [m_lo, m_hi] is <= ``target_std``.
* ``"maximum"``: the position m* of the maximum of y; stop when the 95 % interval of the
  posterior of m* has half-width <= ``target_halfwidth``, measured compositions bracket
  it within 2 ``target_halfwidth`` on both sides (:func:`bracketed`) and its median is
  not on a bound (:func:`interior`). The two guards are there because the GP's
  hyperparameters are point estimates: with sparse data its interval can be narrow
  where nothing was measured (every path peaking on a bound, say, while the true
  maximum is 0.2 inside).
* ``"jump"``: the position of the steepest rise of y (largest dy/dm; for a drop, pass
  -y); same stop rule.

The posterior of a position is sampled: joint posterior paths of the GP on a fine m
lattice (step ``resolution``), the argmax of each path (or of its finite-difference
slope), their median and 2.5-97.5 % percentiles (:func:`posterior_location`).

Selection (:func:`next_points`), greedy within a round (kriging believer: each chosen
point is added as a fantasy run whose value is the posterior mean, which leaves the mean
unchanged and shrinks the covariance; hyperparameters fixed within the round):

* ``"uncertainty"``: the allowed m of largest posterior std;
* ``"maximum"``/``"jump"``: the allowed m whose fantasised run gives the smallest
  *expected* half-width of the position's 95 % interval -- the quantity the stop rule
  tests. For a candidate c, a new run y_c = f(c) + eps (eps of variance v, what one
  more run there adds: :func:`run_noise`) is fantasised at the 5 Gauss-Hermite nodes
  of its predictive distribution; each fantasy conditions 256 sampled paths by
  Matheron's rule (``f + k(., c) / (k(c, c) + v) (y_c - f(c) - eps)``, exact for a GP
  with fixed hyperparameters), and the half-width of the conditioned positions is
  averaged with the node weights. Same paths and noise draws for every candidate
  (common random numbers). Only the 16 candidates best by a linearised screen are
  scored so (:func:`_screen`: a maximum sits where f' = 0, so a run that shrinks the
  variance of f' at the sampled positions shrinks theirs); scores within a quarter
  lattice step of the best are ties, broken by the largest variance reduction at the
  candidate near the current interval (when every path peaks at one point, no
  fantasy changes the interval, and the data that would test it are what is missing).
  Why not the simpler "largest std inside the current interval": a run *beside* the
  maximum fixes its position through the slope better than one on top of it, and std
  alone cannot tell a replica's worth (shrunk by the nugget) from a new composition's.
  Measured on 40 + 40 landscapes of ``benchmarks/adaptive_vs_grid.py`` (seed 0)
  against that rule in its best form here (largest variance reduction, nugget-aware,
  inside the interval widened by 2 ``target_halfwidth``; same stop rule): 6 %
  (maxima) and 13 % (jumps) fewer runs in total, per-landscape geometric-mean ratios
  0.99 +- 0.08 and 0.89 +- 0.09, the same fractions located -- a small gain, for
  twice the CPU (about 0.1 s per round, nothing next to one MD run).

Where a new run may go: a new composition is at least ``min_step`` away from every
measured composition and every composition chosen earlier in the round, inside
``bounds``; a run *at* a measured (or already chosen) composition is an extra replica
and is always allowed: once the neighbourhood of the maximum is filled down to
``min_step``, replicas are the only way to shrink its noise, and the criterion weighs
them like any other candidate. The output may therefore repeat an m (replicas of one
new composition) or contain a measured m. A replica turns a point's variance
``s^2 / k + sigma_n^2`` into ``s^2 / (k + 1) + sigma_n^2`` (s the one-run error,
sigma_n the fitted nugget, which replicas do not shrink); :func:`run_noise` gives the
independent observation that is worth as much, so a large nugget makes replicas cheap
to skip.

Determinism: every random draw comes from ``numpy.random.default_rng`` seeded by
``SeedSequence([seed, round_index, stream])``; equal inputs give equal outputs.

The Snakemake wiring (one checkpoint per round) calls :func:`plan_round` (or the pieces:
:func:`fit_along_m`, :func:`posterior_location`, :func:`stop_reason`,
:func:`next_points`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from glassflow.campaign.composition_map import (
    NOISE_FLOOR_DEC,
    GPFit,
    _single_blas_thread,
    fit_gp,
)

FloatArray = npt.NDArray[np.float64]
_P = ParamSpec("_P")
_R = TypeVar("_R")

GOALS = ("uncertainty", "maximum", "jump")
#: first words of a stop reason
GOAL_REACHED = "goal reached"
BUDGET_SPENT = "budget spent"

#: random streams of one round (the third entry of the SeedSequence)
_STREAM_LOCATION = 0
_STREAM_SELECTION = 1
#: Gauss-Hermite nodes (probabilists') of the fantasised observation
_N_FANTASY = 5
#: at most about this many lattice candidates per pick (plus gaps' midpoints and replicas)
_MAX_LATTICE_CANDIDATES = 48
#: candidates scored by fantasies per pick (the best of the linearised screen)
_N_SCORED = 16
#: posterior paths behind the selection (the stop rule uses ``settings.n_samples``)
_SELECTION_PATHS = 256
#: two m closer than this are the same composition
_SAME_M = 1e-9


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class AdaptiveSettings:
    """Settings of the adaptive refinement along m (module docstring).

    Attributes
    ----------
    bounds : (float, float)
        ``(m_lo, m_hi)``, the m range explored; the initial grid spans it.
    min_step : float
        No new composition closer than this to a measured or chosen one (m units).
    runs_per_round : int
        Runs started per round (at most; fewer when the budget is nearly spent).
    max_runs : int
        Total budget in runs, the initial grid included.
    goal : str
        ``"uncertainty"``, ``"maximum"`` or ``"jump"``.
    target_halfwidth : float
        Goals maximum/jump: stop when the 95 % interval of the position has half-width
        <= this (m units).
    target_std : float
        Goal uncertainty: stop when the largest posterior std is <= this (decades).
    n_initial : int
        Compositions of the initial grid, evenly spaced over ``bounds`` (>= 3).
    resolution : float
        Step of the m lattice on which positions are sampled and new points chosen.
    n_samples : int
        Posterior paths sampled for a position's posterior (the stop rule).
    """

    bounds: tuple[float, float] = (2.0, 4.5)
    min_step: float = 0.05
    runs_per_round: int = 4
    max_runs: int = 120
    goal: str = "maximum"
    target_halfwidth: float = 0.1
    target_std: float = 0.1
    n_initial: int = 5
    resolution: float = 0.01
    n_samples: int = 1000


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _bounds_problems(bounds: Any, m_limits: tuple[float, float], key: str) -> list[str]:
    """Problems of ``bounds``: a pair lo < hi of numbers within ``m_limits``."""
    if not (
        isinstance(bounds, list | tuple) and len(bounds) == 2 and all(_is_num(b) for b in bounds)
    ):
        return [f"key '{key}' = {bounds!r}: expected [m_lo, m_hi], two numbers"]
    lo, hi = float(bounds[0]), float(bounds[1])
    if not lo < hi:
        return [f"key '{key}' = {bounds!r}: expected m_lo < m_hi"]
    if lo < m_limits[0] or hi > m_limits[1]:
        return [
            f"key '{key}' = {bounds!r}: outside the allowed compositions "
            f"m in [{m_limits[0]:g}, {m_limits[1]:g}]"
        ]
    return []


def _number_problems(block: Mapping[str, Any], prefix: str) -> list[str]:
    """Type and sign problems of the scalar keys (defaults fill missing keys)."""
    out: list[str] = []
    default = AdaptiveSettings()
    positive = ("min_step", "target_halfwidth", "target_std", "resolution")
    counts = {"runs_per_round": 1, "max_runs": 1, "n_initial": 3, "n_samples": 32}
    for key in positive:
        v = block.get(key, getattr(default, key))
        if not (_is_num(v) and np.isfinite(v) and v > 0):
            out.append(f"key '{prefix}.{key}' = {v!r}: expected a number > 0")
    for key, least in counts.items():
        v = block.get(key, getattr(default, key))
        if not (_is_int(v) and v >= least):
            out.append(f"key '{prefix}.{key}' = {v!r}: expected an integer >= {least}")
    return out


def settings_problems(
    block: Mapping[str, Any],
    m_limits: tuple[float, float],
    source: str = "config",
    prefix: str = "adaptive",
) -> list[str]:
    """Problems of an ``adaptive`` settings block, each naming its key; [] when valid.

    Parameters
    ----------
    block : mapping
        Keys of :class:`AdaptiveSettings` (missing keys take its defaults).
    m_limits : (float, float)
        The m range the composition family allows (e.g. the range the force field and
        the glass builder support); ``bounds`` must lie inside it.
    source : str
        Where the block comes from (file or ``config``), for the messages.
    prefix : str
        Key prefix in the messages.

    Returns
    -------
    list of str
        E.g. ``"config: key 'adaptive.min_step' = -0.1: expected a number > 0"``.
    """
    known = {f.name for f in fields(AdaptiveSettings)}
    out = [
        f"key '{prefix}.{k}': unknown; expected one of {sorted(known)}"
        for k in block
        if k not in known
    ]
    default = AdaptiveSettings()
    out += _bounds_problems(block.get("bounds", default.bounds), m_limits, f"{prefix}.bounds")
    goal = block.get("goal", default.goal)
    if goal not in GOALS:
        out.append(f"key '{prefix}.goal' = {goal!r}: expected one of {list(GOALS)}")
    numbers = _number_problems(block, prefix)
    out += numbers
    if not numbers and not out:  # relations between valid values
        s = settings_from_mapping(block, m_limits, source, prefix, check=False)
        spacing = (s.bounds[1] - s.bounds[0]) / (s.n_initial - 1)
        if s.min_step > spacing / 2:
            out.append(
                f"key '{prefix}.min_step' = {s.min_step:g}: larger than half the initial "
                f"spacing ({spacing:g} / 2): no new composition would fit between two "
                "initial ones"
            )
        if s.resolution > s.min_step:
            out.append(
                f"key '{prefix}.resolution' = {s.resolution:g}: expected <= min_step "
                f"({s.min_step:g})"
            )
        if s.max_runs < s.n_initial + s.runs_per_round:
            out.append(
                f"key '{prefix}.max_runs' = {s.max_runs}: leaves no room for one round: "
                f"expected at least n_initial + runs_per_round "
                f"({s.n_initial} + {s.runs_per_round})"
            )
    return [f"{source}: {p}" for p in out]


def settings_from_mapping(
    block: Mapping[str, Any],
    m_limits: tuple[float, float],
    source: str = "config",
    prefix: str = "adaptive",
    check: bool = True,
) -> AdaptiveSettings:
    """The :class:`AdaptiveSettings` of a block; ValueError listing its problems if any.

    Parameters
    ----------
    block, m_limits, source, prefix
        As in :func:`settings_problems`.
    check : bool
        Validate first (False only for blocks already validated).

    Returns
    -------
    AdaptiveSettings
    """
    if check:
        problems = settings_problems(block, m_limits, source, prefix)
        if problems:
            raise ValueError("; ".join(problems))
    values = dict(block)
    if "bounds" in values:
        values["bounds"] = (float(values["bounds"][0]), float(values["bounds"][1]))
    return AdaptiveSettings(**values)


# --------------------------------------------------------------------------- grids


def initial_grid(settings: AdaptiveSettings) -> FloatArray:
    """The coarse starting grid: ``n_initial`` evenly spaced m over ``bounds``.

    Inner points are rounded to the m lattice (multiples of ``resolution`` from m_lo),
    so that compositions have short labels and lie on the lattice of the selection.

    Parameters
    ----------
    settings : AdaptiveSettings

    Returns
    -------
    ndarray, shape (n_initial,)
        Increasing m values, m_lo and m_hi included.
    """
    lo, hi = settings.bounds
    m = np.linspace(lo, hi, settings.n_initial)
    m[1:-1] = lo + np.round((m[1:-1] - lo) / settings.resolution) * settings.resolution
    return np.round(m, 10)


def m_lattice(settings: AdaptiveSettings, extra: npt.ArrayLike = ()) -> FloatArray:
    """The fine m lattice (step ``resolution`` from m_lo, m_hi included) plus ``extra`` m.

    Parameters
    ----------
    settings : AdaptiveSettings
    extra : array_like
        Further m to include (measured compositions); those outside ``bounds`` are left out.

    Returns
    -------
    ndarray
        Sorted distinct m values.
    """
    lo, hi = settings.bounds
    n = int(np.floor((hi - lo) / settings.resolution + 1e-9)) + 1
    grid = np.append(lo + settings.resolution * np.arange(n), hi)
    ex = np.asarray(extra, dtype=float).ravel()
    grid = np.concatenate([grid, ex[(ex >= lo) & (ex <= hi)]])
    return np.unique(np.round(grid, 10))


# --------------------------------------------------------------------------- GP along m


def fit_along_m(m: npt.ArrayLike, y: npt.ArrayLike, y_se: npt.ArrayLike) -> GPFit:
    """The project's GP fitted along m at one x (``fit_gp(..., along_m_only=True)``).

    Parameters
    ----------
    m : array_like
        Compositions (may repeat: replicas as separate rows); >= 3 distinct.
    y : array_like
        log10 of sigma (S/cm) or D (cm^2/s), decades.
    y_se : array_like
        1 sigma errors of y, decades.

    Returns
    -------
    GPFit
        Predict with any constant x (the fit uses x = 0).
    """
    ma = np.asarray(m, dtype=float).ravel()
    return fit_gp(ma, np.zeros_like(ma), y, y_se, along_m_only=True)


def _one_blas_thread(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``func`` on one BLAS thread: faster for these small matrices on a loaded
    machine, and the same floating-point sums (hence the same choices) whatever the
    thread settings of the caller."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _single_blas_thread():
            return func(*args, **kwargs)

    return wrapper


def _rng(seed: int, round_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(round_index), stream]))


def _sample_paths(
    mean: FloatArray, cov: FloatArray, n: int, rng: np.random.Generator
) -> FloatArray:
    """``n`` joint samples (n, G) of N(mean, cov); eigen-decomposition (cov may be singular)."""
    w, v = np.linalg.eigh(cov)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    return mean + rng.standard_normal((n, mean.size)) @ root.T


def _locations(paths: FloatArray, grid: FloatArray, goal: str) -> FloatArray:
    """Position per path (..., G) -> (...): argmax (maximum) or steepest rise (jump)."""
    if goal == "maximum":
        return grid[np.argmax(paths, axis=-1)]
    slope = np.diff(paths, axis=-1) / np.diff(grid)
    mid = 0.5 * (grid[1:] + grid[:-1])
    return mid[np.argmax(slope, axis=-1)]


def _halfwidth(locations: FloatArray) -> FloatArray:
    """Half-width of the central 95 % interval of position samples along the last axis."""
    lo, hi = np.quantile(locations, [0.025, 0.975], axis=-1)
    return 0.5 * (hi - lo)


@dataclass(frozen=True)
class LocationPosterior:
    """Posterior of the position of a maximum or a jump (m units).

    ``samples`` are the positions of the sampled posterior paths; ``median``, ``lo``,
    ``hi`` their median and 2.5 / 97.5 % percentiles.
    """

    goal: str
    samples: FloatArray
    median: float
    lo: float
    hi: float

    @property
    def halfwidth(self) -> float:
        """Half-width of the 95 % interval, m units."""
        return 0.5 * (self.hi - self.lo)

    def contains(self, m: float) -> bool:
        """True when ``m`` is inside the 95 % interval."""
        return self.lo <= m <= self.hi


@_one_blas_thread
def posterior_location(
    fit: GPFit,
    settings: AdaptiveSettings,
    goal: str | None = None,
    n_samples: int | None = None,
    seed: int = 0,
    round_index: int = 0,
) -> LocationPosterior:
    """Posterior of the position of the maximum (or of the steepest rise) of y(m).

    Parameters
    ----------
    fit : GPFit
        The GP along m (:func:`fit_along_m`).
    settings : AdaptiveSettings
        ``bounds`` and ``resolution`` define the lattice the paths are sampled on.
    goal : {"maximum", "jump"}, optional
        Default ``settings.goal``.
    n_samples : int, optional
        Paths sampled; default ``settings.n_samples``.
    seed, round_index : int
        Seed of the random stream (with the round number).

    Returns
    -------
    LocationPosterior
        For "maximum" the argmax of each path on the lattice; for "jump" the midpoint of
        the lattice interval where the path's slope is largest.
    """
    goal = goal or settings.goal
    if goal not in ("maximum", "jump"):
        raise ValueError(f"goal {goal!r} has no position: expected 'maximum' or 'jump'")
    grid = m_lattice(settings, fit.m)
    mean, cov = fit.predict_joint(grid, np.full_like(grid, fit.x[0]))
    rng = _rng(seed, round_index, _STREAM_LOCATION)
    paths = _sample_paths(mean, cov, n_samples or settings.n_samples, rng)
    loc = _locations(paths, grid, goal)
    lo, med, hi = np.quantile(loc, [0.025, 0.5, 0.975])
    return LocationPosterior(goal, loc, float(med), float(lo), float(hi))


def max_posterior_std(fit: GPFit, settings: AdaptiveSettings) -> float:
    """Largest posterior std of the latent y over the m lattice of ``bounds`` (decades).

    Parameters
    ----------
    fit : GPFit
    settings : AdaptiveSettings

    Returns
    -------
    float
    """
    grid = m_lattice(settings, fit.m)
    return float(np.max(fit.predict(grid, np.full_like(grid, fit.x[0]))[1]))


# --------------------------------------------------------------------------- selection


def run_error(y_se: npt.ArrayLike, n_runs: npt.ArrayLike) -> float:
    """Typical 1 sigma error of one run (decades): median of ``y_se * sqrt(n_runs)``.

    Parameters
    ----------
    y_se : array_like
        Pooled errors of the compositions, decades.
    n_runs : array_like
        Runs pooled in each.

    Returns
    -------
    float
        Floored at the GP's noise floor; the floor when no error is finite.
    """
    per_run = np.asarray(y_se, dtype=float) * np.sqrt(np.asarray(n_runs, dtype=float))
    ok = np.isfinite(per_run) & (per_run > 0)
    return max(float(np.median(per_run[ok])) if ok.any() else 0.0, NOISE_FLOOR_DEC)


def run_noise(runs: FloatArray, run_var: float, nugget_var: float) -> FloatArray:
    """Variance of the observation one more run at a composition amounts to, per point.

    A composition with k runs enters the GP with variance ``a_k = run_var / k +
    nugget_var`` (pooled error plus the fitted nugget, which replicas do not shrink).
    One more run turns a_k into a_(k+1): as information, an extra independent
    observation of variance ``1 / (1 / a_(k+1) - 1 / a_k)`` (``1 / a_0 = 0``), i.e.
    ``run_var + nugget_var`` at a new composition, ``run_var`` for a replica when the
    nugget is 0, and more the larger the nugget.

    Parameters
    ----------
    runs : ndarray
        Runs k already at each point (0 where none).
    run_var : float
        Variance of one run, decades^2.
    nugget_var : float
        The GP's nugget sigma_n^2, decades^2.

    Returns
    -------
    ndarray
        Same shape as ``runs``, decades^2.
    """
    k = np.asarray(runs, dtype=float)
    prec_k = np.where(k > 0, 1.0 / (run_var / np.maximum(k, 1.0) + nugget_var), 0.0)
    prec_next = 1.0 / (run_var / (k + 1.0) + nugget_var)
    return 1.0 / np.maximum(prec_next - prec_k, 1e-300)


def _runs_on(grid: FloatArray, m: FloatArray, runs: FloatArray) -> FloatArray:
    """Runs per lattice point: ``runs`` of each m summed onto the lattice point equal to it."""
    out = np.zeros(grid.size)
    idx = np.abs(grid[:, None] - m[None, :]).argmin(axis=0)
    on = np.abs(grid[idx] - m) <= _SAME_M
    np.add.at(out, idx[on], runs[on])
    return out


def allowed_mask(
    grid: FloatArray, taken: FloatArray, min_step: float, replicas: bool = True
) -> npt.NDArray[np.bool_]:
    """Lattice points where a run may go: a replica of a taken m, or >= min_step from all.

    Parameters
    ----------
    grid : ndarray, shape (G,)
    taken : ndarray
        Measured and already chosen compositions.
    min_step : float
    replicas : bool
        False: new compositions only (no run at a taken m).

    Returns
    -------
    ndarray of bool, shape (G,)
    """
    dist = np.abs(grid[:, None] - taken[None, :]).min(axis=1)
    return (dist >= min_step - _SAME_M) | (replicas & (dist <= _SAME_M))


def _candidates(
    grid: FloatArray, taken: FloatArray, settings: AdaptiveSettings, replicas: bool = True
) -> npt.NDArray[np.intp]:
    """Lattice indices to score: a thinned lattice, the midpoints of gaps, the replicas.

    The thinned lattice (spacing >= min_step, about ``_MAX_LATTICE_CANDIDATES`` points)
    keeps the fantasy scoring cheap; the points nearest the midpoints between
    neighbouring taken m fill gaps the thinning would miss.
    """
    lo, hi = settings.bounds
    step = max(settings.min_step, (hi - lo) / _MAX_LATTICE_CANDIDATES)
    ticks = np.arange(lo, hi + 0.5 * step, step)
    t = np.unique(taken)
    marks = np.concatenate([ticks, 0.5 * (t[1:] + t[:-1]), t])
    idx = np.unique(np.abs(grid[:, None] - marks[None, :]).argmin(axis=0))
    return idx[allowed_mask(grid[idx], taken, settings.min_step, replicas)]


def _expected_halfwidth(
    paths: FloatArray,
    mean: FloatArray,
    cov: FloatArray,
    cand: npt.NDArray[np.intp],
    noise: FloatArray,
    eps: FloatArray,
    grid: FloatArray,
    goal: str,
) -> FloatArray:
    """Expected 95 % half-width of the position after one fantasised run at each candidate.

    Matheron's rule on the sampled paths (module docstring), fantasised values at the
    Gauss-Hermite nodes of the predictive distribution of the run; ``noise`` is the
    variance a run adds at each lattice point (:func:`run_noise`).
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(_N_FANTASY)
    weights = weights / weights.sum()
    out = np.empty(cand.size)
    for i, c in enumerate(cand):
        pred_var = cov[c, c] + noise[c]
        gain = cov[:, c] / pred_var  # (G,)
        y_path = paths[:, c] + np.sqrt(noise[c]) * eps  # (S,)
        y_fant = mean[c] + np.sqrt(pred_var) * nodes  # (J,)
        shift = y_fant[:, None] - y_path[None, :]  # (J, S)
        cond = paths[None, :, :] + shift[:, :, None] * gain[None, None, :]
        out[i] = float(weights @ _halfwidth(_locations(cond, grid, goal)))
    return out


def _screen(
    cand: npt.NDArray[np.intp],
    cov: FloatArray,
    paths: FloatArray,
    grid: FloatArray,
    goal: str,
    noise: FloatArray,
) -> npt.NDArray[np.intp]:
    """The ``_N_SCORED`` candidates that shrink the variance of the position most, linearised.

    A maximum sits where f' = 0 (a jump where f'' = 0), so its error is about
    ``delta f'(L) / |f''(L)|``: a run at c that shrinks the variance of f' (of f'' for
    a jump) at the sampled positions L shrinks theirs. Score: the fraction of that
    variance a run at c removes, averaged over the positions of the paths.
    """
    order = 1 if goal == "maximum" else 2
    diff = np.diff(np.eye(grid.size), n=order, axis=0)  # (G - order, G)
    d_cov = diff @ cov  # cov(f^(order) at rows, f at lattice)
    var_d = np.maximum(np.einsum("rg,rg->r", d_cov, diff), 1e-300)
    rows = np.clip(np.searchsorted(grid, _locations(paths, grid, goal)) - 1, 0, len(var_d) - 1)
    weight = np.bincount(rows, minlength=len(var_d)) / rows.size
    frac = d_cov[:, cand] ** 2 / (var_d[:, None] * (np.diag(cov) + noise)[cand][None, :])
    proxy = weight @ frac
    return cand[np.argsort(-proxy, kind="stable")[:_N_SCORED]]


def _best_located(
    score: FloatArray,
    cand: npt.NDArray[np.intp],
    grid: FloatArray,
    cov: FloatArray,
    noise: FloatArray,
    paths: FloatArray,
    settings: AdaptiveSettings,
) -> int:
    """Index into ``cand``: smallest expected half-width; ties by information near the position.

    Scores within a quarter of the lattice step of the best are ties (sampling noise,
    or no candidate helps: e.g. every path peaks at the same lattice point although no
    data bracket it). Among ties, the largest reduction of the posterior variance at
    the candidate itself (``var^2 / (var + noise)``: a new composition where the
    field is unknown, rather than a replica whose run the nugget would drown) inside
    the current 95 % interval widened by the bracket distance (:func:`bracketed`);
    anywhere if none is there.
    """
    tied = np.flatnonzero(score <= score.min() + 0.25 * settings.resolution)
    lo, hi = np.quantile(_locations(paths, grid, settings.goal), [0.025, 0.975])
    reach = _bracket_distance(settings)
    m_tied = grid[cand[tied]]
    near = tied[(m_tied >= lo - reach) & (m_tied <= hi + reach)]
    pool = near if near.size else tied
    var = np.diag(cov)[cand[pool]]
    return int(pool[np.argmax(var**2 / (var + noise[cand[pool]]))])


def _believe(
    paths: FloatArray | None,
    mean: FloatArray,
    cov: FloatArray,
    c: int,
    noise_var: float,
    rng: np.random.Generator,
) -> tuple[FloatArray | None, FloatArray]:
    """Condition paths and covariance on a fantasy run at ``c`` equal to the posterior mean."""
    col = cov[:, c].copy()
    pred_var = col[c] + noise_var
    cov = cov - np.outer(col, col) / pred_var
    if paths is not None:
        y_path = paths[:, c] + np.sqrt(noise_var) * rng.standard_normal(paths.shape[0])
        paths = paths + (mean[c] - y_path)[:, None] * (col / pred_var)[None, :]
    return paths, cov


def remaining_runs(settings: AdaptiveSettings, runs_spent: int) -> int:
    """Runs the next round may start: ``min(runs_per_round, max_runs - runs_spent)``, >= 0."""
    return max(0, min(settings.runs_per_round, settings.max_runs - int(runs_spent)))


@_one_blas_thread
def next_points(
    m: npt.ArrayLike,
    y: npt.ArrayLike,
    y_se: npt.ArrayLike,
    settings: AdaptiveSettings,
    seed: int,
    round_index: int,
    n_runs: npt.ArrayLike | None = None,
    fit: GPFit | None = None,
    replicas: bool = True,
    avoid: npt.ArrayLike = (),
) -> FloatArray:
    """The m values to run in the next round (one entry per run).

    Parameters
    ----------
    m, y, y_se : array_like
        Measured compositions, log10 values (decades) and their 1 sigma errors
        (decades): one row per composition (pooled over its runs) or per run.
    settings : AdaptiveSettings
    seed, round_index : int
        Seed of the random stream (with the round number).
    n_runs : array_like of int, optional
        Runs pooled in each row (default 1 each): their sum is the budget spent,
        ``median(y_se * sqrt(n_runs))`` the error of one run, and the runs at a
        composition the worth of one more there (:func:`run_noise`).
    fit : GPFit, optional
        The GP of these points when already fitted (:func:`fit_along_m`).
    replicas : bool
        False: only new compositions (no run at a measured or chosen m), e.g. when
        something else decides a composition's replicas; fewer values when no allowed
        m is left.
    avoid : array_like
        Further measured compositions that are not in the fit (no estimate): no new
        composition within ``min_step`` of them (a run at one is a replica).

    Returns
    -------
    ndarray
        At most ``runs_per_round`` m values (fewer when the budget ends), in the order
        chosen; an m may repeat or equal a measured m (an extra replica, module docstring).
        New compositions are >= ``min_step`` from all others and inside ``bounds``.
        Empty when the budget is spent.

    Raises
    ------
    ValueError
        When the GP cannot be fitted (fewer than 3 distinct m, non-finite y).

    Notes
    -----
    Greedy with the kriging believer (module docstring). Goal "uncertainty": largest
    posterior std; goals "maximum"/"jump": smallest expected half-width of the
    position's 95 % interval after the run (fantasised at 5 Gauss-Hermite values,
    hyperparameters fixed) among the 16 best of a linearised screen. Costs per chosen
    run about 16 x 5 x 256 x G operations plus a G^3 product (G lattice points, 251
    for m in [2, 4.5]): 0.02-0.1 s per run on one core.
    """
    ma = np.asarray(m, dtype=float).ravel()
    runs = np.ones(ma.size) if n_runs is None else np.asarray(n_runs, dtype=float).ravel()
    n_new = remaining_runs(settings, int(round(runs.sum())))
    if n_new == 0:
        return np.empty(0)
    fit = fit if fit is not None else fit_along_m(ma, y, y_se)
    grid = m_lattice(settings, ma)
    mean, cov = fit.predict_joint(grid, np.full_like(grid, fit.x[0]))
    run_var, nugget_var = run_error(y_se, runs) ** 2, fit.hyper.sigma_n**2
    k_grid = _runs_on(grid, ma, runs)
    rng = _rng(seed, round_index, _STREAM_SELECTION)
    locating = settings.goal in ("maximum", "jump")
    paths = _sample_paths(mean, cov, _SELECTION_PATHS, rng) if locating else None
    eps = rng.standard_normal(_SELECTION_PATHS)
    taken = np.unique(np.concatenate([ma, np.asarray(avoid, dtype=float).ravel()]))
    chosen: list[float] = []
    for _ in range(n_new):
        cand = _candidates(grid, taken, settings, replicas)
        if cand.size == 0:  # new compositions only, and none fits min_step away
            break
        noise = run_noise(k_grid, run_var, nugget_var)
        if paths is None:
            c = int(cand[np.argmax(np.diag(cov)[cand])])
        else:
            cand = _screen(cand, cov, paths, grid, settings.goal, noise)
            score = _expected_halfwidth(paths, mean, cov, cand, noise, eps, grid, settings.goal)
            c = int(cand[_best_located(score, cand, grid, cov, noise, paths, settings)])
        chosen.append(float(grid[c]))
        taken = np.union1d(taken, grid[c])
        paths, cov = _believe(paths, mean, cov, c, float(noise[c]), rng)
        k_grid[c] += 1
    return np.array(chosen)


# --------------------------------------------------------------------------- stopping


def _bracket_distance(settings: AdaptiveSettings) -> float:
    return 2.0 * settings.target_halfwidth


def bracketed(location: LocationPosterior, m: npt.ArrayLike, settings: AdaptiveSettings) -> bool:
    """True when measured compositions bracket the position's 95 % interval closely.

    One measured m in ``[lo - d, lo]`` and another in ``[hi, hi + d]``, with
    ``d = 2 target_halfwidth``. The GP's interval rests on hyperparameters fitted to
    the data (no uncertainty of their own): with a few points far apart it can be
    narrow where nothing was measured (e.g. every path peaking at a bound because the
    last two points rise towards it). The stop rule accepts an interval only when data
    resolve it at the scale asked for.

    Parameters
    ----------
    location : LocationPosterior
    m : array_like
        Measured compositions.
    settings : AdaptiveSettings

    Returns
    -------
    bool
    """
    d = _bracket_distance(settings) + _SAME_M
    mu = np.unique(np.asarray(m, dtype=float))
    left = mu[(mu >= location.lo - d) & (mu <= location.lo + _SAME_M)]
    right = mu[(mu <= location.hi + d) & (mu >= location.hi - _SAME_M)]
    return bool(left.size and right.size and np.union1d(left, right).size >= 2)


def interior(location: LocationPosterior, settings: AdaptiveSettings) -> bool:
    """True when the position's median is at least one lattice step inside ``bounds``.

    A maximum "at" a bound (most paths still rising there) is not located: the data
    cannot tell it from one beyond the bound, and sparse data can put every path's
    peak on the bound while the true one is inside (the campaign then goes on).

    Parameters
    ----------
    location : LocationPosterior
    settings : AdaptiveSettings

    Returns
    -------
    bool
    """
    lo, hi = settings.bounds
    step = _bound_margin(settings)
    return bool(lo + step <= location.median <= hi - step)


def _bound_margin(settings: AdaptiveSettings) -> float:
    """How close to a bound (m) counts as on it: one lattice step, less the rounding."""
    return settings.resolution - _SAME_M


def stop_reason(
    settings: AdaptiveSettings,
    runs_spent: int,
    location: LocationPosterior | None = None,
    max_std: float | None = None,
    m: npt.ArrayLike | None = None,
) -> str | None:
    """Why the campaign stops after this round, or None when it goes on.

    Parameters
    ----------
    settings : AdaptiveSettings
    runs_spent : int
        Runs measured so far (the initial grid included).
    location : LocationPosterior, optional
        Goals maximum/jump: the current posterior of the position.
    max_std : float, optional
        Goal uncertainty: the current largest posterior std (decades).
    m : array_like, optional
        Goals maximum/jump: the measured compositions; when given, the goal also needs
        them to bracket the interval (:func:`bracketed`) and the median inside the
        bounds (:func:`interior`).

    Returns
    -------
    str or None
        ``"goal reached (...)"`` when the target is met (tested first), ``"budget spent
        (...)"`` when no run is left (saying so when the position sits on a bound, where
        only one side of it is known), else None.
    """
    if settings.goal == "uncertainty":
        if max_std is not None and max_std <= settings.target_std:
            return (
                f"{GOAL_REACHED} (largest posterior std {max_std:.3g} <= "
                f"{settings.target_std:g} decades)"
            )
    elif (
        location is not None
        and location.halfwidth <= settings.target_halfwidth
        and (m is None or (bracketed(location, m, settings) and interior(location, settings)))
    ):
        what = "maximum" if settings.goal == "maximum" else "steepest rise"
        return (
            f"{GOAL_REACHED} ({what} at m = {location.median:.3f}, 95 % interval "
            f"[{location.lo:.3f}, {location.hi:.3f}], half-width {location.halfwidth:.3f} "
            f"<= {settings.target_halfwidth:g})"
        )
    if runs_spent >= settings.max_runs:
        why = ""
        if location is not None and not interior(location, settings):
            lo, hi = settings.bounds
            step = _bound_margin(settings)
            if location.lo <= lo + step and location.hi >= hi - step:
                why = (
                    f"; the position is not located: its 95 % interval "
                    f"[{location.lo:.3f}, {location.hi:.3f}] spans the bounds"
                )
            else:
                side = "upper" if location.median > (lo + hi) / 2 else "lower"
                known = f">= {location.lo:.3f}" if side == "upper" else f"<= {location.hi:.3f}"
                why = f"; the position is on the {side} bound, not located inside: m {known} (95 %)"
        return f"{BUDGET_SPENT} ({runs_spent} of {settings.max_runs} runs){why}"
    return None


@dataclass(frozen=True)
class RoundPlan:
    """The outcome of one round: the fit, the goal's state, the stop reason, the next runs."""

    fit: GPFit
    location: LocationPosterior | None
    max_std: float
    runs_spent: int
    stop: str | None
    points: FloatArray


def plan_round(
    m: npt.ArrayLike,
    y: npt.ArrayLike,
    y_se: npt.ArrayLike,
    settings: AdaptiveSettings,
    seed: int,
    round_index: int,
    n_runs: npt.ArrayLike | None = None,
    replicas: bool = True,
    avoid: npt.ArrayLike = (),
    other_runs: int = 0,
) -> RoundPlan:
    """Fit, test the stop rule and choose the next runs (empty when stopping).

    Parameters
    ----------
    m, y, y_se, settings, seed, round_index, n_runs, replicas, avoid
        As in :func:`next_points`.
    other_runs : int
        Runs spent on compositions not in the fit (``avoid``): they count in the budget.

    Returns
    -------
    RoundPlan
        ``points`` is empty when ``stop`` is set.

    Raises
    ------
    ValueError
        When the GP cannot be fitted (fewer than 3 distinct m, non-finite y).
    """
    ma = np.asarray(m, dtype=float).ravel()
    runs = np.ones(ma.size) if n_runs is None else np.asarray(n_runs, dtype=float).ravel()
    spent = int(round(runs.sum())) + int(other_runs)
    fit = fit_along_m(ma, y, y_se)
    location = (
        posterior_location(fit, settings, seed=seed, round_index=round_index)
        if settings.goal != "uncertainty"
        else None
    )
    max_std = max_posterior_std(fit, settings)
    stop = stop_reason(settings, spent, location, max_std, ma)
    points = (
        np.empty(0)
        if stop
        else next_points(
            ma,
            y,
            y_se,
            replace(settings, max_runs=settings.max_runs - int(other_runs)),
            seed,
            round_index,
            runs,
            fit,
            replicas,
            avoid,
        )
    )
    return RoundPlan(fit, location, max_std, spent, stop, points)
