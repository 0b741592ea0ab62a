"""The campaign figures show the error of what they plot (glassflow.figures.maps, .rigidity).

Small hand-built transport and Arrhenius tables with known errors and 95 % bounds; the
tests read the returned matplotlib Figures: error-bar segments against the table's
bounds, the crossed "missed target" points against the target, the m axis against the
data and the place of m_c (line inside the data, text outside).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from scipy import stats

from glassflow.figures.adaptive import location_label
from glassflow.figures.maps import map_figure, point_errors, target_label
from glassflow.figures.rigidity import (
    m_c_outside_text,
    prl_activation_figure,
    prl_transport_figure,
    rigidity_threshold_figure,
)

Z95 = float(stats.norm.ppf(0.975))
TARGET = 0.10  # 1 sigma relative error
# (m, T_K) -> (1 sigma relative error of D_Na, of sigma): some above TARGET, some below
REL = {
    (2.0, 1000.0): (0.04, 0.25),
    (3.0, 1000.0): (0.30, 0.05),
    (4.0, 1000.0): (0.12, 0.08),
    (2.0, 1500.0): (0.02, 0.02),
    (3.0, 1500.0): (0.09, 0.15),
    (4.0, 1500.0): (0.60, 0.03),  # z r > 1: the pivot interval has no upper bound
}


def _pivot(value: float, rel: float) -> tuple[float, float]:
    """95 % pivot interval of a value whose standard error is ``rel * value``."""
    zr = Z95 * rel
    return value / (1.0 + zr), (value / (1.0 - zr) if zr < 1.0 else np.inf)


def transport_table(x: float, rel: dict = REL, n_rep: int = 1) -> pd.DataFrame:
    """Na rows of a transport table at one x: D ~ m T, sigma ~ m, errors from ``rel``."""
    rows = []
    for (m, T), (r_d, r_s) in rel.items():
        for rep in range(1, n_rep + 1):
            d = 1e-6 * m * T / 1000.0 * (1.0 + 0.1 * (rep - 1))
            s = 1e-3 * m * (1.0 + 0.2 * (rep - 1))
            d_lo, d_hi = _pivot(d, r_d)
            s_lo, s_hi = _pivot(s, r_s)
            rows.append(
                {
                    "campaign": "t", "x": x, "m": m, "T_K": T, "replica": rep,
                    "species": "Na", "D_cm2_s": d, "D_err_cm2_s": r_d * d,
                    "D_lo_cm2_s": d_lo, "D_hi_cm2_s": d_hi, "diffusive": True,
                    "sigma_S_cm": s, "sigma_err_S_cm": r_s * s,
                    "sigma_lo_S_cm": s_lo, "sigma_hi_S_cm": s_hi,
                }
            )  # fmt: skip
    df = pd.DataFrame(rows)
    df["diffusive"] = df["diffusive"].astype("boolean")
    return df


def arrhenius_rows(x: float, ms: tuple[float, ...] = (2.0, 3.0, 4.0)) -> pd.DataFrame:
    """Arrhenius table rows (sigmaT and D_Na) with asymmetric 95 % intervals of E_A."""
    rows = []
    for q, sp in (("sigmaT", "all"), ("D", "Na")):
        for i, m in enumerate(ms):
            e = 0.3 + 0.02 * i
            rows.append(
                {
                    "campaign": "t", "x": x, "m": m, "quantity": q, "species": sp,
                    "E_A_eV": e, "E_A_lo_eV": e - 0.01 * (i + 1), "E_A_hi_eV": e + 0.03,
                    "n_points": 3, "n_temperatures": 3,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def _errorbars(ax: Axes) -> dict[str, ErrorbarContainer]:
    return {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}


def _bar_ends(c: ErrorbarContainer) -> np.ndarray:
    """(m, y_low, y_high) of every vertical bar of an errorbar series, sorted by m."""
    segs = c.lines[2][0].get_segments()
    ends = np.array([[s[0][0], s[0][1], s[1][1]] for s in segs])
    return ends[np.argsort(ends[:, 0])]


def _crosses(ax: Axes, target: float = TARGET) -> np.ndarray:
    """Offsets of the "missed target" markers of ``ax`` (empty when there are none)."""
    hits = [
        c
        for c in ax.collections
        if isinstance(c, PathCollection) and c.get_label() == target_label(target)
    ]
    assert len(hits) <= 1
    return np.asarray(hits[0].get_offsets(), dtype=float) if hits else np.empty((0, 2))


def _any_cross(fig: Figure) -> bool:
    return any("missed target" in str(c.get_label()) for ax in fig.axes for c in ax.collections)


def _expected_bounds(table: pd.DataFrame, value: str, lo: str, hi: str, rel: str) -> np.ndarray:
    """(m, lo, hi) expected for one T of a one-replica table: the table's bounds, with an
    infinite upper bound replaced by the log-normal one of the 1 sigma error."""
    t = table.sort_values("m")
    v = t[value].to_numpy(dtype=float)
    r = t[rel].to_numpy(dtype=float) / v
    upper = t[hi].to_numpy(dtype=float)
    upper = np.where(np.isfinite(upper), upper, v * 10.0 ** (Z95 * r / np.log(10.0)))
    return np.column_stack([t["m"].to_numpy(dtype=float), t[lo].to_numpy(dtype=float), upper])


def _main_axes(fig: Figure, n: int) -> list[Axes]:
    """The first ``n`` axes of a figure (the subplots; twin axes come after them)."""
    return list(fig.axes[:n])


# --------------------------------------------------------------------------- the numbers


def test_point_errors_take_the_table_bounds_and_the_target() -> None:
    table = transport_table(0.1)
    errs = point_errors(table, "D_Na", ("T_K", "m"), {"D_Na": TARGET}).sort_values(["T_K", "m"])
    rel_d = np.array([REL[(m, T)][0] for T, m in zip(errs["T_K"], errs["m"], strict=True)])
    np.testing.assert_allclose(errs["rel_err"], rel_d, rtol=1e-12)
    assert errs["missed"].tolist() == (rel_d > TARGET).tolist()
    for T in (1000.0, 1500.0):
        got = errs[errs["T_K"] == T][["m", "lo", "hi"]].to_numpy(dtype=float)
        want = _expected_bounds(
            table[table["T_K"] == T], "D_cm2_s", "D_lo_cm2_s", "D_hi_cm2_s", "D_err_cm2_s"
        )
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # two replicas: the geometric mean with a Student-t interval on 1 degree of freedom
    two = point_errors(transport_table(0.1, n_rep=2), "D_Na", ("T_K", "m"))
    row = two[(two["T_K"] == 1000.0) & (two["m"] == 2.0)].iloc[0]
    logs = np.log10([2e-6, 2.2e-6])
    se = np.std(logs, ddof=1) / np.sqrt(2)
    t = stats.t.ppf(0.975, 1)
    assert row["value"] == pytest.approx(10.0 ** logs.mean())
    assert row["lo"] == pytest.approx(10.0 ** (logs.mean() - t * se))
    assert row["hi"] == pytest.approx(10.0 ** (logs.mean() + t * se))
    assert not two["missed"].any()  # no target: nothing missed
    # the level is the table's ci_level (the dynamics setting its bounds were made at)
    ninety = transport_table(0.1, n_rep=2).assign(ci_level=0.9)
    row = point_errors(ninety, "D_Na", ("T_K", "m")).iloc[0]
    assert row["hi"] == pytest.approx(10.0 ** (logs.mean() + stats.t.ppf(0.95, 1) * se))
    fig = rigidity_threshold_figure(ninety, None, None, 0.1)
    assert "error bars: 90 % intervals" in fig.axes[0].get_title()


def test_point_errors_use_the_replica_pooled_bounds() -> None:
    """With the replica-pooled columns the point is the pooled fit, its bounds the pooled
    interval (not a replica's)."""
    table = transport_table(0.1, n_rep=2)
    d = table.groupby(["m", "T_K"])["D_cm2_s"].transform("mean")
    table = table.assign(
        D_pooled_cm2_s=d,
        D_pooled_err_cm2_s=0.05 * d,
        D_pooled_lo_cm2_s=0.9 * d,
        D_pooled_hi_cm2_s=1.2 * d,
        diffusive_pooled=pd.array([True] * len(table), dtype="boolean"),
        n_replicas=2,
    )
    errs = point_errors(table, "D_Na", ("T_K", "m"), {"D_Na": 0.04})
    assert len(errs) == len(REL)
    np.testing.assert_allclose(errs["rel_err"], 0.05, rtol=1e-12)
    np.testing.assert_allclose(errs["lo"] / errs["value"], 0.9, rtol=1e-12)
    np.testing.assert_allclose(errs["hi"] / errs["value"], 1.2, rtol=1e-12)
    assert errs["missed"].all()


def test_table_verdict_is_preferred_to_the_comparison() -> None:
    table = transport_table(0.1)
    verdict = {
        (2.0, 1000.0): "max_production_ps reached (D_Na 0.04; target 0.1)",  # below, missed
        (3.0, 1000.0): "converged: rel. error of Na 0.3 <= 0.1",  # above, met
        (4.0, 1000.0): "fixed length",  # silent: the comparison decides (0.12 > 0.1)
    }
    reasons = [verdict.get((m, T), pd.NA) for m, T in zip(table["m"], table["T_K"], strict=True)]
    table["stop_reason"] = pd.array(reasons, dtype="string")
    errs = point_errors(table, "D_Na", ("T_K", "m"), {"D_Na": TARGET}).set_index(["T_K", "m"])
    assert bool(errs.loc[(1000.0, 2.0), "missed"])
    assert not bool(errs.loc[(1000.0, 3.0), "missed"])
    assert bool(errs.loc[(1000.0, 4.0), "missed"])
    assert bool(errs.loc[(1500.0, 4.0), "missed"]) and not bool(errs.loc[(1500.0, 3.0), "missed"])
    # stop_reason judges D only; sigma keeps the comparison, a target_met_sigma column wins
    s_errs = point_errors(table, "sigma", ("T_K", "m"), {"sigma": TARGET})
    want = [REL[(m, T)][1] > TARGET for m, T in zip(s_errs["m"], s_errs["T_K"], strict=True)]
    assert s_errs["missed"].tolist() == want
    table["target_met_sigma"] = pd.array([True] * len(table), dtype="boolean")
    assert not point_errors(table, "sigma", ("T_K", "m"), {"sigma": TARGET})["missed"].any()


# --------------------------------------------------------------------------- rigidity plots


@pytest.mark.parametrize("panel", ["rigidity", "prl"])
def test_transport_error_bars_are_the_95_percent_bounds(panel: str) -> None:
    table = transport_table(0.1)
    if panel == "rigidity":
        fig = rigidity_threshold_figure(table, None, None, 0.1)
        ax_d, ax_s = _main_axes(fig, 2)
    else:
        fig = prl_transport_figure(table, 0.1)
        ax_s, ax_d = _main_axes(fig, 2)
    for ax, cols in (
        (ax_d, ("D_cm2_s", "D_lo_cm2_s", "D_hi_cm2_s", "D_err_cm2_s")),
        (ax_s, ("sigma_S_cm", "sigma_lo_S_cm", "sigma_hi_S_cm", "sigma_err_S_cm")),
    ):
        bars = _errorbars(ax)
        assert len(bars) == 2
        for T in (1000.0, 1500.0):
            (label,) = [k for k in bars if k.startswith(f"{T:.0f} K")]
            want = _expected_bounds(table[table["T_K"] == T], *cols)
            np.testing.assert_allclose(_bar_ends(bars[label]), want, rtol=1e-9)


@pytest.mark.parametrize("panel", ["rigidity", "prl"])
def test_missed_target_points_are_exactly_those_over_the_target(panel: str) -> None:
    table = transport_table(0.1)
    targets = {"D_Na": TARGET, "sigma": TARGET}
    if panel == "rigidity":
        fig = rigidity_threshold_figure(table, None, None, 0.1, targets)
        ax_d, ax_s = _main_axes(fig, 2)
    else:
        fig = prl_transport_figure(table, 0.1, targets)
        ax_s, ax_d = _main_axes(fig, 2)
    for ax, value, k in ((ax_d, "D_cm2_s", 0), (ax_s, "sigma_S_cm", 1)):
        over = [REL[(m, T)][k] > TARGET for m, T in zip(table["m"], table["T_K"], strict=True)]
        want = table.loc[over, ["m", value]].to_numpy(dtype=float)
        got = _crosses(ax)
        assert 0 < len(want) < len(table)
        np.testing.assert_allclose(
            got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])], rtol=1e-12
        )
    # no targets: nothing crossed, the bars are still there
    plain = rigidity_threshold_figure(table, None, None, 0.1)
    assert not _any_cross(plain) and _errorbars(plain.axes[0])
    assert not _any_cross(prl_transport_figure(table, 0.1))


