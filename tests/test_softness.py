"""Tests of glassflow.analysis.softness (physics.md §7; Chen 2023): features, labels, classifier."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from glassflow.analysis.softness.analyse import analyse_softness, collect_samples
from glassflow.analysis.softness.classifier import chance_band, fit_softness
from glassflow.analysis.softness.environment import (
    local_environment,
    pair_energies,
    voronoi_volumes,
)
from glassflow.analysis.softness.features import feature_names, radial_features
from glassflow.analysis.softness.labels import (
    cumulative_d2min,
    d2min,
    displacement_thresholds,
    two_threshold_labels,
    vanhove_threshold,
    window_starts,
)
from glassflow.analysis.softness.relations import rearrangement_probability
from glassflow.analysis.softness.settings import SoftnessSettings
from glassflow.figures.softness import plot_softness_overview
from glassflow.md.potential import PairParameters

META = {"campaign": "test", "x": 0.5, "m": 2.0, "T_K": 1000.0, "replica": 1}


# -- structure functions ---------------------------------------------------------------
def test_g2_two_atoms_across_boundary():
    box = np.array([20.0, 20.0, 20.0])
    d = 2.3
    pos = np.array([[19.5, 5.0, 5.0], [19.5 + d - 20.0, 5.0, 5.0]])
    mu = np.arange(1.0, 6.01, 0.25)
    width = 0.3
    g = radial_features(pos, box, [0, 1], [0], mu, width, 6.5, n_types=2)
    assert g.shape == (1, 2 * mu.size)
    np.testing.assert_allclose(g[0, : mu.size], 0.0)  # no type-0 neighbour
    np.testing.assert_allclose(g[0, mu.size :], np.exp(-((d - mu) ** 2) / (2 * width**2)))
    assert feature_names(("Na", "S"), mu)[mu.size] == "G_S_1.00A"
    # beyond r_max: nothing
    assert radial_features(pos, box, [0, 1], [0], mu, width, 2.0, n_types=2).sum() == 0.0


def test_settings_unknown_keys_named():
    with pytest.raises(ValueError, match="analysis.softness.bogus, analysis.softness.zzz"):
        SoftnessSettings.from_dict({"bogus": 1, "zzz": 2, "window_ps": 3.0})
    with pytest.raises(ValueError, match="label_method"):
        SoftnessSettings.from_dict({"label_method": "psychic"})
    s = SoftnessSettings.from_dict({"d2min_quantiles": [0.4, 0.9]})
    assert s.d2min_quantiles == (0.4, 0.9)
    assert s.mu_grid_A()[0] == 1.0 and s.mu_grid_A()[-1] == pytest.approx(6.0)


# -- planted mobility is learned, shuffled labels are not -------------------------------
PLANT_BOX = np.array([18.0, 18.0, 18.0])
PLANT_MU = np.arange(1.0, 6.01, 0.1)
PLANT_CUT_A, PLANT_MIN_B = 3.0, 5  # the planted rule: mobile iff >= 5 B within 3 Å


def _count_within(pos, centres, others, box, cut):
    """Neighbours of each centre among ``others`` within ``cut`` (brute-force minimum image)."""
    d = pos[centres][:, None, :] - pos[others][None, :, :]
    d -= box * np.round(d / box)
    r = np.linalg.norm(d, axis=-1)
    return np.count_nonzero((r < cut) & (r > 0.0), axis=1)


def _planted(seed: int = 1, n_conf: int = 6):
    """Random A/B atoms; an A ion is 'mobile' iff it has >= 5 B neighbours within 3 Å.

    The label is counted here by brute force, not with the package's neighbour code.
    """
    rng = np.random.default_rng(seed)
    n_a, n_b = 200, 250
    types = np.r_[np.zeros(n_a, int), np.ones(n_b, int)]
    feats, labels = [], []
    for _ in range(n_conf):
        pos = rng.uniform(0, 18.0, (n_a + n_b, 3))
        ions = np.arange(n_a)
        feats.append(radial_features(pos, PLANT_BOX, types, ions, PLANT_MU, 0.1, 6.5, 2))
        n_near = _count_within(pos, ions, np.arange(n_a, n_a + n_b), PLANT_BOX, PLANT_CUT_A)
        labels.append((n_near >= PLANT_MIN_B).astype(np.int8))
    return np.vstack(feats), np.concatenate(labels)


def test_planted_structure_is_learned_and_shuffle_is_chance():
    x, y = _planted()
    base = max(y.mean(), 1 - y.mean())  # accuracy of always guessing the majority class
    assert 0.25 < y.mean() < 0.75
    s = SoftnessSettings(random_state=3)
    model = fit_softness(x, y, s)
    assert model.fitted and model.reason == ""
    assert model.test_accuracy > 0.90, model.test_accuracy
    assert model.train_accuracy > 0.90
    # permuted labels: 3-sigma binomial band around the chance level of the test set
    # (the test labels are a fixed stratified sample; accuracy ~ Binomial(n_test, p))
    lo, hi = chance_band(model.n_test, 0.5, 3.0)
    assert lo - abs(base - 0.5) <= model.shuffled_test_accuracy <= hi + abs(base - 0.5)
    # softness = signed hyperplane distance: positive side predicted rearranging
    soft = model.softness(x)
    pred = model.pipeline.predict(x)
    assert np.all((soft > 0) == (pred == 1))


def test_planted_rule_recovered_on_held_out_configurations():
    """Fresh configurations the fit never saw: S > 0 predicts the planted label far above the
    base rate, the weights sit on the B shells inside the rule's 3 Å, and a fit on shuffled
    labels predicts them no better than chance."""
    x, y = _planted(seed=1)
    x_new, y_new = _planted(seed=99, n_conf=4)
    model = fit_softness(x, y, SoftnessSettings(random_state=3))
    soft = model.softness(x_new)
    acc = float(np.mean((soft > 0) == (y_new == 1)))
    base = max(y_new.mean(), 1 - y_new.mean())
    print(f"held-out accuracy {acc:.3f}, base rate {base:.3f}, n {y_new.size}")
    assert acc > 0.90 and acc > base + 0.25, (acc, base)
    assert soft[y_new == 1].mean() > 0.0 > soft[y_new == 0].mean()  # S > 0: mobile
    # the rule counts B within 3 Å: the standardised weights of the B shells below 3 Å
    # outweigh everything else, and push towards "mobile"
    w = np.zeros(x.shape[1])
    w[model.feature_mask] = model.pipeline.named_steps["logit"].coef_.ravel()
    inside_b = np.zeros(x.shape[1], bool)
    inside_b[PLANT_MU.size :][PLANT_MU < PLANT_CUT_A] = True
    assert w[inside_b].sum() > 0.0
    assert np.abs(w[inside_b]).sum() > np.abs(w[~inside_b]).sum()
    # shuffled labels: the same fit predicts the held-out labels at chance; balanced
    # accuracy 1/2 within 3 sigma, sigma = (1/2) sqrt(1/(4 n_1) + 1/(4 n_0)) for a guess
    # independent of the labels
    rng = np.random.default_rng(5)
    shuffled = fit_softness(x, rng.permutation(y), SoftnessSettings(random_state=3))
    guess = shuffled.softness(x_new) > 0
    n1, n0 = np.count_nonzero(y_new == 1), np.count_nonzero(y_new == 0)
    bal = 0.5 * (np.mean(guess[y_new == 1]) + np.mean(~guess[y_new == 0]))
    half = 3.0 * 0.5 * math.sqrt(0.25 / n1 + 0.25 / n0)
    print(f"shuffled fit: held-out balanced accuracy {bal:.3f} (chance 0.5 +- {half:.3f})")
    assert abs(bal - 0.5) < half, (bal, half)


def test_balanced_random_labels_give_chance_accuracy():
    x, _ = _planted(seed=7, n_conf=3)
    rng = np.random.default_rng(11)
    y = rng.permutation(np.r_[np.zeros(x.shape[0] // 2), np.ones(x.shape[0] - x.shape[0] // 2)])
    model = fit_softness(x, y.astype(np.int8), SoftnessSettings())
    lo, hi = chance_band(model.n_test, 0.5, 3.0)  # p = 1/2 exactly, 3 sigma
    assert lo <= model.test_accuracy <= hi


def test_one_class_degrades_gracefully():
    x = np.random.default_rng(0).normal(size=(40, 5))
    model = fit_softness(x, np.ones(40, np.int8))
    assert not model.fitted and "too few" in model.reason
    assert math.isnan(model.test_accuracy)
    assert np.all(np.isnan(model.softness(x)))


# -- D2min ------------------------------------------------------------------------------
def test_d2min_affine_zero_nonaffine_positive():
    rng = np.random.default_rng(2)
    d0 = rng.normal(0, 2.0, (24, 3))  # two centres with 12 neighbours each
    centre = np.repeat([0, 1], 12)
    j = np.eye(3) + rng.normal(0, 0.1, (3, 3))
    d1 = d0 @ j.T
    np.testing.assert_allclose(d2min(d0, d1, centre, 2), 0.0, atol=1e-20)
    noisy = d1.copy()
    noisy[12:] += rng.normal(0, 0.3, (12, 3))
    out = d2min(d0, noisy, centre, 2, normalise=False)
    assert out[0] == pytest.approx(0.0, abs=1e-20) and out[1] > 0.1
    # too few neighbours: NaN
    assert np.isnan(d2min(d0[:2], d1[:2], [0, 0], 1)[0])


def test_cumulative_d2min_translation_zero_hop_positive():
    rng = np.random.default_rng(4)
    box = np.array([12.0, 12.0, 12.0])
    x0 = rng.uniform(0, 12, (80, 3))
    frames = np.stack([x0 + k * np.array([0.3, -0.1, 0.2]) for k in range(5)])  # rigid shift
    assert np.nanmax(cumulative_d2min(frames, box, [0, 1, 2], 5.0, 1)) < 1e-10
    frames[2:, 0] += np.array([2.0, 0.0, 0.0])  # atom 0 hops between frames 1 and 2
    out = cumulative_d2min(frames, box, [0, 1], 5.0, 1, "sum")
    assert out[0] > 1.0
    assert cumulative_d2min(frames, box, [0], 5.0, 1, "max")[0] == pytest.approx(out[0])


# -- Voronoi, energies --------------------------------------------------------------------
def test_voronoi_simple_cubic_and_random_sum():
    a, n = 2.5, 4
    g = np.arange(n) * a + 0.3
    pos = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T
    vol = voronoi_volumes(pos, np.full(3, n * a))
    np.testing.assert_allclose(vol, a**3, rtol=1e-8)
    box = np.array([9.0, 10.0, 11.0])
    pts = np.random.default_rng(5).uniform(0, 1, (60, 3)) * box
    v = voronoi_volumes(pts, box)
    assert np.all(v > 0)
    assert v.sum() == pytest.approx(box.prod(), rel=1e-8)


# e^2 / (4 pi eps0) in kcal Å / (mol e^2), from CODATA 2018: e, eps0, N_A and 4184 J/kcal
COULOMB_CODATA = 1.602176634e-19**2 / (4 * math.pi * 8.8541878128e-12) * 1e10 * 6.02214076e23 / 4184


def test_pair_energies_buckingham_and_wolf():
    box = np.full(3, 30.0)
    pos = np.array([[5.0, 5.0, 5.0], [7.5, 5.0, 5.0]])
    a_kcal, rho_a, c_kcal = 1.0e6, 0.2, 50.0
    p = PairParameters(a_kcal, rho_a, c_kcal)
    buck = {frozenset(("A",)): p, frozenset(("A", "B")): p, frozenset(("B",)): p}
    e = pair_energies(pos, box, [0, 1], ("A", "B"), [0.0, 0.0], buck, 10.0, 0.0)
    v_buck = a_kcal * math.exp(-2.5 / rho_a) - c_kcal / 2.5**6  # physics.md §2, eq 1
    np.testing.assert_allclose(e, 0.5 * v_buck)
    # the same pair across the periodic boundary (minimum image, r = 2.5 Å)
    wrapped = np.array([[29.0, 5.0, 5.0], [1.5, 5.0, 5.0]])
    e = pair_energies(wrapped, box, [0, 1], ("A", "B"), [0.0, 0.0], buck, 10.0, 0.0)
    np.testing.assert_allclose(e, 0.5 * v_buck)
    zero = PairParameters(0.0, 1.0, 0.0)
    coul = dict.fromkeys(buck, zero)
    e = pair_energies(pos, box, [0, 1], ("A", "B"), [1.0, -1.0], coul, 10.0, 0.0)
    expect = COULOMB_CODATA * (-(1 / 2.5 - 1 / 10.0) - 2 * 1 / 20.0)  # alpha = 0: shifted
    assert e.sum() == pytest.approx(expect)
    # damped (alpha = 0.2 1/Å) Wolf sum, Wolf et al. (1999): pair term q_i q_j
    # (erfc(a r)/r - erfc(a rc)/rc), self term -q_i^2 (erfc(a rc)/(2 rc) + a/sqrt(pi))
    al, rc, r = 0.2, 10.0, 2.5
    pair = -(math.erfc(al * r) / r - math.erfc(al * rc) / rc)
    self_term = 2 * (math.erfc(al * rc) / (2 * rc) + al / math.sqrt(math.pi))
    e = pair_energies(pos, box, [0, 1], ("A", "B"), [1.0, -1.0], coul, rc, al)
    assert e.sum() == pytest.approx(COULOMB_CODATA * (pair - self_term))


# -- thresholds and labels ----------------------------------------------------------------
def _two_peak(r):
    return np.exp(-((r - 0.8) ** 2) / (2 * 0.3**2)) + 0.3 * np.exp(-((r - 3.5) ** 2) / 0.32)


def test_vanhove_threshold_two_peaks_and_fallback():
    r = np.arange(0.025, 8.0, 0.05)
    y = _two_peak(r)
    fine = np.arange(0.8, 3.5, 1e-4)
    expect = fine[np.argmin(_two_peak(fine))]
    th, src = vanhove_threshold(r, y, smooth_A=0.05)
    assert src == "vanhove_minimum" and abs(th - expect) < 0.1
    th1, src1 = vanhove_threshold(r, np.exp(-((r - 0.8) ** 2)))
    assert math.isnan(th1) and "no hopping" in src1
    vh = pd.DataFrame({"species": "Na", "t_ps": 10.0, "r_A": r, "radial_Gs_inv_A": y})
    vh1 = pd.concat([vh, vh.assign(t_ps=1.0, radial_Gs_inv_A=np.exp(-((r - 0.8) ** 2)))])
    s = SoftnessSettings(window_ps=5.0)
    th = displacement_thresholds(vh1, s, 5.0)  # 10 ps is closer to 5 ps in log t
    assert th["vanhove_t_ps"] == 10.0 and abs(th["threshold_high"] - expect) < 0.1
    assert th["threshold_low"] == pytest.approx(0.5 * th["threshold_high"])
    th = displacement_thresholds(vh1, s, 1.0)  # 1 ps has no minimum: next lag (10 ps) used
    assert th["vanhove_t_ps"] == 10.0 and abs(th["threshold_high"] - expect) < 0.1
    th = displacement_thresholds(vh1[vh1["t_ps"] == 1.0], s, 1.0)
    assert th["threshold_high"] == 2.0 and th["threshold_source"].startswith("fallback")
    # a diffusive single peak with small noise wiggles is not a cage/hop minimum
    wiggly = np.exp(-((r - 4.0) ** 2) / 4.0) * (1 + 0.03 * np.sin(8 * r))
    assert math.isnan(vanhove_threshold(r, wiggly, smooth_A=0.05, prominence=0.01)[0])
    assert displacement_thresholds(None, s, 5.0)["threshold_high"] == 2.0
    np.testing.assert_array_equal(
        two_threshold_labels([0.1, 1.5, 2.5, np.nan], 1.0, 2.0), [0, -1, 1, -1]
    )


def test_window_starts_and_pr_table():
    np.testing.assert_array_equal(window_starts(401, 100), [0, 100, 200, 300])
    np.testing.assert_array_equal(window_starts(401, 100, 2), [0, 100])
    assert window_starts(10, 20).size == 0
    s = np.linspace(-2, 2, 100)
    pr = rearrangement_probability(s, (s > 0).astype(float), np.abs(s), n_bins=4)
    np.testing.assert_allclose(pr["P_R"], [0, 0, 1, 1])
    assert pr["n"].sum() == 100


# -- end to end on a tiny synthetic run -----------------------------------------------------
def _tiny_run(seed=0, hop_everyone=False):
    rng = np.random.default_rng(seed)
    box = np.array([14.0, 14.0, 14.0])
    species = ("Na", "Si", "S")
    types = np.r_[np.zeros(40, int), np.ones(10, int), np.full(40, 2)]
    x0 = rng.uniform(0, 14, (types.size, 3))
    n_frames = 41
    frames = x0[None] + rng.normal(0, 0.1, (n_frames, types.size, 3))
    # Na with a Si within 4 Å hop by 3 Å halfway through each 10-frame window
    near = local_environment(x0, box, types, species, np.arange(40), env_cutoff_A=4.0)
    hops = np.flatnonzero(near["n_Si"].to_numpy() > 0) if not hop_everyone else np.arange(40)
    for w in range(4):
        frames[w * 10 + 5 :, hops, 0] += 3.0 if w % 2 == 0 else -3.0
    return frames, np.arange(n_frames) * 0.5, box, types, species


@pytest.mark.slow
def test_end_to_end_and_degenerate(tmp_path):
    frames, t, box, types, species = _tiny_run()
    s = SoftnessSettings(window_ps=5.0, min_class_size=3, voronoi=True)
    pbuck = PairParameters(1.0e5, 0.3, 0.0)
    buck = {frozenset((a, b)): pbuck for a in species for b in species}
    q = np.where(types == 0, 0.6, np.where(types == 1, 2.4, -1.2))
    samples = collect_samples(frames, t, box, types, species, s, q, buck)
    assert samples.features.shape == (160, 3 * s.mu_grid_A().size)
    ions, summ, pr = analyse_softness(samples, s, META, vanhove=None)
    row = summ.iloc[0]
    assert row["n_windows"] == 4 and row["threshold_source"].startswith("fallback")
    assert row["reason"] == "" and row["n_train"] + row["n_test"] <= 160
    assert np.isfinite(ions["softness"]).all() and np.isfinite(ions["energy_kcal_mol"]).all()
    assert {"n_BS", "n_NBS", "n_SS", "voronoi_volume_A3", "d2min_cum_A2"} <= set(ions)
    assert ions["label"].dtype == "Int8" and set(ions["split"]) <= {"train", "test", "none"}
    assert list(ions.columns[:6]) == ["campaign", "x", "m", "T_K", "replica", "species"]
    # grouped split: no ion has windows in both train and test
    sides = ions[ions["split"] != "none"].groupby("atom_index")["split"].nunique()
    assert row["split"] == "stratified_grouped_by_ion" and (sides == 1).all()
    png = plot_softness_overview(ions, summ, pr, tmp_path / "soft.png")
    assert png.stat().st_size > 10_000
    # every ion hops: one class only -> NA accuracies with a reason, no crash
    frames, t, box, types, species = _tiny_run(hop_everyone=True)
    samples = collect_samples(frames, t, box, types, species, SoftnessSettings(voronoi=False))
    ions, summ, pr = analyse_softness(samples, SoftnessSettings(), META)
    assert math.isnan(summ["test_accuracy"].iloc[0]) and "too few" in summ["reason"].iloc[0]
    assert ions["softness"].isna().all()
    plot_softness_overview(ions, summ, pr, tmp_path / "empty.png")  # no crash without a fit
    # a single frame: no window at all -> empty tables with a reason
    one = collect_samples(frames[:1], t[:1], box, types, species, SoftnessSettings())
    ions, summ, pr = analyse_softness(one, SoftnessSettings(), META)
    assert len(ions) == 0 and summ["n_samples"].iloc[0] == 0 and summ["reason"].iloc[0]
    plot_softness_overview(ions, summ, pr, tmp_path / "none.png")
    # d2min labels run too
    s2 = SoftnessSettings(label_method="d2min", voronoi=False, min_class_size=3)
    ions, summ, _ = analyse_softness(collect_samples(*_tiny_run()[:5], s2), s2, META)
    assert summ["d2min_threshold_high_A2"].iloc[0] > summ["d2min_threshold_low_A2"].iloc[0]
