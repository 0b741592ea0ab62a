"""Tests of glassflow.analysis.dynamics.transport: Einstein/GK D with honest errors, sigma, Haven,
fast/slow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glassflow.analysis.dynamics.correlations import (
    DynamicsSettings,
    analysis_lags,
    displacement_moment_sums,
    vacf_fft,
)
from glassflow.analysis.dynamics.msd_covariance import gls_terms
from glassflow.analysis.dynamics.tables import analyse_run, composition_summary, fast_slow_table
from glassflow.analysis.dynamics.transport import (
    A2_PS_TO_CM2_S,
    DiffusionFit,
    FitSettings,
    MSDCurve,
    a2ps_to_cm2s,
    collective_conductivity,
    conductivity_estimate,
    fit_einstein,
    fit_start_time,
    fit_window,
    green_kubo_diffusion,
    haven_ratio,
    local_loglog_slope,
    loglog_slope,
    msd_variance_model,
    nernst_einstein_conductivity,
    pivot_interval,
    replica_consistency,
    slope_verdict,
    variance_amplitudes,
)
from glassflow.analysis.structure.fast_slow import fast_slow_partition
from glassflow.analysis.structure.geometry import coordination_numbers
from glassflow.analysis.structure.pair_correlation import partial_rdf
from glassflow.io.trajectory import open_trajectory, write_trajectory

META = {"campaign": "test", "x": 0.5, "m": 2.0, "T_K": 1000.0, "replica": 1}


def msd_curve(pos, dt, settings=None):
    """All-origin MSD of a (frames, atoms, 3) array on the analysis lag grid."""
    n, na = pos.shape[:2]
    lags = analysis_lags(n, settings or DynamicsSettings())
    r2, _ = displacement_moment_sums(np.transpose(pos, (1, 2, 0)), fourth=False)
    return MSDCurve(lags, r2[lags] / na, float(na), n, dt)


def walk(seed, n_frames, n_atoms, d, dt):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(scale=np.sqrt(2 * d * dt), size=(n_frames, n_atoms, 3)), axis=0)


def test_random_walk_whole_run_is_fitted():
    """One random walk: D inside its interval; the fit runs to max_lag_fraction of the run."""
    d_true, dt = 0.1, 0.1
    c = msd_curve(walk(0, 1000, 40, d_true, dt), dt)
    f = fit_einstein([c], FitSettings(min_fit_time_ps=0.5))
    assert f.diffusive and f.reason == ""
    assert f.D_lo < d_true < f.D_hi and f.D_err / f.D < 0.05
    assert f.t_start_ps == pytest.approx(0.5) and f.max_lag_ps == pytest.approx(49.9)
    assert f.t_end_ps == f.max_lag_ps and f.loglog_slope == pytest.approx(1.0, abs=0.05)
    assert f.replica_D == (f.D,) and np.isnan(f.replica_p_value)
    short = fit_einstein([c], FitSettings(min_fit_time_ps=0.5, max_lag_fraction=0.2))
    assert 19.0 < short.max_lag_ps <= 19.9  # the longest stored lag within 0.2 of the run


def test_pivot_interval_is_exact_for_proportional_errors():
    """(D_hat - D)/(r D) standard normal -> [D/(1+zr), D/(1-zr)] covers 95 %."""
    rng = np.random.default_rng(0)
    r, d = 0.3, 2.0
    dh = d * (1 + r * rng.normal(size=200_000))
    lo, hi = pivot_interval(dh, r * dh, 0.95)
    assert np.mean((lo <= d) & (d <= hi)) == pytest.approx(0.95, abs=0.003)
    assert pivot_interval(1.0, 0.6, 0.95)[1] == np.inf  # z r >= 1: no upper bound


def test_replicas_pool_their_information():
    """Three replicas: the stacked fit has ~1/sqrt(3) of one replica's error, per-replica
    values sit beside it, and a consistent set passes the chi-square check."""
    d_true, dt = 0.1, 0.1
    curves = [msd_curve(walk(s, 1000, 30, d_true, dt), dt) for s in (1, 2, 3)]
    fs = FitSettings(min_fit_time_ps=0.5)
    pooled = fit_einstein(curves, fs)
    alone = [fit_einstein([c], fs, t_start_ps=pooled.t_start_ps) for c in curves]
    assert pooled.n_replicas == 3 and len(pooled.replica_D) == 3
    assert pooled.D_err == pytest.approx(np.mean([a.D_err for a in alone]) / np.sqrt(3), rel=0.2)
    assert pooled.D_lo < d_true < pooled.D_hi
    assert min(pooled.replica_D) < pooled.D < max(pooled.replica_D)
    assert 0.001 < pooled.replica_p_value <= 1.0
    # a replica with twice the diffusivity is flagged as inconsistent
    odd = msd_curve(walk(4, 1000, 30, 2 * d_true, dt), dt)
    assert fit_einstein([*curves, odd], fs).replica_p_value < 1e-3


def test_fit_starts_after_the_cage():
    """MSD = 6 D t + c (1 - exp(-t/tau)): the start is where the slope stays near 1."""
    t = np.arange(1, 2001) * 0.1
    d, c, tau = 0.05, 1.0, 0.5
    msd = 6 * d * t + c * (1 - np.exp(-t / tau))
    start, found = fit_start_time(t, msd, FitSettings(min_fit_time_ps=0.2), 100.0)
    slope = local_loglog_slope(t, msd)
    assert found and slope[np.searchsorted(t, start)] >= 0.85
    assert slope[np.searchsorted(t, 0.95 * start)] < 0.85 + 0.01
    # a slope that only passes through 1 on the way from 2 to a plateau is skipped
    ball = np.where(t < 0.5, 20 * t**2, 5.0) + 0.01 * t
    start, found = fit_start_time(t, ball, FitSettings(min_fit_time_ps=0.1), 100.0)
    assert not found and start == pytest.approx(100.0 / 3.0)


# the four steps of fit_einstein ------------------------------------------------------------
def test_fit_window_end_start_and_thinning():
    """Exact MSD = 0.6 t on every frame of a 1000-frame run (dt 0.1 ps): the end is the
    last lag within half the run (lag 499: 49.9 <= 0.5 x 99.9 ps), the local slope is
    exactly 1 so the fit starts at min_fit_time_ps, and the 490 lags 1.0-49.9 ps are
    thinned evenly to 300 keeping both ends."""
    lags = np.arange(1, 1000)
    c = MSDCurve(lags, 0.6 * 0.1 * lags, 20.0, 1000, 0.1)
    w = fit_window([c], FitSettings(min_fit_time_ps=1.0))
    assert w.t_end_ps == pytest.approx(49.9) and w.msd_end == pytest.approx(0.6 * 49.9)
    assert w.t_start_ps == pytest.approx(1.0) and w.start_found
    assert w.msd_start == pytest.approx(0.6)
    kept = lags[w.masks[0]]
    assert w.n_lags == 300 and kept[0] == 10 and kept[-1] == 499
    assert set(np.diff(kept)) == {1, 2}  # 489 steps over 299 gaps: 1 or 2 frames
    assert w.pooled_t_ps[0] == pytest.approx(1.0) and w.pooled_t_ps[-1] == pytest.approx(49.9)
    # an imposed start; one below min_fit_time_ps is raised to it
    assert fit_window([c], FitSettings(min_fit_time_ps=1.0), 2.0).t_start_ps == 2.0
    assert fit_window([c], FitSettings(min_fit_time_ps=1.0), 0.3).t_start_ps == 1.0
    # a second, shorter replica (600 frames) ends the window at 0.5 x 59.9 ps
    short = MSDCurve(lags[:599], 0.6 * 0.1 * lags[:599], 20.0, 600, 0.1)
    w2 = fit_window([c, short], FitSettings(min_fit_time_ps=1.0))
    assert w2.t_end_ps == pytest.approx(29.9) and w2.n_lags == 290
    # ballistic, then a plateau: no start found, the start is t_end / min_fit_span
    ball = np.where(lags < 5, 20 * (0.1 * lags) ** 2, 5.0) + 0.001 * lags
    w3 = fit_window([MSDCurve(lags, ball, 20.0, 1000, 0.1)], FitSettings(min_fit_time_ps=0.1))
    assert not w3.start_found and w3.t_start_ps == pytest.approx(49.9 / 3.0)


def overlap_integral_by_quadrature(t_i, t_j, s_i, s_j, power):
    """int_0^{S_i} du int_0^{S_j} dv o(u, v)^power, o the overlap of [u, u + t_i] and
    [v, v + t_j] (eq C3), written over the origin offset x = u - v: the overlap is
    max(0, min(x + t_i, t_j) - max(x, 0)) and the origin pairs at offset x number
    max(0, min(S_i, S_j + x) - max(0, x)). Integrated by scipy's adaptive quadrature
    with the kinks as break points (independent of the package's Gauss-Legendre rule)."""
    from scipy.integrate import quad

    def integrand(x):
        o = max(0.0, min(x + t_i, t_j) - max(x, 0.0))
        pairs = max(0.0, min(s_i, s_j + x) - max(0.0, x))
        return pairs * o**power

    kinks = sorted({-t_i, 0.0, t_j - t_i, t_j, -s_j, s_i - s_j, s_i})
    lo, hi = -s_j, s_i
    return quad(integrand, lo, hi, points=[k for k in kinks if lo < k < hi], limit=200)[0]


def test_msd_variance_model_matches_eq_c3():
    """Diagonal of eq C3 in closed form: with S = n_frames dt - t >= t and origin pairs
    at offset x weighing (S - |x|), over N particles

        A_ii = int (S - |x|) (t - |x|)^2 dx / (N S^2) = (2 S t^3 / 3 - t^4 / 6) / (N S^2)
        B_ii = int (S - |x|) (t - |x|)   dx / (N S^2) = (S t^2 - t^3 / 3) / (N S^2),

    an off-diagonal element by 2-D quadrature, and the per-lag term t / (N S)."""
    n_frames, dt, n = 400, 0.05, 16.0
    lags = np.array([3, 20, 50, 120, 199])
    c = MSDCurve(lags, 0.6 * dt * lags, n, n_frames, dt)
    mask = np.array([True, True, False, True, True])
    m = msd_variance_model(c, mask)
    t = lags[mask] * dt
    big_s = n_frames * dt - t
    np.testing.assert_allclose(
        np.diag(m.gaussian), (2 * big_s * t**3 / 3 - t**4 / 6) / (n * big_s**2), rtol=1e-12
    )
    np.testing.assert_allclose(
        np.diag(m.jump), (big_s * t**2 - t**3 / 3) / (n * big_s**2), rtol=1e-12
    )
    np.testing.assert_allclose(m.nugget, t / (n * big_s), rtol=1e-14)
    for power, mat in ((2, m.gaussian), (1, m.jump)):
        ref = overlap_integral_by_quadrature(t[1], t[2], big_s[1], big_s[2], power)
        assert mat[1, 2] == pytest.approx(ref / (n * big_s[1] * big_s[2]), rel=1e-10)
    # Cov = (2/3)(6 D)^2 A + 6 D (a2 B + eta diag(nugget)) (eqs C2-C3 and the per-lag term)
    d, a2, eta = 0.2, 1.5, 0.01
    expected = (2 / 3) * (6 * d) ** 2 * m.gaussian + 6 * d * (a2 * m.jump + eta * np.diag(m.nugget))
    np.testing.assert_allclose(m.covariance(d, a2, eta), expected, rtol=1e-14)


def test_variance_amplitudes_recover_the_amplitudes_of_the_data():
    """MSD data drawn from the covariance model itself, 150 replicas: the likelihood
    picks the grid values the data were drawn with (a2 and eta both on the grid), and
    (0, 0) for purely Gaussian data."""
    n_frames, dt, n_part, d = 1000, 0.04, 32.0, 0.1
    lags = np.unique(np.geomspace(10, 499, 40).astype(np.int64))
    c = MSDCurve(lags, 6 * d * dt * lags, n_part, n_frames, dt)
    mask = np.ones(lags.size, bool)
    model = msd_variance_model(c, mask)
    t = lags * dt
    x = np.column_stack([6 * t, np.ones(t.size)])
    m0 = 6 * d * t[0]
    a2_grid = m0 * np.geomspace(1e-2, 3.0, 7)
    eta_grid = m0 * dt * np.geomspace(1e-5, 1e2, 29)
    rng = np.random.default_rng(4)
    for a2_true, eta_true in ((a2_grid[5], eta_grid[20]), (0.0, 0.0)):
        cov = model.covariance(d, a2_true, eta_true)
        chol = np.linalg.cholesky(cov)
        ys = [6 * d * t + chol @ rng.normal(size=t.size) for _ in range(150)]
        a2, eta = variance_amplitudes([x] * 150, ys, [model] * 150, d, m0, dt)
        assert a2 == pytest.approx(a2_true, rel=1e-12)
        assert eta == pytest.approx(eta_true, rel=1e-12)


def test_replica_consistency_chi_square_by_hand():
    """Three replicas, data exactly on MSD = 6 D_r t + 1 with D_r = D0, D0 + se,
    D0 - se, the same lags and the same covariance sigma^2 I. Each replica's GLS is
    then ordinary least squares: se = sigma / sqrt(sum (x - mean x)^2), x = 6 t; the
    pooled D is D0, chi2 = 1 + 1 = 2 with 2 degrees of freedom: p = exp(-1)."""
    t = np.linspace(1.0, 20.0, 25)
    x = np.column_stack([6 * t, np.ones(t.size)])
    sigma = 0.3
    se = sigma / np.sqrt(np.sum((6 * t - np.mean(6 * t)) ** 2))
    d0 = 0.1
    cov = sigma**2 * np.eye(t.size)
    terms = [gls_terms(x, 6 * dr * t + 1.0, cov) for dr in (d0, d0 + se, d0 - se)]
    rep_d, rep_e, p = replica_consistency(terms, d0)
    np.testing.assert_allclose(rep_d, [d0, d0 + se, d0 - se], rtol=1e-10)
    np.testing.assert_allclose(rep_e, [se] * 3, rtol=1e-10)
    assert p == pytest.approx(np.exp(-1.0), rel=1e-10)
    # consistent replicas: chi2 = 0, p = 1; one replica: no test
    assert replica_consistency(terms[:1] * 3, d0)[2] == pytest.approx(1.0)
    assert np.isnan(replica_consistency(terms[:1], d0)[2])


def test_loglog_slope_of_power_laws_and_its_error_by_hand():
    """MSD = 2 t^alpha exactly: the slope is alpha. With a diagonal MSD covariance
    sigma_i^2 the log-space weights are w_i = m_i^2 / sigma_i^2 (m the fitted line, eq
    2 propagated to ln MSD) and se^2 = 1 / sum w_i (ln t_i - <ln t>_w)^2."""
    t = np.geomspace(1.0, 50.0, 30)
    for alpha in (0.5, 1.0, 2.0):
        m = 2.0 * t**alpha
        sig = 0.02 * m + 0.05
        slope, err = loglog_slope([t], [m], [np.diag(sig**2)], 0.3, 1.0)
        assert slope == pytest.approx(alpha, rel=1e-10)
        line = 6 * 0.3 * t + 1.0
        w = line**2 / sig**2
        xw = np.sum(w * np.log(t)) / np.sum(w)
        assert err == pytest.approx(1 / np.sqrt(np.sum(w * (np.log(t) - xw) ** 2)), rel=1e-7)
    # two replicas add their information: the same data twice -> error / sqrt(2)
    m = 2.0 * t
    cv = np.diag((0.02 * m) ** 2)
    one = loglog_slope([t], [m], [cv], 0.3, 1.0)[1]
    assert loglog_slope([t, t], [m, m], [cv, cv], 0.3, 1.0)[1] == pytest.approx(one / np.sqrt(2))
    # where the line is not positive the data weigh; a replica with MSD <= 0 there is left out
    assert loglog_slope([t], [-m], [cv], -1.0, 0.0) == (pytest.approx(np.nan, nan_ok=True),) * 2


def test_slope_verdict_at_the_band_edges():
    """z(95 %) = 1.959964: 0.80 +- 0.02 reaches 0.839 < 0.85 (sub-diffusive), 0.80 +-
    0.03 reaches 0.859 (consistent), 1.20 +- 0.02 is above 1.15 by more than z err."""
    fs = FitSettings()
    assert slope_verdict(0.41, 0.03, fs) == "sub-diffusive"
    assert slope_verdict(0.80, 0.02, fs) == "sub-diffusive"
    assert slope_verdict(0.80, 0.03, fs) == ""
    assert slope_verdict(1.20, 0.02, fs) == "super-diffusive"
    assert slope_verdict(1.20, 0.03, fs) == ""
    assert slope_verdict(2.0, 0.06, fs) == "super-diffusive"
    assert slope_verdict(float("nan"), 0.01, fs) == ""
    # 68 % (z = 0.994458): 0.80 +- 0.05 reaches 0.8497 < 0.85
    assert slope_verdict(0.80, 0.05, FitSettings(ci_level=0.68)) == "sub-diffusive"
    assert slope_verdict(0.80, 0.0503, FitSettings(ci_level=0.68)) == ""


def test_unit_conversions_hand_computed():
    assert A2_PS_TO_CM2_S == 1e-4
    assert a2ps_to_cm2s(2.5) == pytest.approx(2.5e-4)
    # sigma = N z^2 e^2 D / (V kB T), by hand: N=1000, z=0.6, D=1 A^2/ps = 1e-4 cm^2/s,
    # V = 1e6 A^3 = 1e-18 cm^3, T = 1000 K:
    # 1000 * 0.36 * (1.602176634e-19)^2 * 1e-4 / (1e-18 * 1.380649e-23 * 1000)
    # = 9.2410916e-40 / 1.380649e-38 = 0.0669329 S/cm
    s = nernst_einstein_conductivity([1000], [0.6], [1.0], 1.0e6, 1000.0)
    assert s == pytest.approx(0.0669329, rel=1e-5)
    # collective with slope 6 * 360 e^2 A^2/ps must give the same number
    assert collective_conductivity(6 * 360.0, 1.0e6, 1000.0) == pytest.approx(s, rel=1e-12)
    h, he = haven_ratio(2.0, 4.0, 0.2, 0.4)
    assert h == 0.5 and he == pytest.approx(0.5 * np.hypot(0.1, 0.1))


# CODATA 2018 (exact in the SI since 2019), written here, not taken from the module
E_C = 1.602176634e-19  # elementary charge, C
KB_J_K = 1.380649e-23  # Boltzmann constant, J/K


def sigma_by_hand(charge_slope_e2A2_ps, volume_A3, temperature_K):
    """sigma = e^2/(6 V kB T) d<|sum_i z_i dr_i|^2>/dt (eq 5) in S/cm.

    Slope in e^2 Å^2/ps -> C^2 cm^2/s with 1 Å^2/ps = 1e-4 cm^2/s; V in Å^3 -> cm^3
    with 1 Å^3 = 1e-24 cm^3: C^2 cm^2 s^-1 / (cm^3 J) = C/(V s) / cm = S/cm.
    """
    return E_C**2 * charge_slope_e2A2_ps * 1e-4 / (6 * volume_A3 * 1e-24 * KB_J_K * temperature_K)


def exact_charge_curve(slope_e2A2_ps, n_frames=4000, dt=0.05):
    """A collective charge MSD that is exactly ``slope t`` at every lag (one 'particle')."""
    lags = np.unique(np.geomspace(1, n_frames - 1, 300).astype(np.int64))
    return MSDCurve(lags, slope_e2A2_ps * lags * dt, 1.0, n_frames, dt)


def known_fit(d_a2_ps, rel_err=0.01, t_start_ps=1.0):
    """An Einstein fit with a given D (Å^2/ps), as conductivity_estimate receives it."""
    return DiffusionFit(
        True, "", 99.0, 1.0, D=d_a2_ps, D_err=rel_err * d_a2_ps, t_start_ps=t_start_ps
    )


VOLUMES_A3 = (6000.0, 12000.0, 24000.0)  # three replicas, a factor 4 apart


def test_pooled_sigma_of_replicas_with_equal_conductivity_and_different_volumes():
    """Three replicas of one conductivity sigma0 in cells of 6000, 12000, 24000 Å^3.

    Each replica's charge MSD is exactly ``s_i t`` with ``s_i = 6 V_i kB T sigma0 / e^2``
    (eq 5 solved for the slope, so s_i grows with V_i): the pooled sigma must be
    sigma0 whatever the weights of the stacked fit. Rescaling each MSD by V_i/V_ref
    instead of V_ref/V_i gives slopes proportional to V_i^2 and a different sigma.
    """
    temperature, sigma0 = 1200.0, 0.05
    slopes = [sigma0 * 6 * v * 1e-24 * KB_J_K * temperature / (E_C**2 * 1e-4) for v in VOLUMES_A3]
    for s_i, v in zip(slopes, VOLUMES_A3, strict=True):
        assert sigma_by_hand(s_i, v, temperature) == pytest.approx(sigma0, rel=1e-12)
    est = conductivity_estimate(
        {"Na": known_fit(0.1)},
        {"Na": 100.0},
        {"Na": 1.0},
        [exact_charge_curve(s_i) for s_i in slopes],
        VOLUMES_A3,
        temperature,
    )
    assert est.sigma == pytest.approx(sigma0, rel=1e-9)
    assert est.sigma_lo < sigma0 < est.sigma_hi


def test_pooled_sigma_and_haven_of_independent_ions_in_different_volumes():
    """N independent ions of charge z and diffusivity D in each of three cells of
    different volume: the charge MSD is ``N z^2 6 D t`` in every replica, so

        sigma_i = e^2 N z^2 D / (V_i kB T) = sigma_NE,i       (eq 5 = eq 8, H_R = 1).

    The three runs are equally long with the same lags, so the stacked GLS gives the
    replicas equal weights: the pooled sigma is the mean of the sigma_i (by hand below),
    the pooled sigma_NE the same mean, and H_R = 1 exactly.
    """
    temperature, n, z, d = 900.0, 200.0, 0.6, 0.05  # d in Å^2/ps
    slope = n * z**2 * 6 * d
    sig_i = [sigma_by_hand(slope, v, temperature) for v in VOLUMES_A3]
    # eq 8 by hand: N z^2 e^2 D / (V kB T), D in cm^2/s, V in cm^3
    ne_i = [n * z**2 * E_C**2 * d * 1e-4 / (v * 1e-24 * KB_J_K * temperature) for v in VOLUMES_A3]
    assert sig_i == pytest.approx(ne_i, rel=1e-12)
    est = conductivity_estimate(
        {"Na": known_fit(d)},
        {"Na": n},
        {"Na": z},
        [exact_charge_curve(slope) for _ in VOLUMES_A3],
        VOLUMES_A3,
        temperature,
    )
    assert est.sigma == pytest.approx(np.mean(sig_i), rel=1e-9)
    assert est.sigma_ne == pytest.approx(np.mean(ne_i), rel=1e-12)
    assert est.haven == pytest.approx(1.0, rel=1e-9)


def assert_known(est, lo, hi, truth):
    """``truth`` inside the estimator's own interval [lo, hi], which is narrow enough that
    a factor 2 either way lies outside it."""
    assert lo <= truth <= hi, f"{truth} outside [{lo}, {hi}] (estimate {est})"
    assert hi < 2 * truth and lo > truth / 2, f"[{lo}, {hi}] does not exclude 2x or x/2"


BOX_A, D_ION = 30.0, 0.2  # Å, Å^2/ps


def ion_system(path, kind, n_frames=4000, n_units=100, seed=0, dt=0.1):
    """Synthetic ions with a known Haven ratio; every mobile ion has D = D_ION.

    - ``independent``: 2n Na (z = +0.6) on independent random walks, 2n static S
      (z = -0.6). Charge MSD = sum_i z_i^2 6 D t = the NE value: H_R = 1.
    - ``cation_pairs``: as above but the Na move in pairs with identical
      displacements. Charge MSD = n (2 z)^2 6 D t = 2 N z^2 6 D t: H_R = 1/2.
    - ``ion_pairs``: n Na (z+ = +0.6) and n S (z- = -1.2) bound in rigid pairs (each
      S keeps a fixed offset from its Na, so both have the same displacement) plus n/4
      static Si (+2.4) for neutrality. Pair p moves by d_p, so the charge displacement
      is sum_p (z+ + z-) d_p and

          sigma    ∝ n (z+ + z-)^2 D          (eq 5: the pair's charges cancel in part)
          sigma_NE ∝ n (z+^2 + z-^2) D        (eq 8: each ion counted alone)
          H_R = (z+^2 + z-^2) / (z+ + z-)^2 = (0.36 + 1.44) / 0.36 = 5.

    The cells are neutral, so the centre-of-mass correction of eq 5 leaves the charge
    displacement unchanged. Returns the open trajectory and the true sigma (eq 5), S/cm,
    from D_ION and the CODATA constants (the true H_R is given above).
    """
    rng = np.random.default_rng(seed)
    scale = np.sqrt(2 * D_ION * dt)
    n = n_units
    if kind == "ion_pairs":
        walk_ = np.cumsum(rng.normal(scale=scale, size=(n_frames, n, 3)), axis=0)
        na = walk_ + rng.uniform(0, BOX_A, size=(n, 3))
        s_ = na + rng.normal(size=(n, 3))  # rigid offsets
        si = np.broadcast_to(rng.uniform(0, BOX_A, size=(n // 4, 3)), (n_frames, n // 4, 3))
        pos = np.concatenate([na, s_, si], axis=1)
        types = np.repeat([0, 1, 2], [n, n, n // 4])
        species, charges = ("Na", "S", "Si"), np.array([0.6, -1.2, 2.4])
        charge_slope = n * (0.6 - 1.2) ** 2 * 6 * D_ION
    else:
        if kind == "cation_pairs":
            steps = np.repeat(rng.normal(scale=scale, size=(n_frames, n, 3)), 2, axis=1)
            charge_slope = n * (2 * 0.6) ** 2 * 6 * D_ION
        else:
            steps = rng.normal(scale=scale, size=(n_frames, 2 * n, 3))
            charge_slope = 2 * n * 0.6**2 * 6 * D_ION
        cat = np.cumsum(steps, axis=0) + rng.uniform(0, BOX_A, size=(2 * n, 3))
        an = np.broadcast_to(rng.uniform(0, BOX_A, size=(2 * n, 3)), cat.shape)
        pos = np.concatenate([cat, an], axis=1)
        types = np.repeat([0, 1], 2 * n)
        species, charges = ("Na", "S"), np.array([0.6, -0.6])
    write_trajectory(
        path,
        species,
        types,
        pos,
        [BOX_A] * 3,
        np.arange(n_frames) * dt,
        charges=charges[types],
        masses=np.array([23.0, 32.06, 28.09])[types],
    )
    return open_trajectory(path), sigma_by_hand(charge_slope, BOX_A**3, META["T_K"])


@pytest.mark.parametrize(
    ("kind", "haven_true"), [("independent", 1.0), ("cation_pairs", 0.5), ("ion_pairs", 5.0)]
)
def test_haven_ratio_and_sigma_of_known_correlations(tmp_path, kind, haven_true):
    """H_R and sigma of one run against their analytic values (:func:`ion_system`):
    inside the reported 95 % intervals, with |estimate - truth| < 3 standard errors,
    and intervals that exclude twice and half the true value."""
    traj, sigma_true = ion_system(tmp_path / f"{kind}.gtrj", kind)
    s = analyse_run(traj, META, DynamicsSettings(n_blocks=8))["summary"].set_index("species")
    assert bool(s.loc["Na", "diffusive"]) and not bool(
        s.loc["S" if kind != "ion_pairs" else "Si", "diffusive"]
    )
    row = s.loc["Na"]
    h, he = row["haven_ratio"], row["haven_ratio_err"]
    assert abs(h - haven_true) < 3 * he
    assert_known(h, row["haven_ratio_lo"], row["haven_ratio_hi"], haven_true)
    sig, se = row["sigma_S_cm"], row["sigma_err_S_cm"]
    assert abs(sig - sigma_true) < 3 * se
    assert_known(sig, row["sigma_lo_S_cm"], row["sigma_hi_S_cm"], sigma_true)


def charge_curve_of(pos, charges, dt):
    """Collective charge MSD <|sum_i z_i dr_i|^2> (e^2 Å^2) of (frames, atoms, 3) positions,
    all origins, as one 'particle'."""
    n = pos.shape[0]
    j = np.einsum("a,tad->dt", charges, pos)[None]
    r2, _ = displacement_moment_sums(j, fourth=False)
    lags = analysis_lags(n, DynamicsSettings())
    return MSDCurve(lags, r2[lags], 1.0, n, dt)


def test_pooled_sigma_and_haven_of_random_walks_in_different_volumes():
    """Three replicas of 100 independent ions (z = 0.6, D = D_ION) in cells of 6000,
    12000 and 24000 Å^3, fitted together. True values (the runs are equally long, so
    the replicas weigh equally): sigma = mean_i N z^2 e^2 D / (V_i kB T), H_R = 1. Both
    inside the pooled 95 % intervals, which exclude twice and half the truth."""
    n, z, dt, n_frames, temperature = 100, 0.6, 0.1, 3000, 1000.0
    species_curves, charge_curves = [], []
    for seed in (21, 22, 23):
        pos = walk(seed, n_frames, n, D_ION, dt)
        species_curves.append(msd_curve(pos, dt))
        charge_curves.append(charge_curve_of(pos, np.full(n, z), dt))
    fs = FitSettings()
    fit = fit_einstein(species_curves, fs)
    est = conductivity_estimate(
        {"Na": fit}, {"Na": n}, {"Na": z}, charge_curves, VOLUMES_A3, temperature, fs
    )
    sigma_true = np.mean([sigma_by_hand(n * z**2 * 6 * D_ION, v, temperature) for v in VOLUMES_A3])
    assert abs(est.sigma - sigma_true) < 3 * est.sigma_err
    assert_known(est.sigma, est.sigma_lo, est.sigma_hi, sigma_true)
    assert abs(est.haven - 1.0) < 3 * est.haven_err
    assert_known(est.haven, est.haven_lo, est.haven_hi, 1.0)


def test_caged_oscillators_no_diffusive_regime(tmp_path):
    """Ornstein-Uhlenbeck (harmonically bound) particles: MSD plateau, no D."""
    rng = np.random.default_rng(7)
    n_frames, n_atoms, dt, k = 2000, 50, 0.1, 0.5
    x = np.zeros((n_frames, n_atoms, 3))
    x[0] = rng.normal(size=(n_atoms, 3))
    a = np.exp(-k * dt)
    for i in range(1, n_frames):
        x[i] = a * x[i - 1] + np.sqrt(1 - a * a) * rng.normal(size=(n_atoms, 3))
    x += rng.uniform(0, 20, size=(n_atoms, 3))
    write_trajectory(
        tmp_path / "h.gtrj",
        ("Na",),
        np.zeros(n_atoms),
        x,
        [20.0] * 3,
        np.arange(n_frames) * dt,
        charges=np.ones(n_atoms),
    )
    s = analyse_run(open_trajectory(tmp_path / "h.gtrj"), META)["summary"]
    row = s.iloc[0]
    assert not bool(row["diffusive"]) and "MSD does not grow" in row["reason"]
    assert "longest lag 99.9 ps" in row["reason"] and row["max_lag_ps"] == pytest.approx(99.9)
    assert s["D_cm2_s"].isna().all() and s["D_cm2_s"].dtype == "Float64"
    assert s["sigma_S_cm"].isna().all() and s["haven_ratio"].isna().all()
    # below min_msd_A2 at the longest lag: caged, a different, explicit reason
    t = np.arange(1, 1000)
    flat = MSDCurve(t, np.full(t.size, 0.3), 50.0, 1000, 0.1)
    f = fit_einstein([flat])
    assert not f.diffusive and "caged" in f.reason and "min_msd_A2" in f.reason


def test_ballistic_curve_is_not_diffusive():
    t = np.arange(1, 1000)
    f = fit_einstein([MSDCurve(t, 5.0 * (0.1 * t) ** 2, 50.0, 1000, 0.1)])
    assert not f.diffusive and "super-diffusive" in f.reason
    assert f.D is None and f.D_lo is None and f.loglog_slope == pytest.approx(2.0, abs=0.05)


def test_subdiffusive_power_law_is_not_diffusive():
    """MSD ~ t^0.5 all the way: refused with the fitted slope in the reason, no D."""
    t = np.arange(1, 2000)
    f = fit_einstein([MSDCurve(t, 2.0 * (0.1 * t) ** 0.5, 100.0, 2000, 0.1)])
    assert not f.diffusive and f.reason.startswith("sub-diffusive: log-log MSD slope 0.5")
    assert "longest lag 99.9 ps" in f.reason and f.D is None


def test_too_short_run_is_not_diffusive():
    t = np.arange(1, 20)
    f = fit_einstein([MSDCurve(t, 0.6 * t, 50.0, 20, 0.1)], FitSettings(min_fit_time_ps=1.0))
    assert not f.diffusive and "too short" in f.reason and f.max_lag_ps == pytest.approx(0.9)


def test_green_kubo_langevin_velocities():
    """OU velocities: VACF = 3 kT/m exp(-g t), D = (kT/m)/g; Einstein on the integrated
    positions agrees within its error."""
    rng = np.random.default_rng(11)
    n_frames, n_atoms, dt, g, v2 = 20000, 40, 0.01, 2.0, 1.5  # v2 = kT/m (A/ps)^2
    a = np.exp(-g * dt)
    v = np.empty((n_frames, n_atoms, 3))
    v[0] = rng.normal(scale=np.sqrt(v2), size=(n_atoms, 3))
    noise = rng.normal(scale=np.sqrt(v2 * (1 - a * a)), size=(n_frames, n_atoms, 3))
    for i in range(1, n_frames):
        v[i] = a * v[i - 1] + noise[i]
    c = vacf_fft(v)[:600]
    d_gk, used = green_kubo_diffusion(np.arange(600) * dt, c, (2.0, 5.0))
    assert used == pytest.approx((2.0, 5.0))
    assert d_gk == pytest.approx(v2 / g, rel=0.05)
    pos = np.cumsum(v * dt, axis=0)
    e = fit_einstein([msd_curve(pos, dt)], FitSettings(min_fit_time_ps=2.0))
    assert e.diffusive and abs(e.D - d_gk) < 3 * e.D_err + 0.03 * d_gk


def test_green_kubo_window_clipped():
    t = np.arange(300) * 0.01
    d, used = green_kubo_diffusion(t, np.exp(-t), (2.0, 5.0))
    assert used[1] == pytest.approx(2.99)
    d, used = green_kubo_diffusion(t[:100], np.exp(-t[:100]), (2.0, 5.0))
    assert used is None and np.isnan(d)


def test_partial_rdf_matches_brute_force_and_ideal_gas():
    rng = np.random.default_rng(3)
    box = np.array([12.0, 14.0, 13.0])
    a, b = rng.uniform(0, 1, (60, 3)) * box, rng.uniform(0, 1, (80, 3)) * box - 5.0
    r, g = partial_rdf(a, b, box, r_max_A=6.0, dr_A=0.5)
    d = a[:, None] - b[None]
    d -= box * np.round(d / box)
    dist = np.linalg.norm(d, axis=-1).ravel()
    edges = np.arange(0, 6.25, 0.5)
    shell = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    ref = np.histogram(dist, edges)[0] / (60 * 80 / box.prod() * shell)
    assert np.allclose(g, ref)
    pts = rng.uniform(0, 1, (3000, 3)) * box
    r, g = partial_rdf(pts, pts, box, dr_A=0.5, same=True)
    assert np.mean(g[r > 2]) == pytest.approx(1.0, abs=0.03)


def test_fast_slow_partition_and_coordination():
    d2 = np.array([5.0, 1.0, 9.0, 0.5, 3.0, 7.0, 2.0, 8.0])
    fast, slow = fast_slow_partition(d2, 0.25)
    assert set(fast) == {2, 7} and set(slow) == {1, 3}
    box = np.array([10.0, 10.0, 10.0])
    s_atoms = np.array([[0.2, 0.0, 0.0], [5.0, 5.0, 5.0]])
    si = np.array([[9.0, 0.0, 0.0], [2.0, 0.0, 0.0], [5.0, 5.0, 7.5]])
    assert np.allclose(coordination_numbers(s_atoms, si, box, 2.8), [2, 1])


def tetrahedron(si, directions):
    """S at 2.1 Å from the Si at ``si`` along the tetrahedral ``directions`` (+-1 each)."""
    return [np.asarray(si, float) + 2.1 / np.sqrt(3) * np.asarray(d, float) for d in directions]


# tetrahedral directions with the edge between the first two S facing +x
EDGE_PLUS_X = [(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)]


def test_fast_slow_table_on_a_built_glass(tmp_path):
    """Hand-built cell (30 Å cube): 8 Na, 5 SiS4 tetrahedra, known fast and slow Na.

    Na displacements over the lag (Å): fast F1 4.0, F2 3.0; four others 2.0-1.4 (far
    away at x, y, z >= 20); slow W1 0.5, W2 0.2. At t = 0
    F1 = (5, 5, 5), F2 = (5, 5, 10.025), W1 = (5, 12.025, 5), W2 = (5, 12.025, 13.025).

    Na-Na distances: F1F2 = 5.025 (along z), W1W2 = 8.025 (along z), F1W1 = 7.025
    (along y), F2W2 = hypot(7.025, 3) = 7.6388, F2W1 = hypot(7.025, 5.025) = 8.6372,
    F1W2 = hypot(7.025, 8.025) = 10.6654; each lies inside one 0.05 Å bin. With
    ``g = n / (N_a rho_b shell)`` and exact shell volumes ``4/3 pi (r_hi^3 - r_lo^3)``:
    fast-fast (N_a = 2, rho_b = 1/V, 2 ordered pairs) g = V / shell at 5.025;
    slow-slow likewise at 8.025; fast-slow (N_a = 2, rho_b = 2/V, one pair per
    distance) g = V / (4 shell) at the four distances; g = 0 in every other bin.

    Every Na sits 3.5 Å along x from a Si whose tetrahedron turns an edge to it: the two
    S of that edge are at sqrt((3.5 - 1.2124)^2 + 2 x 1.2124^2) = 2.859 Å, the other two
    at 5.015 Å (1.2124 = 2.1/sqrt(3)). Near F1 and F2: four S, each bonded to one Si
    (non-bridging): mean Si coordination 1. Near W1, one of its two S also bridges to a
    fifth tetrahedron (Si-S-Si angle 109.47°, that Si 4.9 Å from W1): near the slow Na
    four S with 2 + 1 + 1 + 1 Si: mean 5/4 = 1.25. All other Na-S distances are >= 4.6
    Å (cutoff 4 Å) and all other Si-S >= 4.0 Å (cutoff 2.8 Å).
    """
    f1, f2 = np.array([5.0, 5.0, 5.0]), np.array([5.0, 5.0, 10.025])
    w1, w2 = np.array([5.0, 12.025, 5.0]), np.array([5.0, 12.025, 13.025])
    others = np.array([[20, 20, 20], [20, 20, 26], [20, 26, 20], [26, 20, 20]], float)
    na0 = np.vstack([f1, f2, w1, w2, others])
    shift = np.array([4.0, 3.0, 0.5, 0.2, 2.0, 1.8, 1.6, 1.4])
    x = np.array([3.5, 0.0, 0.0])
    si = [f1 - x, f2 + x, w1 - x, w2 - x]
    sulphur = tetrahedron(si[0], EDGE_PLUS_X) + tetrahedron(si[1], -np.array(EDGE_PLUS_X))
    near_w1 = tetrahedron(si[2], EDGE_PLUS_X)
    bridge = near_w1[0]  # the S of W1's edge that a fifth Si shares
    si.append(bridge + 2.1 / np.sqrt(3) * np.array([-1.0, 1.0, 1.0]))
    sulphur += near_w1 + tetrahedron(si[4], [(-1, 1, -1), (-1, -1, 1), (1, 1, 1)])
    sulphur += tetrahedron(si[3], EDGE_PLUS_X)
    frame0 = np.vstack([na0, np.array(si), np.array(sulphur)])
    frame1 = frame0.copy()
    frame1[:8, 0] += shift
    types = np.repeat([0, 1, 2], [8, 5, len(sulphur)])
    path = write_trajectory(
        tmp_path / "built.gtrj",
        ("Na", "Si", "S"),
        types,
        np.stack([frame0, frame1]),
        [30.0] * 3,
        np.array([0.0, 1.0]),
        charges=np.array([0.6, 2.4, -1.2])[types],
    )
    fs = fast_slow_table(open_trajectory(path), META)
    row = fs.iloc[0]
    assert row["lag_ps"] == 1.0 and row["n_fast"] == 2 and row["n_slow"] == 2
    assert row["n_S_near_fast"] == 4 and row["si_cn_S_near_fast"] == 1.0
    assert row["n_S_near_slow"] == 4 and row["si_cn_S_near_slow"] == 1.25
    volume, dr = 30.0**3, 0.05

    def shell(r):
        lo = np.floor(r / dr) * dr
        return 4 / 3 * np.pi * ((lo + dr) ** 3 - lo**3)

    expected = {
        "fast-fast": {5.025: volume / shell(5.025)},
        "slow-slow": {8.025: volume / shell(8.025)},
        "fast-slow": {r: volume / (4 * shell(r)) for r in (7.025, 7.6388, 8.6372, 10.6654)},
    }
    for pair, peaks in expected.items():
        g = fs[fs["pair"] == pair]
        r_peak = g["r_A"].to_numpy()[g["g_r"].to_numpy() > 0]
        centres = [(np.floor(r / dr) + 0.5) * dr for r in peaks]
        np.testing.assert_allclose(r_peak, sorted(centres), atol=1e-9)
        np.testing.assert_allclose(
            g["g_r"].to_numpy()[g["g_r"].to_numpy() > 0],
            [peaks[r] for r in sorted(peaks)],
            rtol=1e-12,
        )
        assert g["r_A"].max() < 15.0  # up to half the box


def test_fast_slow_table_and_composition_pooling(tmp_path):
    rng = np.random.default_rng(5)
    n_frames, dt = 600, 0.1
    types = np.array([0] * 40 + [1] * 20 + [2] * 40)
    sums, curves = [], []
    for rep in (1, 2):
        mob = np.where(types == 0, 0.5, 0.01)[None, :, None]
        steps = rng.normal(size=(n_frames, 100, 3)) * np.sqrt(2 * mob * dt)
        pos = np.cumsum(steps, axis=0) + rng.uniform(0, 18, size=(100, 3))
        p = write_trajectory(
            tmp_path / f"r{rep}.gtrj",
            ("Na", "Si", "S"),
            types,
            pos,
            [18.0] * 3,
            np.arange(n_frames) * dt,
            charges=np.array([0.6, 2.4, -1.2])[types],
        )
        out = analyse_run(open_trajectory(p), META | {"replica": rep})
        fs = out["fastslow"]
        assert set(fs["pair"]) == {"fast-fast", "slow-slow", "fast-slow"}
        assert fs["lag_ps"].iloc[0] == pytest.approx(59.9)  # clipped from 100 ps
        assert fs["n_fast"].iloc[0] == 10
        sums.append(out["summary"])
        curves.append(out["curves"])
    comp = composition_summary(pd.concat(sums), pd.concat(curves))
    na = comp[comp["species"] == "Na"].iloc[0]
    assert na["n_replicas"] == 2 and bool(na["diffusive_pooled"])
    assert na["D_pooled_lo_cm2_s"] < 0.5e-4 < na["D_pooled_hi_cm2_s"]
    assert na["D_mean_cm2_s"] == pytest.approx(0.5e-4, rel=0.15)
    assert na["fit_t_max_ps"] == pytest.approx(29.9)  # max_lag_fraction 0.5 of 59.9 ps