def test_activation_error_bars_are_the_table_interval() -> None:
    arr = arrhenius_rows(0.1)
    fig = prl_activation_figure(arr, 0.1)
    bars = _errorbars(fig.axes[0])
    rig = rigidity_threshold_figure(transport_table(0.1), arr, None, 0.1)
    rig_bars = _errorbars(_main_axes(rig, 3)[2])
    for q, name in (("sigmaT", r"$\sigma T$"), ("D", r"$D_\mathrm{Na}$")):
        sel = arr[arr["quantity"] == q].sort_values("m")
        want = sel[["m", "E_A_lo_eV", "E_A_hi_eV"]].to_numpy(dtype=float)
        (c,) = [v for k, v in bars.items() if name in k]
        np.testing.assert_allclose(_bar_ends(c), want, rtol=1e-12)
        (c,) = [v for k, v in rig_bars.items() if name in k]
        np.testing.assert_allclose(_bar_ends(c), want, rtol=1e-12)


def _m_c_lines(ax: Axes, m_c: float) -> list:
    return [
        ln
        for ln in ax.lines
        if np.allclose(np.asarray(ln.get_xdata(), dtype=float), m_c) and len(ln.get_xdata()) == 2
    ]


def _outside_notes(ax: Axes, m_c: float) -> list[str]:
    """Texts of ``ax`` (its own and its legend's) that name an m_c outside the data."""
    texts = list(ax.texts)
    if ax.get_legend() is not None:
        texts += ax.get_legend().get_texts()
    return [t.get_text() for t in texts if m_c_outside_text(m_c) in t.get_text()]


