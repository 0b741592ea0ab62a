"""Calibration of the Einstein GLS intervals on synthetic trajectories with a known D.

Two processes, many seeds generated in one array and analysed with the batched FFT
moments: a Gaussian random walk, and a caged hopper (Ornstein-Uhlenbeck vibration in
a cage plus jumps of fixed length in random directions, a trap model) whose MSD has a
cage plateau before the diffusive regime and whose long-time D is exactly
``p a^2 / (6 dt)`` (p: jump probability per frame, a: jump length). The 95 % intervals
must cover the true D in 93-97 % of the seeds (400 seeds: binomial sd 1.1 %).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from glassflow.analysis.dynamics.correlations import (
    DynamicsSettings,
    analysis_lags,
    displacement_moment_sums,
)
from glassflow.analysis.dynamics.transport import MSDCurve, fit_einstein

N_SEEDS, N_ATOMS, N_FRAMES, DT, D_TRUE = 400, 32, 1000, 0.1, 0.1


def random_walks(rng: np.random.Generator, n_seeds: int) -> np.ndarray:
    """(seeds, atoms, 3, frames) Gaussian random walks with D_TRUE (Å^2/ps)."""
    steps = rng.normal(scale=np.sqrt(2 * D_TRUE * DT), size=(n_seeds, N_ATOMS, 3, N_FRAMES))
    return np.cumsum(steps, axis=-1)


def caged_hoppers(
    rng: np.random.Generator, n_seeds: int, jump_A: float = 1.5, cage_A2: float = 0.25
) -> np.ndarray:
    """(seeds, atoms, 3, frames) trap model: OU vibration (variance ``cage_A2`` per axis,
    relaxation 0.2 ps) around a site that jumps by ``jump_A`` in a random direction with
    probability p per frame, p chosen so that D = p a^2 / (6 dt) = D_TRUE exactly."""
    p = 6 * D_TRUE * DT / jump_A**2
    shape = (n_seeds, N_ATOMS, 3, N_FRAMES)
    hop = rng.random((n_seeds, N_ATOMS, 1, N_FRAMES)) < p
    direction = rng.normal(size=shape)
    direction /= np.linalg.norm(direction, axis=2, keepdims=True)
    sites = np.cumsum(hop * jump_A * direction, axis=-1)
    rho = np.exp(-DT / 0.2)
    kicks = rng.normal(scale=np.sqrt(cage_A2 * (1 - rho**2)), size=shape)
    kicks[..., 0] = rng.normal(scale=np.sqrt(cage_A2), size=shape[:-1])
    return sites + lfilter([1.0], [1.0, -rho], kicks, axis=-1)


def coverage(positions: np.ndarray, settings: DynamicsSettings) -> tuple[float, int, float]:
    """(fraction of 95 % intervals covering D_TRUE, non-diffusive count, mean rel. error)."""
    lags = analysis_lags(N_FRAMES, settings)
    r2, _ = displacement_moment_sums(positions, fourth=False)
    hits, not_diffusive, rel = 0, 0, []
    for row in r2[:, lags] / N_ATOMS:
        f = fit_einstein([MSDCurve(lags, row, N_ATOMS, N_FRAMES, DT)], settings.fit_settings())
        if not f.diffusive:
            not_diffusive += 1
            continue
        hits += f.D_lo <= D_TRUE <= f.D_hi
        rel.append(f.D_err / f.D)
    n = positions.shape[0] - not_diffusive
    return hits / n, not_diffusive, float(np.mean(rel))


@pytest.mark.parametrize("process", [random_walks, caged_hoppers])
def test_interval_coverage(process) -> None:
    """Default fit settings (n_fit_lags 100, max_lag_fraction 0.5) from 0.5 ps."""
    rng = np.random.default_rng(2024)
    settings = DynamicsSettings(min_fit_time_ps=0.5)
    hits, not_diffusive, rel = [], 0, []
    for _ in range(N_SEEDS // 100):  # 100 seeds per array bounds the memory (~80 MB)
        c, nd, r = coverage(process(rng, 100), settings)
        hits.append(c)
        not_diffusive += nd
        rel.append(r)
    cov = float(np.mean(hits))
    print(
        f"{process.__name__}: coverage {cov:.3f}, not diffusive {not_diffusive}, "
        f"mean relative error {np.mean(rel):.3f}"
    )
    assert not_diffusive <= 0.01 * N_SEEDS  # a diffusive process is (almost) never refused
    assert 0.93 <= cov <= 0.97
