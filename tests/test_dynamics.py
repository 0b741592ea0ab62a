"""Tests of glassflow.analysis.dynamics.correlations: FFT MSD, r^4, alpha2, Van Hove, streaming."""

from __future__ import annotations

import os

import numpy as np
import pytest

from glassflow.analysis.dynamics.correlations import (
    DynamicsSettings,
    analyse_trajectory,
    analysis_lags,
    displacement_moment_sums,
    fit_lag_grid,
    lag_grid,
    msd_direct,
    msd_fft,
    non_gaussian_parameter,
    pool_curves,
    tau_star,
    vacf_fft,
)
from glassflow.analysis.dynamics.tables import analyse_run
from glassflow.io.trajectory import TrajectoryError, open_trajectory, write_trajectory

META = {"campaign": "test", "x": 0.5, "m": 2.0, "T_K": 1000.0, "replica": 1}
# CODATA 2018
K_B_J_K = 1.380649e-23  # Boltzmann constant, J/K (exact)
AMU_KG = 1.66053906660e-27  # atomic mass constant, kg


def random_walk(seed: int, n_frames: int, n_atoms: int, d_a2_ps: float, dt_ps: float):
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=np.sqrt(2 * d_a2_ps * dt_ps), size=(n_frames, n_atoms, 3))
    return np.cumsum(steps, axis=0) + rng.uniform(0, 20, size=(n_atoms, 3))


def test_fft_msd_equals_brute_force():
    pos = random_walk(0, 300, 9, 0.2, 0.1) + 35.0  # large offsets test the centring
    lags = np.array([1, 2, 3, 10, 57, 150, 299])
    assert np.allclose(msd_fft(pos)[lags], msd_direct(pos, lags), rtol=1e-10)


def test_fourth_moment_equals_brute_force():
    pos = random_walk(1, 200, 5, 0.5, 0.1)
    r2, r4 = displacement_moment_sums(np.transpose(pos, (1, 2, 0)))
    for m in (1, 4, 33, 199):
        d = pos[m:] - pos[:-m]
        s = np.sum(d * d, axis=-1)
        assert r2[m] / 5 == pytest.approx(s.mean(), rel=1e-10)
        assert r4[m] / 5 == pytest.approx((s * s).mean(), rel=1e-9)


def test_lag_grid_log_spaced_unique():
    g = lag_grid(9999, 60)
    assert g[0] == 1 and g[-1] == 9999
    assert np.all(np.diff(g) > 0) and 40 <= g.size <= 60


def test_vacf_fft_brute_force():
    rng = np.random.default_rng(2)
    v = rng.normal(size=(100, 4, 3))
    c = vacf_fft(v)
    for m in (0, 1, 7, 99):
        assert c[m] == pytest.approx(np.mean(np.sum(v[m:] * v[: 100 - m], axis=-1)), rel=1e-10)


def test_ballistic_maxwell_boltzmann():
    """Free particles: MSD = 3 kT/m t^2 and alpha2 = 0 (Gaussian velocities)."""
    rng = np.random.default_rng(3)
    temp, mass, n_atoms = 1000.0, 22.98977, 4000
    kt_m = K_B_J_K * temp / (mass * AMU_KG) * 1.0e-4  # (m/s)^2 -> (Å/ps)^2: 36.2 for Na
    v = rng.normal(scale=np.sqrt(kt_m), size=(n_atoms, 3))
    t = np.arange(50) * 0.01
    pos = rng.uniform(0, 30, size=(n_atoms, 3)) + t[:, None, None] * v
    r2, r4 = displacement_moment_sums(np.transpose(pos, (1, 2, 0)))
    msd = r2 / n_atoms
    lags = np.arange(1, 50)
    assert np.allclose(msd[lags] / t[lags] ** 2, 3 * kt_m, rtol=0.05)
    alpha = non_gaussian_parameter(msd[lags], r4[lags] / n_atoms)
    assert np.all(np.abs(alpha) < 0.08)


def trap_and_jump(seed, n_frames, n_atoms, dt, tau, a, s):
    """Jumps of length a (random direction) at rate 1/tau plus white vibration s per axis."""
    rng = np.random.default_rng(seed)
    jump = rng.random((n_frames, n_atoms)) < dt / tau
    u = rng.normal(size=(n_frames, n_atoms, 3))
    u *= a / np.linalg.norm(u, axis=-1, keepdims=True)
    sites = np.cumsum(u * jump[..., None], axis=0)
    return sites + rng.normal(scale=s, size=(n_frames, n_atoms, 3))


def test_trap_and_jump_tau_star():
    """alpha2(t) = 3 a^4 l / (5 (a^2 l + c)^2), l = t/tau, c = 6 s^2: for n ~ Poisson(l) jumps,

    maximum at l* = c/a^2, i.e. tau* = 6 s^2 tau / a^2, with alpha2(tau*) = a^2/(40 s^2).
    """
    dt, tau, a, s = 0.1, 50.0, 2.0, 0.2
    pos = trap_and_jump(4, 3000, 400, dt, tau, a, s)
    r2, r4 = displacement_moment_sums(np.transpose(pos, (1, 2, 0)))
    lags = lag_grid(1500, 60)
    alpha = non_gaussian_parameter(r2[lags] / 400, r4[lags] / 400)
    ts, amax = tau_star(lags * dt, alpha)
    expected_tau = 6 * s**2 * tau / a**2  # 3 ps
    assert expected_tau / 1.5 < ts < expected_tau * 1.5
    assert amax == pytest.approx(a**2 / (40 * s**2), rel=0.25)
    assert amax > 1.0


def test_pool_curves_weights():
    v = pool_curves([[1.0, 2.0, np.nan], [3.0, 4.0, 5.0]], [[1, 1, 1], [3, 1, 1]])
    assert np.allclose(v, [2.5, 3.0, 5.0])