def test_m_axis_spans_the_data_and_names_an_outside_m_c() -> None:
    x = 0.33
    m_c = (4.0 - 12.0 * x) / (1.0 - x)  # eq 1: 0.06, far left of the data (m = 2 ... 4)
    assert m_c_outside_text(m_c) == "$m_c$ = 0.06 (outside the data)"
    table = transport_table(x)
    figs = [
        _main_axes(rigidity_threshold_figure(table, arrhenius_rows(x), None, x), 3),
        _main_axes(prl_transport_figure(table, x), 2),
        _main_axes(prl_activation_figure(arrhenius_rows(x), x), 1),
    ]
    for axes in figs:
        for ax in axes:
            lo, hi = ax.get_xlim()
            assert 2.0 - 0.5 < lo < 2.0 and 4.0 < hi < 4.0 + 0.5  # the data, a small margin
            assert not lo <= m_c <= hi
            assert not _m_c_lines(ax, m_c)
            assert len(_outside_notes(ax, m_c)) == 1


def test_m_c_inside_the_data_is_a_vertical_line() -> None:
    x = 0.1
    m_c = 28.0 / 9.0  # eq 1, between m = 3 and 4
    table = transport_table(x)
    figs = [
        _main_axes(rigidity_threshold_figure(table, arrhenius_rows(x), None, x), 3),
        _main_axes(prl_transport_figure(table, x), 2),
        _main_axes(prl_activation_figure(arrhenius_rows(x), x), 1),
    ]
    for axes in figs:
        for ax in axes:
            lo, hi = ax.get_xlim()
            assert 2.0 - 0.5 < lo < 2.0 and 4.0 < hi < 4.0 + 0.5
            assert len(_m_c_lines(ax, m_c)) == 1
            assert not _outside_notes(ax, m_c)


