"""glassflow.campaign.series: the compositions the "against m at fixed x" figures plot together."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import ROOT

from glassflow.analysis.rigidity import critical_m
from glassflow.campaign.series import fixed_x_series, select_series
from glassflow.md.composition import composition_from_counts, counts_from_xm


def test_grid_compositions_group_by_x():
    comps = [counts_from_xm(x, m, 300) for x in (0.1, 0.5) for m in (3.0, 2.0, 4.0)]
    series = fixed_x_series(comps)
    assert sorted(series) == ["0.10", "0.50"]
    s = series["0.10"]
    assert s.kind == "fixed x" and s.x == 0.1
    assert s.members == ((0.1, 2.0), (0.1, 3.0), (0.1, 4.0))  # sorted by m


def test_prl_m_series_at_fixed_modifier_count_is_one_figure():
    """The PRL campaign: NS9 (200 Na) and NS (1000 Na) at N = 3000, N_Si lowered."""
    cfg = yaml.safe_load((ROOT / "config/campaigns/micoulaut2025_ns9_flexibility.yaml").read_text())
    comps = [composition_from_counts(c) for c in cfg["compositions"]["explicit"]]
    assert len({round(c.x_requested, 6) for c in comps}) == 19  # every member has its own x
    series = fixed_x_series(comps)
    assert sorted(series) == ["0.10", "0.50"]
    ns9, ns = series["0.10"], series["0.50"]
    assert ns9.kind == ns.kind == "fixed modifier count"
    assert len(ns9.members) == 13 and len(ns.members) == 6
    # named by the parent glass (m = 2): x = 0.1, so m_c = 28/9 = 3.11 as the PRL quotes
    assert ns9.x == pytest.approx(0.1) and ns9.members[0][1] == pytest.approx(2.0)
    assert float(critical_m(ns9.x)) == pytest.approx(28.0 / 9.0)
    # N_Si = 300: x = 100 / (100 + 300), m = (2500 - 100) / 300 = 8
    assert ns9.members[-1] == pytest.approx((0.25, 8.0))
    assert ns.members[-1] == pytest.approx((2.0 / 3.0, 5.0))


def test_lone_compositions_and_label_collisions():
    a = composition_from_counts({"Na": 20, "Si": 95, "S": 200})  # x = 0.0952 -> "0.10"
    b = composition_from_counts({"Na": 22, "Si": 100, "S": 230})  # x = 0.0991 -> "0.10"
    c = composition_from_counts({"Na": 100, "Si": 50, "S": 150})  # x = 0.5
    series = fixed_x_series([a, b, c])
    assert sorted(series) == ["0.10", "0.50"]
    assert series["0.50"].kind == "single composition"
    merged = series["0.10"]
    assert merged.kind == "merged" and len(merged.members) == 2
    assert [m for _, m in merged.members] == sorted(m for _, m in merged.members)


def test_select_series_relabels_x():
    table = pd.DataFrame(
        {"x": [0.1, 0.105263, 0.25, 0.5], "m": [2.0, 2.210526, 8.0, 2.0], "v": [1, 2, 3, 4]}
    )
    out = select_series(table, [(0.1, 2.0), (0.105263, 2.210526), (0.25, 8.0)], 0.1)
    assert out["v"].tolist() == [1, 2, 3]
    assert (out["x"] == 0.1).all() and out["m"].tolist() == [2.0, 2.210526, 8.0]
    assert table["x"].tolist()[1] == 0.105263  # the input is not modified
    assert select_series(None, [(0.1, 2.0)], 0.1) is None
    empty = pd.DataFrame()
    assert select_series(empty, [(0.1, 2.0)], 0.1) is empty


def test_prl_figure_of_an_explicit_series_shows_every_member():
    """Before the series, each NS9 member had its own x and its figure one point."""
    from glassflow.figures.rigidity import prl_transport_figure

    cfg = yaml.safe_load((ROOT / "config/campaigns/micoulaut2025_ns9_flexibility.yaml").read_text())
    comps = [composition_from_counts(c) for c in cfg["compositions"]["explicit"]]
    ns9 = fixed_x_series(comps)["0.10"]
    rows = [
        {"campaign": "prl", "x": x, "m": m, "T_K": 1500.0, "replica": 1, "species": "Na",
         "D_cm2_s": 1e-6 * m, "D_err_cm2_s": 1e-8, "diffusive": True,
         "sigma_S_cm": 1e-2 * m, "sigma_err_S_cm": 1e-4}
        for x, m in (*ns9.members, *fixed_x_series(comps)["0.50"].members)
    ]  # fmt: skip
    transport = select_series(pd.DataFrame(rows), ns9.members, ns9.x)
    fig = prl_transport_figure(transport, ns9.x)
    (d_na,) = fig.axes[1].containers  # one temperature: one errorbar series
    assert d_na.get_label().startswith("1500 K")
    assert d_na.lines[0].get_xdata() == pytest.approx([m for _, m in ns9.members])
    m_c = [ln for ln in fig.axes[1].lines if ln.get_label().startswith("$m_c(x)$")]
    assert m_c and m_c[0].get_xdata()[0] == pytest.approx(28.0 / 9.0)
