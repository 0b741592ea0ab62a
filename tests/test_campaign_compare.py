"""glassflow.campaign.compare: campaigns side by side (e.g. the two neutrality policies)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glassflow.campaign.compare import (
    COMPARISON_COLUMNS,
    campaign_info,
    campaign_labels,
    check_compare_dirs,
    check_distinct_campaigns,
    compare_arrhenius,
    compare_transport,
    label_campaigns,
)

TEMPS = (1500.0, 2000.0)


def transport(campaign: str, scale: float = 1.0, x: float = 0.1, rel_noise: float = 0.1):
    """Two compositions x 2 T x 3 replicas; Na and Si diffusive except Si at m=3, 1500 K.

    Replica r has D = D0 * scale * (1 + rel_noise * (r - 2)), so replica means of log10
    differ by exactly log10(scale) between two campaigns built with different scales.
    """
    rows = []
    for m in (2.0, 3.0):
        for T in TEMPS:
            for rep in (1, 2, 3):
                f = scale * (1.0 + rel_noise * (rep - 2))
                sigma = 1e-2 * m * T / 2000.0 * f
                for sp, d0 in (("Na", 1e-5), ("Si", 1e-7)):
                    diffusive = not (sp == "Si" and m == 3.0 and T == 1500.0)
                    d = d0 * m * T / 2000.0 * f
                    rows.append(
                        {
                            "campaign": campaign, "x": x, "m": m, "T_K": T, "replica": rep,
                            "species": sp,
                            "D_cm2_s": d if diffusive else np.nan,
                            "D_err_cm2_s": 0.05 * d if diffusive else np.nan,
                            "diffusive": diffusive,
                            "sigma_S_cm": sigma, "sigma_err_S_cm": 0.05 * sigma,
                        }
                    )  # fmt: skip
    df = pd.DataFrame(rows)
    df["diffusive"] = df["diffusive"].astype("boolean")
    return df


def runs(campaign: str, neutrality: str, net_charge: float = 0.0, x: float = 0.1):
    return pd.DataFrame(
        [
            {"campaign": campaign, "x": x, "m": m, "T_K": T, "replica": r,
             "neutrality": neutrality, "net_charge_e": net_charge * (m - 2.0)}
            for m in (2.0, 3.0) for T in TEMPS for r in (1, 2, 3)
        ]
    )  # fmt: skip


def test_transport_differences_are_the_known_log_ratio():
    a = transport("ns_scale", scale=1.0)
    b = transport("ns_background", scale=2.0, x=0.1 + 1e-12)  # float noise in the keys
    out = compare_transport(
        [a, b], [runs("ns_scale", "scale_anion"), runs("ns_background", "background", -4.0)],
        "ns_scale",
    )  # fmt: skip
    assert list(out.columns) == list(COMPARISON_COLUMNS)
    ref = out[out["campaign"] == "ns_scale"]
    other = out[out["campaign"] == "ns_background"]
    # 2 m x 2 T x (Na, sigma) + Si at 3 of the 4 (m, T): 11 pooled rows per campaign
    assert len(ref) == len(other) == 11
    assert np.allclose(ref["delta_log10"], 0.0)
    assert np.allclose(other["delta_log10"], np.log10(2.0))
    # the replica spread is the same in both, so z = log10 2 / (sqrt 2 se)
    assert np.allclose(other["z"], np.log10(2.0) / (np.sqrt(2.0) * other["log10_se"]))
    assert set(other["neutrality"]) == {"background"}
    assert set(other["campaign_label"]) == {"ns_background (background)"}
    # mean net charge of the runs, per composition: 0 at m = 2, -4 e at m = 3
    assert dict(zip(other["m"], other["net_charge_e"], strict=False)) == {2.0: 0.0, 3.0: -4.0}
    assert set(ref["net_charge_e"]) == {0.0}
    # the non-diffusive Si point has no pooled row in either campaign
    si = out[(out["species"] == "Si") & (out["m"] == 3.0)]
    assert set(si["T_K"]) == {2000.0}


def test_transport_delta_is_nan_where_the_reference_is_not_diffusive():
    a = transport("a")
    b = transport("b", scale=3.0)
    a.loc[(a["species"] == "Na") & (a["m"] == 2.0) & (a["T_K"] == 2000.0), "diffusive"] = False
    out = compare_transport([a, b], [runs("a", "scale_anion"), runs("b", "background")], "a")
    # sigma of a run is read from its Na row (no "all" row), so sigma goes too
    row = out[
        (out["campaign"] == "b") & out["species"].isin(["Na", "all"]) & (out["m"] == 2.0)
        & (out["T_K"] == 2000.0)
    ]  # fmt: skip
    assert len(row) == 2 and row["delta_log10"].isna().all() and row["z"].isna().all()
    others = out[(out["campaign"] == "b") & ~out.index.isin(row.index)]
    assert np.allclose(others["delta_log10"], np.log10(3.0))


def with_pooled(df: pd.DataFrame) -> pd.DataFrame:
    """Add the replica-pooled columns: D and sigma of the replica-2 run, 4 % error."""
    out = df.copy()
    keys = ["x", "m", "T_K", "species"]
    rep2 = out[out["replica"] == 2].set_index(keys)
    idx = pd.MultiIndex.from_frame(out[keys])
    out["D_pooled_cm2_s"] = rep2["D_cm2_s"].reindex(idx).to_numpy()
    out["D_pooled_err_cm2_s"] = 0.04 * out["D_pooled_cm2_s"]
    out["diffusive_pooled"] = rep2["diffusive"].reindex(idx).to_numpy()
    out["sigma_pooled_S_cm"] = rep2["sigma_S_cm"].reindex(idx).to_numpy()
    out["sigma_err_pooled_S_cm"] = 0.04 * out["sigma_pooled_S_cm"]
    return out


def test_pooled_estimates_are_compared_when_the_tables_have_them():
    a = with_pooled(transport("a"))
    b = with_pooled(transport("b", scale=5.0))
    out = compare_transport([a, b], [runs("a", "scale_anion"), runs("b", "background")], "a")
    assert (out["n"] == 1).all()  # one pooled point per (composition, T), not 3 replicas
    ref = out[(out["campaign"] == "a") & (out["quantity"] == "D") & (out["species"] == "Na")]
    expected = np.log10(1e-5 * ref["m"] * ref["T_K"] / 2000.0)  # replica 2: factor 1
    assert np.allclose(ref["log10_mean"], expected)
    other = out[out["campaign"] == "b"]
    assert np.allclose(other["delta_log10"], np.log10(5.0))
    # errors of log10 from 4 % relative errors: 0.04 / ln 10 each
    assert np.allclose(other["delta_log10_se"], np.hypot(0.04, 0.04) / np.log(10.0))


def test_unknown_reference_and_mixed_policies_raise():
    a, ra = transport("a"), runs("a", "scale_anion")
    with pytest.raises(ValueError, match="reference campaign 'z'"):
        compare_transport([a], [ra], "z")
    mixed = pd.concat([ra, runs("a", "background")])
    with pytest.raises(ValueError, match=r"\['a'\] mix neutrality"):
        campaign_info(mixed)
    with pytest.raises(ValueError, match="lacks columns"):
        campaign_info(ra.drop(columns="neutrality"))


def test_arrhenius_delta_E_A():
    def table(campaign, e_na, e_sig):
        return pd.DataFrame(
            {
                "campaign": campaign, "x": [0.1, 0.1, 0.1], "m": [2.0, 2.0, 3.0],
                "quantity": ["D", "sigmaT", "D"], "species": ["Na", "all", "Na"],
                "E_A_eV": pd.array([e_na, e_sig, None], dtype="Float64"),
            }
        )  # fmt: skip

    out = compare_arrhenius(
        [table("a", 0.30, 0.40), table("b", 0.25, 0.46)],
        [runs("a", "scale_anion"), runs("b", "background")],
        "a",
    )
    b = out[out["campaign"] == "b"].set_index(["m", "quantity"])
    assert b.loc[(2.0, "D"), "delta_E_A_eV"] == pytest.approx(-0.05)
    assert b.loc[(2.0, "sigmaT"), "delta_E_A_eV"] == pytest.approx(0.06)
    assert np.isnan(b.loc[(3.0, "D"), "delta_E_A_eV"])  # no fit in either
    assert np.allclose(out.loc[out["campaign"] == "a", "delta_E_A_eV"].dropna(), 0.0)
    labels = campaign_labels(out)
    assert labels == {"a": "a (scale_anion)", "b": "b (background)"}
    assert list(label_campaigns(table("b", 0.1, 0.1), labels)["campaign"].unique()) == [
        "b (background)"
    ]


def test_same_campaign_name_in_two_sources_raises():
    with pytest.raises(ValueError, match="'ns' is in both results/a/tables/runs.parquet and"):
        check_distinct_campaigns(
            [runs("ns", "scale_anion"), runs("ns", "background")],
            ["results/a/tables/runs.parquet", "results/b/tables/runs.parquet"],
        )
    check_distinct_campaigns([runs("a", "x"), runs("b", "y")], ["p", "q"])  # no error


def _finished(root: Path, name: str) -> Path:
    d = root / "results" / name / "tables"
    d.mkdir(parents=True)
    for t in ("transport", "arrhenius", "runs"):
        (d / f"{t}.parquet").write_bytes(b"")
    return d.parent


def test_check_compare_dirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _finished(tmp_path, "other")
    (tmp_path / "results/half/tables").mkdir(parents=True)
    (tmp_path / "results/half/tables/runs.parquet").write_bytes(b"")
    assert check_compare_dirs(["results/other/"], "results/own") == ["results/other"]
    assert check_compare_dirs([str(tmp_path / "results/other")], "results/own") == [
        str(tmp_path / "results/other")
    ]
    assert check_compare_dirs([], "results/own") == []
    with pytest.raises(ValueError, match=r"compare_with'\[0\]: 'results/missing' has no tables/"):
        check_compare_dirs(["results/missing"], "results/own")
    with pytest.raises(
        ValueError, match=r"'results/half' has no tables/transport.parquet, tables/a"
    ):
        check_compare_dirs(["results/half"], "results/own")
    with pytest.raises(ValueError, match="this campaign's own results directory"):
        check_compare_dirs(["results/other"], "results/other")
    with pytest.raises(ValueError, match=r"compare_with'\[1\]: 'results/other' is listed twice"):
        check_compare_dirs(["results/other", "results/other/"], "results/own")
    with pytest.raises(ValueError, match="not a safe directory"):
        check_compare_dirs(["results/../etc"], "results/own")
