"""Tests of glassflow.campaign.composition_map: the GP field over (x, m), degenerate cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from glassflow.analysis.rigidity import (
    connection_probabilities,
    floppy_density_f2,
    hopping_conductivity,
    mean_coulomb_energy,
)
from glassflow.campaign.composition_map import (
    GPHyper,
    HoppingInputs,
    _restricted_ll_and_grad,
    degenerate_reason,
    fit_gp,
    hopping_log10_field,
    hyper_bounds,
    interpolate_field,
    restricted_log_likelihood,
    shared_limits,
    spans_plane,
)


def smooth_field(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A known smooth log10 sigma over m in [2, 5], x in [0.05, 0.45] (decades)."""
    return -3.0 + 0.8 * np.sin(1.3 * m) + 2.5 * x - 3.0 * (x - 0.25) ** 2


@pytest.fixture(scope="module")
def grid_fit():
    rng = np.random.default_rng(7)
    mg, xg = np.meshgrid(np.linspace(2.0, 5.0, 5), np.linspace(0.05, 0.45, 5))
    m, x = mg.ravel(), xg.ravel()
    se = rng.uniform(0.02, 0.06, m.size)
    y = smooth_field(m, x) + rng.normal(0.0, se)
    return m, x, y, se, fit_gp(m, x, y, se)


def test_gp_recovers_a_smooth_field_within_its_band(grid_fit) -> None:
    *_, fit = grid_fit
    rng = np.random.default_rng(11)
    mt, xt = rng.uniform(2.0, 5.0, 300), rng.uniform(0.05, 0.45, 300)
    mean, std = fit.predict(mt, xt)
    z = (mean - smooth_field(mt, xt)) / std
    assert np.mean(np.abs(z) < 2.0) >= 0.9  # the 2-sigma band covers the truth
    assert np.sqrt(np.mean((mean - smooth_field(mt, xt)) ** 2)) < 0.05  # decades
    assert np.all(std < 0.2)  # and the band is informative inside the grid


def test_gp_uncertainty_grows_away_from_the_points(grid_fit) -> None:
    m, x, y, se, fit = grid_fit
    _, at_points = fit.predict(m, x)
    assert np.all(at_points <= 1.5 * np.maximum(se, 0.01))
    _, far = fit.predict(np.array([8.0]), np.array([0.9]))
    assert far[0] > 5 * at_points.max()


def test_hyperparameters_maximise_the_likelihood_within_bounds(grid_fit) -> None:
    m, x, y, se, fit = grid_fit
    pts = np.column_stack([(m - m.min()) / np.ptp(m), (x - x.min()) / np.ptp(x)])
    h = fit.hyper
    theta = np.log([h.sigma_f, h.length_m, h.length_x, h.sigma_n])
    bounds = np.log(np.array(hyper_bounds(pts, y)))
    assert np.all(theta >= bounds[:, 0] - 1e-9) and np.all(theta <= bounds[:, 1] + 1e-9)
    best = restricted_log_likelihood(y, pts, se**2, h)
    assert best == pytest.approx(fit.log_likelihood)
    rng = np.random.default_rng(3)
    for _ in range(20):
        trial = np.clip(theta + rng.normal(0.0, 0.3, 4), bounds[:, 0], bounds[:, 1])
        assert restricted_log_likelihood(y, pts, se**2, GPHyper(*np.exp(trial))) <= best + 1e-6


def test_likelihood_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    pts, y = rng.random((9, 2)), rng.random(9)
    nv = np.full(9, 1e-3)
    theta = np.log([0.7, 0.4, 1.3, 0.05])
    _, grad = _restricted_ll_and_grad(y, pts, nv, GPHyper(*np.exp(theta)))

    def ll(t: np.ndarray) -> float:
        return _restricted_ll_and_grad(y, pts, nv, GPHyper(*np.exp(t)), gradient=False)[0]

    np.testing.assert_allclose(grad, optimize.approx_fprime(theta, ll, 1e-6), rtol=1e-4)


def test_degenerate_inputs_give_no_field_and_a_note() -> None:
    grid = np.linspace(2, 4, 5), np.linspace(0.1, 0.5, 4)
    cases = {
        "no measured": ([], []),
        "1 composition": ([2.0, 2.0], [0.3, 0.3]),  # replicas of one composition
        "2 compositions": ([2.0, 3.0], [0.3, 0.3]),
        "on one line": ([2.0, 3.0, 4.0], [0.1, 0.2, 0.3]),
    }
    for words, (m, x) in cases.items():
        y = np.zeros(len(m))
        field = interpolate_field(m, x, y, y + 0.1, *grid)
        assert field.fit is None and words in field.note
        assert field.mean.shape == (4, 5) and np.all(np.isnan(field.mean))
        if len(m):
            with pytest.raises(ValueError, match=words):
                fit_gp(m, x, y, y + 0.1)
    assert degenerate_reason([2.0, 3.0, 2.0], [0.1, 0.1, 0.3]) is None
    assert spans_plane([2.0, 3.0, 2.0], [0.1, 0.1, 0.3])


