"""Tests of glassflow.transport: Einstein/GK D with honest errors, sigma, Haven, fast/slow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glassflow.dynamics import (
    DynamicsSettings,
    block_bounds,
    displacement_moment_sums,
    lag_grid,
    vacf_fft,
)
from glassflow.dynamics_tables import analyse_run, composition_summary
from glassflow.trajectory import open_trajectory, write_trajectory
from glassflow.transport import (
    A2_PS_TO_CM2_S,
    a2ps_to_cm2s,
    collective_conductivity,
    coordination_numbers,
    einstein_diffusion,
    fast_slow_partition,
    find_diffusive_regime,
    green_kubo_diffusion,
    haven_ratio,
    nernst_einstein_conductivity,
    partial_rdf,
)

META = {"campaign": "test", "x": 0.5, "m": 2.0, "T_K": 1000.0, "replica": 1}


def msd_curves(pos, dt, n_lags=60, n_blocks=5):
    """Full and block all-origins MSDs of a (frames, atoms, 3) array."""
    p = np.transpose(pos, (1, 2, 0))
    n, na = pos.shape[:2]
    r2, _ = displacement_moment_sums(p, fourth=False)
    lags = lag_grid(n - 1, n_lags)
    bb = block_bounds(n, n_blocks)
    blen = bb[0][1] - bb[0][0]
    blags = lag_grid(blen - 1, n_lags)
    blk = np.array([displacement_moment_sums(p[..., a:b], fourth=False)[0][blags] for a, b in bb])
    return lags * dt, r2[lags] / na, blags * dt, blk / na, blen * dt


def walk(seed, n_frames, n_atoms, d, dt):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(scale=np.sqrt(2 * d * dt), size=(n_frames, n_atoms, 3)), axis=0)


def test_random_walk_d_recovered_and_error_coverage():
    """D within its error for one seed; over 200 seeds |D - D_true| < 1.96 err in 85-99 %."""
    d_true, dt = 0.1, 0.1
    z = []
    for seed in range(200):
        t, m, bt, bm, blen = msd_curves(walk(seed, 1000, 20, d_true, dt), dt)
        e = einstein_diffusion(t, m, bt, bm, max_fit_time_ps=blen / 2)
        assert e.diffusive and e.window.t_max_ps / e.window.t_min_ps >= 3.0
        z.append((e.D_A2_ps - d_true) / e.D_err_A2_ps)
    z = np.asarray(z)
    assert abs(z[0]) < 3.0
    coverage = np.mean(np.abs(z) < 1.96)
    assert 0.85 <= coverage <= 0.99, coverage


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


def charged_system(path, n_frames, n_pairs, correlated, seed=0, dt=0.1, d=0.2):
    """Mobile cations (z=+1) and static heavy anions (z=-1); optionally cation pairs move
    together (identical displacements), which doubles the collective MSD: H_R = 1/2."""
    rng = np.random.default_rng(seed)
    n_cat = 2 * n_pairs
    if correlated:
        steps = rng.normal(scale=np.sqrt(2 * d * dt), size=(n_frames, n_pairs, 3))
        steps = np.repeat(steps, 2, axis=1)
    else:
        steps = rng.normal(scale=np.sqrt(2 * d * dt), size=(n_frames, n_cat, 3))
    cat = np.cumsum(steps, axis=0) + rng.uniform(0, 30, size=(n_cat, 3))
    an = np.broadcast_to(rng.uniform(0, 30, size=(n_cat, 3)), cat.shape)
    pos = np.concatenate([cat, an], axis=1)
    types = np.repeat([0, 1], n_cat)
    write_trajectory(
        path,
        ("Na", "S"),
        types,
        pos,
        [30.0] * 3,
        np.arange(n_frames) * dt,
        charges=np.where(types == 0, 1.0, -1.0),
        masses=np.where(types == 0, 23.0, 1.0e4),
    )
    return open_trajectory(path)


def test_haven_ratio_independent_is_one(tmp_path):
    traj = charged_system(tmp_path / "i.gtrj", 4000, 100, correlated=False)
    s = analyse_run(traj, META, DynamicsSettings(n_blocks=8))["summary"]
    row = s[s["species"] == "Na"].iloc[0]
    assert bool(row["diffusive"]) and not bool(s[s["species"] == "S"]["diffusive"].iloc[0])
    assert abs(row["haven_ratio"] - 1.0) < 3 * row["haven_ratio_err"]
    assert row["haven_ratio_err"] < 0.5


def test_haven_ratio_correlated_pairs_is_half(tmp_path):
    traj = charged_system(tmp_path / "c.gtrj", 4000, 100, correlated=True)
    s = analyse_run(traj, META, DynamicsSettings(n_blocks=8))["summary"]
    row = s[s["species"] == "Na"].iloc[0]
    h, he = row["haven_ratio"], row["haven_ratio_err"]
    assert abs(h - 0.5) < 3 * he and h + 3 * he < 1.0


def test_caged_oscillators_no_diffusive_regime(tmp_path):
    """Ornstein-Uhlenbeck (harmonically bound) particles: MSD plateau 3 A^2, no D."""
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
    assert not bool(row["diffusive"]) and "slope" in row["reason"]
    assert s["D_cm2_s"].isna().all() and s["D_cm2_s"].dtype == "Float64"
    assert s["sigma_S_cm"].isna().all() and s["haven_ratio"].isna().all()
    # below min_msd_A2: a different, explicit reason
    w = find_diffusive_regime(np.linspace(1, 100, 50), np.full(50, 0.3))
    assert not w.diffusive and "min_msd_A2" in w.reason


def test_ballistic_curve_is_not_diffusive():
    t = np.geomspace(0.01, 100, 60)
    w = find_diffusive_regime(t, 5.0 * t**2, min_fit_time_ps=0.01)
    assert not w.diffusive and "slope" in w.reason


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
    t, m, bt, bm, blen = msd_curves(pos, dt)
    e = einstein_diffusion(t, m, bt, bm, max_fit_time_ps=blen / 2, min_fit_time_ps=2.0)
    assert e.diffusive and abs(e.D_A2_ps - d_gk) < 3 * e.D_err_A2_ps + 0.03 * d_gk


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
    assert na["D_pooled_cm2_s"] == pytest.approx(0.5e-4, rel=0.15)
    assert na["D_mean_cm2_s"] == pytest.approx(0.5e-4, rel=0.15)
