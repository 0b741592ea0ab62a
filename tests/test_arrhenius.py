"""Tests of glassflow.campaign.arrhenius (physics.md §4 eq 10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glassflow.campaign.arrhenius import (
    ARRHENIUS_COLUMNS,
    KB_EV_K,
    arrhenius_table,
    conductivity_points,
    diffusivity_points,
    fit_arrhenius,
)

# CODATA 2018 (exact): k_B = 1.380649e-23 J/K, e = 1.602176634e-19 C. The synthetic data
# use this value, not the module's KB_EV_K, so a wrong constant there shifts every fit.
K_B_EV_K = 1.380649e-23 / 1.602176634e-19  # 8.617333262e-5 eV/K
E_TRUE = 0.30  # eV
A_TRUE = 2.0e-3  # cm^2/s
TEMPS = np.array([1000.0, 1200.0, 1400.0, 1600.0, 1800.0])

REQUIRED = [
    "campaign", "x", "m", "quantity", "species", "E_A_eV", "E_A_lo_eV", "E_A_hi_eV",
    "prefactor", "prefactor_lo", "prefactor_hi", "prefactor_unit", "T_min_K", "T_max_K",
    "n_points", "n_replicas", "model", "T_cross_K", "E_A_high_eV", "E_A_low_eV",
    "aic_single", "aic_two", "ci_method", "reason",
]  # fmt: skip


def synth(
    rng: np.random.Generator, temps: np.ndarray, n_rep: int, scatter: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrhenius data with log-normal replica scatter; errors quote the true scatter."""
    T = np.repeat(temps, n_rep)
    y = A_TRUE * np.exp(-E_TRUE / (K_B_EV_K * T)) * np.exp(rng.normal(0.0, scatter, T.size))
    rep = np.tile(np.arange(1, n_rep + 1), temps.size)
    return T, y, scatter * y, rep


def test_kb_constant() -> None:
    assert abs(KB_EV_K / K_B_EV_K - 1.0) < 1e-9
    assert abs(K_B_EV_K / 8.617333262e-5 - 1.0) < 1e-9


def test_recovers_known_parameters_within_ci() -> None:
    rng = np.random.default_rng(42)
    fit = fit_arrhenius(*synth(rng, TEMPS, 4), rng=rng, n_boot=1000)
    assert fit.ci_method == "bootstrap-replicas"
    assert fit.E_A_lo_eV <= E_TRUE <= fit.E_A_hi_eV
    assert fit.prefactor_lo <= A_TRUE <= fit.prefactor_hi
    assert fit.E_A_eV == pytest.approx(E_TRUE, abs=0.05)
    assert (fit.n_points, fit.n_temperatures, fit.n_replicas) == (20, 5, 4)
    assert (fit.T_min_K, fit.T_max_K) == (1000.0, 1800.0)


@pytest.mark.parametrize(("n_rep", "method"), [(3, "bootstrap-replicas"), (1, "weighted-t")])
def test_ci_coverage(n_rep: int, method: str) -> None:
    rng = np.random.default_rng(7 + n_rep)
    temps = TEMPS if n_rep > 1 else np.linspace(900.0, 2000.0, 8)
    draws, hit_e, hit_a = 200, 0, 0
    for _ in range(draws):
        fit = fit_arrhenius(*synth(rng, temps, n_rep), rng=rng, n_boot=300, two_regime=False)
        assert fit.ci_method == method
        hit_e += fit.E_A_lo_eV <= E_TRUE <= fit.E_A_hi_eV
        hit_a += fit.prefactor_lo <= A_TRUE <= fit.prefactor_hi
    assert 0.88 <= hit_e / draws <= 0.99
    assert 0.88 <= hit_a / draws <= 0.99