def test_missing_errors_use_the_median_and_a_floor() -> None:
    m, x = np.array([2.0, 3.0, 2.0, 3.0]), np.array([0.1, 0.1, 0.4, 0.4])
    y = np.array([-3.0, -2.5, -2.0, -1.2])
    fit = fit_gp(m, x, y, np.array([0.1, np.nan, 0.0, 0.3]))
    np.testing.assert_allclose(fit.noise_var, np.array([0.1, 0.2, 0.2, 0.3]) ** 2)
    fit = fit_gp(m, x, y, np.full(4, 1e-6))
    np.testing.assert_allclose(fit.noise_var, 0.01**2)


def test_shared_limits() -> None:
    assert shared_limits([np.array([-3.1, -2.2]), np.array([np.nan, -1.04])]) == (-3.25, -1.0)
    assert shared_limits([np.array([-2.0])]) == (-2.25, -1.75)
    assert all(np.isnan(shared_limits([np.array([np.nan])])))


def test_hopping_field_matches_the_rigidity_functions() -> None:
    pairs = [(4, 4), (4, 3), (3, 3), (3, 2), (2, 2), (4, 2)]
    inputs = HoppingInputs(
        weights=dict.fromkeys(pairs, 1.0) | {(4, 3): 24.0, (3, 3): 9.0, (3, 2): 12.0},
        energies={k: 0.1 * i for i, k in enumerate(pairs)},
        n_atoms=dict.fromkeys(pairs, 6.0),
        n_constraints={k: 14.0 + 2 * i for i, k in enumerate(pairs)},
        q_sites={k: [1.0, 2.0] for k in pairs},
        e_c=0.0002,
        delta=0.2,
    )
    m_grid, x_grid = np.array([1.5, 3.0]), np.array([0.2, 0.5])
    field = hopping_log10_field(m_grid, x_grid, inputs)
    assert np.isnan(field[0, 0]) and np.all(np.isnan(field[1]))  # m < 2 and x > 1/3
    # by hand, physics.md §6 at (x, m) = (0.2, 3), k_B T = 1: p2 = p3 = p4 = 1/3, so
    # p_jk = W_jk exp(-E_jk) / sum (eqs 2-4 closed over the clusters supplied)
    w = np.array([inputs.weights[k] for k in pairs])
    p = w * np.exp(-0.1 * np.arange(6))
    p /= p.sum()
    # eq 2: flexible clusters have N_c < 3 N = 18: (4, 4) with 14 and (4, 3) with 16
    f2 = (18 - 14) / 6 * p[0] + (18 - 16) / 6 * p[1]
    # eq 4: every cluster has q in {1, 2}, and the p_jk sum to one
    ec = sum(q * 0.0002 * np.exp(-q * 0.0002) for q in (1.0, 2.0))
    # eq 3 with E_m = -Delta f2
    sigma = 2 * 0.2 * np.exp(-ec) * np.exp(0.2 * f2)
    assert field[0, 1] == pytest.approx(np.log10(sigma), abs=1e-12)
    # the same through the rigidity functions the map is built from
    pr = connection_probabilities(0.2, 3.0, inputs.weights, inputs.energies, 1.0)
    f2r = floppy_density_f2(pr, inputs.n_atoms, inputs.n_constraints)
    ecr = mean_coulomb_energy(list(pr.values()), [inputs.q_sites[k] for k in pr], 0.0002, 1.0)
    assert field[0, 1] == pytest.approx(np.log10(hopping_conductivity(0.2, ecr, f2r, 0.2, 1.0)))


def test_hopping_field_rejects_inconsistent_tables() -> None:
    base = {
        "weights": {(4, 3): 24.0, (3, 3): 9.0},
        "energies": {(4, 3): 0.0, (3, 3): 0.1},
        "n_atoms": {(4, 3): 6.0, (3, 3): 6.0},
        "n_constraints": {(4, 3): 18.0, (3, 3): 16.0},
        "q_sites": {(3, 4): [1.0], (3, 3): [1.0]},  # either pair order
        "e_c": 0.0002,
        "delta": 0.2,
    }
    assert np.isfinite(hopping_log10_field([3.0], [0.2], HoppingInputs(**base))).all()
    with pytest.raises(ValueError, match=r"\(x, m\) = \(0.2, 3\).*energies missing"):
        hopping_log10_field([3.0], [0.2], HoppingInputs(**base | {"energies": {(4, 3): 0.0}}))
    with pytest.raises(ValueError, match=r"q_sites has no entry for cluster \(3, 3\)"):
        hopping_log10_field([3.0], [0.2], HoppingInputs(**base | {"q_sites": {(4, 3): [1.0]}}))