# --------------------------------------------------------------------------- maps


def map_table() -> pd.DataFrame:
    """Five compositions at 1000 K, one replica each, 1 sigma errors around TARGET."""
    rel = {(0.1, 2.0): 0.03, (0.1, 3.0): 0.23, (0.2, 2.0): 0.11, (0.2, 3.0): 0.05, (0.15, 4.0): 0.4}
    frames = []
    for (x, m), r in rel.items():
        frames.append(transport_table(x, {(m, 1000.0): (r, r / 2.0)}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize(
    ("quantity", "value", "err"),
    [("sigma", "sigma_S_cm", "sigma_err_S_cm"), ("D_Na", "D_cm2_s", "D_err_cm2_s")],
)
def test_map_shows_point_errors_and_crosses_missed_targets(
    quantity: str, value: str, err: str
) -> None:
    table = map_table()
    rel = (table[err] / table[value]).to_numpy(dtype=float)
    fig = map_figure(table, 1000.0, quantity, n_grid=15, targets={quantity: TARGET})
    ax_mean, ax_err = fig.axes[0], fig.axes[1]
    want = table.loc[rel > TARGET, ["m", "x"]].to_numpy(dtype=float)
    assert 0 < len(want) < len(table)
    for ax in (ax_mean, ax_err):
        got = _crosses(ax)
        np.testing.assert_allclose(
            got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])], rtol=1e-12
        )
    # the error panel: each composition coloured by its 1 sigma of log10 y (decades) and
    # labelled with its 1 sigma relative error in %
    (pts,) = [c for c in ax_err.collections if str(c.get_label()).startswith("measured 1σ")]
    offsets = np.asarray(pts.get_offsets(), dtype=float)
    order = [int(np.flatnonzero((table["m"] == m) & (table["x"] == x))[0]) for m, x in offsets]
    np.testing.assert_allclose(pts.get_array(), rel[order] / np.log(10.0), rtol=1e-9)
    labels = {t.get_text() for t in ax_err.texts}
    for r in rel:
        pct = 100.0 * r
        assert (f"±{pct:.0f} %" if pct >= 10 else f"±{pct:.1f} %") in labels
    legend = [t.get_text() for t in ax_mean.get_legend().get_texts()]
    assert target_label(TARGET) in legend and "10 %" in target_label(TARGET)
    assert not _any_cross(map_figure(table, 1000.0, quantity, n_grid=15))


def test_a_position_on_a_bound_is_reported_as_a_one_sided_interval():
    # every posterior path peaks at the upper bound 4.4: "at or beyond", never "at 4.40"
    assert location_label(4.02, 4.40, 4.40, 2.0, 4.4) == "on the upper bound: m ≥ 4.02 (95 %)"
    assert location_label(2.0, 4.40, 4.40, 2.0, 4.4) == (
        "not located: 95 % interval [2.00, 4.40] spans the bounds"
    )
    assert location_label(2.00, 2.00, 2.18, 2.0, 4.4) == "on the lower bound: m ≤ 2.18 (95 %)"
    inside = location_label(3.05, 3.11, 3.20, 2.0, 4.4)
    assert inside == "located at m = 3.11 [3.05, 3.20]"
