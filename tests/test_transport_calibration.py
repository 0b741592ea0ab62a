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
from glassflow.analysis.dynamics.transport import MSDCurve, conductivity_estimate, fit_einstein

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


@pytest.mark.slow
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


# CODATA 2018 (exact in the SI since 2019), written here, not taken from the module
E_C = 1.602176634e-19  # elementary charge, C
KB_J_K = 1.380649e-23  # Boltzmann constant, J/K
Z_NA, Z_S, VOLUME_A3, T_K = 0.6, -1.2, 20000.0, 1000.0


@pytest.mark.slow
def test_haven_and_sigma_interval_coverage() -> None:
    """Rigid Na-S pairs (z+ = 0.6, z- = -1.2; both ions move by the pair's random walk
    with D_TRUE): the charge displacement is (z+ + z-) sum_p d_p, so

        sigma    = N (z+ + z-)^2 e^2 D / (V kB T)      (eq 5)
        sigma_NE = N (z+^2 + z-^2) e^2 D / (V kB T)    (eq 8)
        H_R      = (z+^2 + z-^2) / (z+ + z-)^2 = 5.

    Over 400 seeds the 95 % intervals of sigma and H_R must cover these values in
    93-97 % of the seeds (default settings, fit from 0.5 ps)."""
    sigma_true = (
        N_ATOMS * (Z_NA + Z_S) ** 2 * E_C**2 * D_TRUE * 1e-4 / (VOLUME_A3 * 1e-24 * KB_J_K * T_K)
    )
    haven_true = (Z_NA**2 + Z_S**2) / (Z_NA + Z_S) ** 2
    assert haven_true == pytest.approx(5.0)
    rng = np.random.default_rng(2025)
    settings = DynamicsSettings(min_fit_time_ps=0.5)
    fs = settings.fit_settings()
    lags = analysis_lags(N_FRAMES, settings)
    sigma_hits = haven_hits = n = 0
    for _ in range(N_SEEDS // 100):
        pairs = random_walks(rng, 100)  # (seeds, pairs, 3, frames)
        r2, _ = displacement_moment_sums(pairs, fourth=False)
        charge = (Z_NA + Z_S) * pairs.sum(axis=1, keepdims=True)
        q2, _ = displacement_moment_sums(charge, fourth=False)
        for row, qrow in zip(r2[:, lags] / N_ATOMS, q2[:, lags], strict=True):
            f = fit_einstein([MSDCurve(lags, row, N_ATOMS, N_FRAMES, DT)], fs)
            est = conductivity_estimate(
                {"Na": f, "S": f},
                {"Na": N_ATOMS, "S": N_ATOMS},
                {"Na": Z_NA, "S": Z_S},
                [MSDCurve(lags, qrow, 1.0, N_FRAMES, DT)],
                [VOLUME_A3],
                T_K,
                fs,
            )
            assert est.sigma is not None, est.reason
            n += 1
            sigma_hits += est.sigma_lo <= sigma_true <= est.sigma_hi
            haven_hits += est.haven_lo <= haven_true <= est.haven_hi
    print(f"sigma coverage {sigma_hits / n:.3f}, H_R coverage {haven_hits / n:.3f} ({n} seeds)")
    assert 0.93 <= sigma_hits / n <= 0.97
    assert 0.93 <= haven_hits / n <= 0.97