def test_weighted_t_widens_with_understated_errors() -> None:
    rng = np.random.default_rng(3)
    T, y, err, rep = synth(rng, np.linspace(900.0, 2000.0, 8), 1, scatter=0.2)
    wide = fit_arrhenius(T, y, err / 10.0, rep)  # Birge ratio restores the width
    ref = fit_arrhenius(T, y, err, rep)
    assert wide.E_A_hi_eV - wide.E_A_lo_eV == pytest.approx(ref.E_A_hi_eV - ref.E_A_lo_eV)


def _kinked(rng: np.random.Generator, kink: bool) -> tuple[np.ndarray, ...]:
    temps = np.linspace(800.0, 2000.0, 10)
    T = np.repeat(temps, 3)
    u = 1.0 / (K_B_EV_K * T)
    ux = 1.0 / (K_B_EV_K * 1300.0)
    e_hi, e_lo = 0.2, (0.6 if kink else 0.2)
    ln_y = np.log(1e-3) - e_hi * u - (e_lo - e_hi) * np.maximum(u - ux, 0.0)
    y = np.exp(ln_y + rng.normal(0.0, 0.03, T.size))
    return T, y, 0.03 * y, np.tile([1, 2, 3], temps.size)


def test_two_regime_detected_on_kink() -> None:
    fit = fit_arrhenius(*_kinked(np.random.default_rng(11), kink=True), n_boot=200)
    assert fit.model == "two-regime"
    assert fit.aic_two < fit.aic_single
    assert fit.T_cross_K == pytest.approx(1300.0, rel=0.1)
    assert fit.E_A_high_eV == pytest.approx(0.2, abs=0.05)
    assert fit.E_A_low_eV == pytest.approx(0.6, abs=0.08)
    assert fit.prefactor_high == pytest.approx(1e-3, rel=0.5)


def test_single_line_kept_on_straight_data() -> None:
    fit = fit_arrhenius(*_kinked(np.random.default_rng(12), kink=False), n_boot=200)
    assert fit.model == "single"
    assert fit.aic_two is not None
    assert fit.T_cross_K is None and fit.E_A_high_eV is None


def test_two_regime_needs_enough_points_per_side() -> None:
    rng = np.random.default_rng(5)
    fit = fit_arrhenius(*synth(rng, TEMPS, 3), n_boot=100)
    assert fit.model == "single"
    assert fit.aic_two is None  # 5 temperatures < 2 x 3


def test_two_points_and_missing_errors() -> None:
    T = np.array([1000.0, 2000.0])
    y = A_TRUE * np.exp(-E_TRUE / (K_B_EV_K * T))
    fit = fit_arrhenius(T, y)
    assert fit.E_A_eV == pytest.approx(E_TRUE)
    assert fit.prefactor == pytest.approx(A_TRUE)
    assert fit.ci_method == "none"
    assert fit.E_A_lo_eV is None
    assert "no confidence interval" in fit.reason
    one = fit_arrhenius(np.array([1000.0, 1000.0]), np.array([1e-5, 2e-5]))
    assert one.E_A_eV is None
    assert "fewer than 2 temperatures" in one.reason


# --------------------------------------------------------------------------- tables