def write_walk(path, n_frames=400, n_atoms=40, dt=0.1, velocities=False):
    pos = random_walk(5, n_frames, n_atoms, 0.3, dt)
    types = np.array([0] * (n_atoms // 2) + [1] * (n_atoms - n_atoms // 2))
    charges = np.where(types == 0, 1.0, -1.0)
    vel = np.zeros_like(pos) if velocities else None
    return write_trajectory(
        path,
        ("Na", "S"),
        types,
        pos,
        [20.0, 20.0, 20.0],
        np.arange(n_frames) * dt,
        charges=charges,
        velocities=vel,
    )


def test_streaming_independent_of_chunk_size(tmp_path):
    traj = open_trajectory(write_walk(tmp_path / "w.gtrj"))
    a = analyse_trajectory(traj, DynamicsSettings(chunk_atoms=3))
    b = analyse_trajectory(traj, DynamicsSettings(chunk_atoms=1000))
    for sp in ("Na", "S"):
        assert np.allclose(a.species[sp].msd_A2, b.species[sp].msd_A2, rtol=1e-10)
        assert np.allclose(a.species[sp].r4_A4, b.species[sp].r4_A4, rtol=1e-9)
        assert np.allclose(a.species[sp].vanhove_Gs, b.species[sp].vanhove_Gs)
    assert np.allclose(a.charge_msd_e2A2, b.charge_msd_e2A2, rtol=1e-8)


def test_van_hove_gaussian_for_random_walk(tmp_path):
    traj = open_trajectory(write_walk(tmp_path / "w.gtrj", n_frames=600, n_atoms=300))
    vh = analyse_run(traj, META, DynamicsSettings(vanhove_lags_ps=(1.0, 10.0), vanhove_dr_A=0.2))[
        "vanhove"
    ]
    for _, g in vh[vh["species"] == "Na"].groupby("t_ps"):
        dr = float(np.diff(g["r_A"].to_numpy())[0])
        r = g["r_A"].to_numpy()
        shell = 4 / 3 * np.pi * ((r + dr / 2) ** 3 - (r - dr / 2) ** 3)
        assert np.sum(g["Gs_inv_A3"].to_numpy() * shell) == pytest.approx(1.0, abs=1e-9)
        assert g["radial_Gs_inv_A"].sum() * dr == pytest.approx(1.0, abs=1e-2)
        l1 = np.sum(np.abs(g["radial_Gs_inv_A"] - g["radial_Gs_gauss_inv_A"])) * dr
        assert l1 < 0.05


def test_settings_reject_unknown_keys():
    with pytest.raises(ValueError, match="bogus_key.*typo"):
        DynamicsSettings.from_dict({"bogus_key": 1, "typo": 2, "n_lags": 10})
    s = DynamicsSettings.from_dict({"gk_window_ps": [1, 3], "vanhove_lags_ps": [1, 2]})
    assert s.gk_window_ps == (1.0, 3.0) and s.vanhove_lags_ps == (1.0, 2.0)


def test_truncated_trajectory_names_file_and_frame(tmp_path):
    path = write_walk(tmp_path / "t.gtrj")
    os.truncate(path, os.path.getsize(path) - 100)
    with pytest.raises(TrajectoryError, match=r"t\.gtrj.*frame 399"):
        analyse_run(open_trajectory(path), META)


def test_corrupted_frame_names_file_and_frame(tmp_path):
    path = write_walk(tmp_path / "c.gtrj")
    traj = open_trajectory(path)
    rec = traj._dtype.itemsize
    offset = os.path.getsize(path) - (traj.n_frames - 123) * rec + rec // 2
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(4)
        fh.seek(offset)
        fh.write(bytes(x ^ 0xFF for x in b))
    with pytest.raises(TrajectoryError, match=r"c\.gtrj.*frame 123"):
        open_trajectory(path, verify=True)


def test_too_short_trajectory_is_an_error(tmp_path):
    path = write_walk(tmp_path / "s.gtrj", n_frames=3)
    with pytest.raises(TrajectoryError, match=r"s\.gtrj"):
        analyse_trajectory(open_trajectory(path))


def test_batched_moments_equal_one_batch_at_a_time():
    """Leading axes of displacement_moment_sums are independent batches (seeds)."""
    rng = np.random.default_rng(8)
    p = np.cumsum(rng.normal(size=(3, 4, 3, 120)), axis=-1)
    r2, r4 = displacement_moment_sums(p)
    for b in range(3):
        r2b, r4b = displacement_moment_sums(p[b])
        assert np.allclose(r2[b], r2b, rtol=1e-10) and np.allclose(r4[b], r4b, rtol=1e-9)


def test_analysis_lags_cover_the_fit_range():
    """Log-spaced lags over the run plus n_fit_lags even lags up to max_lag_fraction."""
    s = DynamicsSettings(n_lags=30, n_fit_lags=50, max_lag_fraction=0.5)
    lags = analysis_lags(2001, s)
    assert lags[0] == 1 and lags[-1] == 2000 and np.all(np.diff(lags) > 0)
    even = fit_lag_grid(2001, 0.5, 50)
    assert even[-1] == 1000 and even.size == 50 and np.all(np.diff(even) == 20)
    assert set(even) <= set(lags) and set(lag_grid(2000, 30)) <= set(lags)


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_lag_fraction", 1.5), ("ci_level", 1.0), ("slope_tolerance", 0.0), ("n_fit_lags", 3)],
)
def test_fit_settings_out_of_range_name_the_key(key, value):
    with pytest.raises(ValueError, match=f"analysis.dynamics.{key}"):
        DynamicsSettings.from_dict({key: value})
