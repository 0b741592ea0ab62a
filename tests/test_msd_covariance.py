"""Tests of glassflow.analysis.dynamics.msd_covariance: MSD covariance model (eqs C1-C3), GLS."""

from __future__ import annotations

import numpy as np
import pytest

from glassflow.analysis.dynamics.msd_covariance import (
    gaussian_v2,
    gls_terms,
    msd_covariance,
    overlap_variance_integral,
    profile_variance_terms,
)


def test_overlap_integral_closed_forms() -> None:
    """Equal lags t <= S: int int (t - |u - v|)_+^k = 2 (S t^3/3 - t^4/12) (k = 2) and
    S t^2 - t^3/3 (k = 1), by hand; the integral is symmetric in (i, j)."""
    t, s = 3.0, 10.0
    assert overlap_variance_integral(t, t, s, s, 1.0) == pytest.approx(
        2 * (s * t**3 / 3 - t**4 / 12)
    )
    assert overlap_variance_integral(t, t, s, s, 0.0, 1.0) == pytest.approx(s * t**2 - t**3 / 3)
    a = overlap_variance_integral(2.0, 5.0, 8.0, 5.0, 1.3, 0.7)
    assert a == pytest.approx(overlap_variance_integral(5.0, 2.0, 5.0, 8.0, 1.3, 0.7))
    # disjoint segments only: origin ranges shorter than the gap never overlap
    assert overlap_variance_integral(1.0, 1.0, 1e-9, 1e-9, 1.0) == pytest.approx(1e-18, rel=1e-6)


def _mc_msd(steps: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """All-origin MSD of single-particle walks (walkers, 3, frames) at ``lags``."""
    p = np.cumsum(steps, axis=-1)
    return np.stack(
        [np.mean(np.sum((p[..., m:] - p[..., :-m]) ** 2, axis=1), axis=-1) for m in lags], -1
    )


def test_covariance_matches_monte_carlo_random_walk() -> None:
    """Brownian walks: empirical covariance of the all-origin MSD at 3 lags = model (5 %)."""
    rng = np.random.default_rng(1)
    n_frames, d, dt = 200, 0.1, 0.1
    lags = np.array([20, 100, 170])
    steps = rng.normal(scale=np.sqrt(2 * d * dt), size=(8000, 3, n_frames)).astype(np.float32)
    emp = np.cov(_mc_msd(steps, lags).T)
    model = msd_covariance(lags * dt, n_frames, dt, 1.0, gaussian_v2(d))
    assert np.allclose(emp / model, 1.0, atol=0.05), emp / model


def test_covariance_matches_monte_carlo_hopping() -> None:
    """Jumps of length a with probability p per frame: V(o) = (2/3)(6 D o)^2 + kappa o
    with kappa = 6 D a^2 (eq C2); without kappa the model is 20-50 % too small."""
    rng = np.random.default_rng(2)
    n_frames, dt, a, p = 200, 0.1, 2.0, 0.02
    d = p * a**2 / (6 * dt)
    lags = np.array([20, 100, 170])
    hop = rng.random((8000, 1, n_frames)) < p
    u = rng.normal(size=(8000, 3, n_frames))
    steps = (hop * a * u / np.linalg.norm(u, axis=1, keepdims=True)).astype(np.float32)
    emp = np.cov(_mc_msd(steps, lags).T)
    model = msd_covariance(lags * dt, n_frames, dt, 1.0, gaussian_v2(d), 6 * d * a**2)
    assert np.allclose(emp / model, 1.0, atol=0.06), emp / model
    gauss = msd_covariance(lags * dt, n_frames, dt, 1.0, gaussian_v2(d))
    assert np.all(emp / gauss > 1.2)


def test_gls_terms_of_replicas_add() -> None:
    """Stacking two data sets = one GLS on the block-diagonal covariance."""
    rng = np.random.default_rng(3)
    t = np.linspace(1, 10, 8)
    x = np.column_stack([t, np.ones_like(t)])
    cov = msd_covariance(t, 300, 0.1, 5.0, 1.0)
    y1, y2 = 2 * t + rng.normal(size=8), 2 * t + rng.normal(size=8)
    both = gls_terms(x, y1, cov) + gls_terms(x, y2, cov)
    big = np.zeros((16, 16))
    big[:8, :8] = big[8:, 8:] = cov
    ref = gls_terms(np.vstack([x, x]), np.concatenate([y1, y2]), big)
    (b1, c1), (b2, c2) = both.solve(), ref.solve()
    assert np.allclose(b1, b2) and np.allclose(c1, c2)
    assert both.logdet == pytest.approx(ref.logdet)


def test_profile_finds_a_nugget_only_when_present() -> None:
    """White per-lag noise on top of a smooth covariance is detected by maximum
    likelihood; without it the Akaike penalty keeps the amplitude at 0."""
    rng = np.random.default_rng(4)
    t = np.linspace(1.0, 50.0, 80)
    x = np.column_stack([t, np.ones_like(t)])
    smooth = msd_covariance(t, 1000, 0.1, 20.0, 1.0)
    nug = np.full(t.size, float(np.mean(np.diag(smooth))) * 0.05)
    chol = np.linalg.cholesky(smooth + 1e-12 * np.eye(t.size))
    grid = np.concatenate([[0.0], np.geomspace(1e-3, 1e2, 21)])
    found = []
    for white in (0.0, 1.0):
        e = []
        for _ in range(20):
            y = (
                2 * t
                + chol @ rng.normal(size=t.size)
                + np.sqrt(white * nug) * rng.normal(size=t.size)
            )
            _, eta, _ = profile_variance_terms([x], [y], [smooth], [0 * smooth], [nug], [0.0], grid)
            e.append(eta)
        found.append(np.median(e))
    assert found[0] == 0.0
    assert 0.3 < found[1] < 3.0