def _transport(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    comps = {(0.1, 2.0): TEMPS, (0.1, 3.0): TEMPS, (0.5, 2.0): TEMPS[:1], (0.5, 3.0): TEMPS}
    for (x, m), temps in comps.items():
        for T in temps:
            for rep in (1, 2, 3):
                noise = np.exp(rng.normal(0.0, 0.05))
                d = A_TRUE * np.exp(-E_TRUE / (K_B_EV_K * T)) * noise
                sigma = 50.0 * np.exp(-0.4 / (K_B_EV_K * T)) / T * noise
                diffusive = not ((x, m) == (0.5, 3.0) and T < 1500.0) and T > 1000.0
                for sp, scale in (("Na", 1.0), ("Si", 0.1), ("S", 0.2)):
                    rows.append(
                        {
                            "campaign": "demo", "x": x, "m": m, "T_K": T, "replica": rep,
                            "species": sp, "D_cm2_s": d * scale if diffusive else pd.NA,
                            "D_err_cm2_s": 0.05 * d * scale if diffusive else pd.NA,
                            "diffusive": diffusive,
                            "sigma_S_cm": sigma if diffusive else pd.NA,
                            "sigma_err_S_cm": 0.05 * sigma if diffusive else pd.NA,
                        }
                    )  # fmt: skip
    df = pd.DataFrame(rows)
    for col in ("D_cm2_s", "D_err_cm2_s", "sigma_S_cm", "sigma_err_S_cm"):
        df[col] = df[col].astype("Float64")
    df["diffusive"] = df["diffusive"].astype("boolean")
    # a non-diffusive row that still carries a (bogus) D must be ignored
    bogus = (df["x"] == 0.1) & (df["m"] == 2.0) & (df["T_K"] == 1000.0) & (df["species"] == "Na")
    df.loc[bogus, "D_cm2_s"] = 1.0
    return df


def test_arrhenius_table_columns_and_exclusion() -> None:
    table = arrhenius_table(_transport(np.random.default_rng(0)), n_boot=200)
    assert set(REQUIRED) <= set(table.columns)
    assert list(table.columns) == list(ARRHENIUS_COLUMNS)
    assert len(table) == 4 * 4  # 4 compositions x (D Na, Si, S + sigmaT)
    na = table[(table.x == 0.1) & (table.m == 2.0) & (table.species == "Na")].iloc[0]
    assert na["n_temperatures"] == 4 and na["n_points"] == 12  # 1000 K excluded
    assert na["T_min_K"] == 1200.0
    assert na["E_A_lo_eV"] < na["E_A_eV"] < na["E_A_hi_eV"]
    assert na["E_A_eV"] == pytest.approx(E_TRUE, abs=0.03)
    assert na["prefactor_unit"] == "cm2/s" and na["ci_method"] == "bootstrap-replicas"
    sig = table[(table.x == 0.1) & (table.m == 2.0) & (table.quantity == "sigmaT")].iloc[0]
    assert sig["species"] == "all" and sig["prefactor_unit"] == "S K/cm"
    assert sig["n_points"] == 12  # one point per run, not per species row
    assert sig["E_A_eV"] == pytest.approx(0.4, abs=0.05)
    # only 1000 K in (0.5, 2.0), and it is not diffusive
    empty = table[(table.x == 0.5) & (table.m == 2.0)]
    assert empty["E_A_eV"].isna().all()
    assert (empty["reason"] == "no diffusive points").all()
    # (0.5, 3.0): 1600 and 1800 K diffusive -> fit with bootstrap CI
    two = table[(table.x == 0.5) & (table.m == 3.0) & (table.species == "Na")].iloc[0]
    assert two["n_temperatures"] == 2 and pd.notna(two["E_A_eV"])


def test_fewer_than_two_temperatures_reason() -> None:
    df = _transport(np.random.default_rng(1))
    keep = ~((df["x"] == 0.5) & (df["m"] == 3.0) & (df["T_K"] == 1600.0))
    table = arrhenius_table(df[keep], n_boot=50)
    row = table[(table.x == 0.5) & (table.m == 3.0) & (table.species == "Na")].iloc[0]
    assert pd.isna(row["E_A_eV"]) and pd.isna(row["E_A_lo_eV"])
    assert "fewer than 2 temperatures" in row["reason"]
    assert row["n_temperatures"] == 1


def test_conductivity_points_prefers_all_row() -> None:
    df = _transport(np.random.default_rng(2))
    run = df[(df.x == 0.1) & (df.m == 2.0) & (df.T_K == 1200.0) & (df.replica == 1)].iloc[[0]]
    extra = run.assign(species="all", sigma_S_cm=pd.array([123.0], dtype="Float64"))
    pts = conductivity_points(pd.concat([df, extra], ignore_index=True))
    sel = pts[(pts.x == 0.1) & (pts.m == 2.0) & (pts.T_K == 1200.0) & (pts.replica == 1)]
    assert len(sel) == 1 and sel["y"].iloc[0] == 123.0


def test_missing_columns_rejected() -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        arrhenius_table(pd.DataFrame({"campaign": ["a"]}))


# --------------------------------------------------------------------------- pooled points


def _pooled_transport(rng: np.random.Generator, rel_err: float = 0.08) -> pd.DataFrame:
    """Per-run rows carrying replica-pooled D and sigma (one value per temperature)."""
    rows = []
    for T in TEMPS:
        d = A_TRUE * np.exp(-E_TRUE / (K_B_EV_K * T)) * np.exp(rng.normal(0.0, rel_err))
        sigma = 50.0 * np.exp(-0.4 / (K_B_EV_K * T)) / T * np.exp(rng.normal(0.0, rel_err))
        pooled_ok = T > 1000.0
        for rep in (1, 2, 3):
            rows.append(
                {
                    "campaign": "demo", "x": 0.5, "m": 2.0, "T_K": T, "replica": rep,
                    "species": "Na", "D_cm2_s": d * (1 + 0.3 * rep), "D_err_cm2_s": 0.1 * d,
                    "diffusive": True, "sigma_S_cm": sigma, "sigma_err_S_cm": 0.1 * sigma,
                    "D_pooled_cm2_s": d, "D_pooled_err_cm2_s": rel_err * d,
                    "diffusive_pooled": pooled_ok, "n_replicas": 3,
                    "sigma_pooled_S_cm": sigma if pooled_ok else np.nan,
                    "sigma_err_pooled_S_cm": rel_err * sigma,
                }
            )  # fmt: skip
    df = pd.DataFrame(rows)
    df["diffusive"] = df["diffusive"].astype("boolean")
    df["diffusive_pooled"] = df["diffusive_pooled"].astype("boolean")
    return df


def test_table_uses_pooled_points_with_known_errors() -> None:
    """One pooled point per temperature (not 3 replicas), weighted by its GLS error;
    a temperature whose pooled fit is not diffusive is left out."""
    df = _pooled_transport(np.random.default_rng(9))
    table = arrhenius_table(df, n_boot=50)
    na = table[table.species == "Na"].iloc[0]
    assert na["ci_method"] == "weighted-known"
    assert na["n_points"] == 4 and na["n_temperatures"] == 4 and na["n_replicas"] == 3
    assert na["T_min_K"] == 1200.0
    assert na["E_A_lo_eV"] < E_TRUE < na["E_A_hi_eV"]
    sig = table[table.quantity == "sigmaT"].iloc[0]
    assert sig["ci_method"] == "weighted-known" and sig["n_points"] == 4
    # the per-run path is still there on request
    assert len(diffusivity_points(df, "Na", pooled=False)) == 15


def test_weighted_known_coverage_and_two_points() -> None:
    """Known errors: the 95 % interval of E_A covers in 93-98.5 % of 400 draws (the
    scale factor only widens); two temperatures already give an interval."""
    rng = np.random.default_rng(21)
    hits = 0
    for _ in range(400):
        y = A_TRUE * np.exp(-E_TRUE / (K_B_EV_K * TEMPS)) * np.exp(rng.normal(0.0, 0.1, 5))
        fit = fit_arrhenius(TEMPS, y, 0.1 * y, errors_known=True, two_regime=False)
        assert fit.ci_method == "weighted-known"
        hits += fit.E_A_lo_eV <= E_TRUE <= fit.E_A_hi_eV
    assert 0.93 <= hits / 400 <= 0.985
    two = fit_arrhenius(TEMPS[:2], A_TRUE * np.exp(-E_TRUE / (K_B_EV_K * TEMPS[:2])),
                        [1e-5, 1e-5], errors_known=True)  # fmt: skip
    assert two.ci_method == "weighted-known" and two.E_A_lo_eV < E_TRUE < two.E_A_hi_eV
