"""Tests of the campaign figures (glassflow.figures): what they show (artists), and files written.

Most tests build the matplotlib Figure without rendering it (fast) and inspect its
artists; one test per figure family writes the PNG + PDF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

# shared hand-built topology (tests/ is on sys.path under pytest's default import mode)
from test_constraint_diagnostics import topology_rows

from glassflow.campaign.arrhenius import arrhenius_table, flag_few_temperatures
from glassflow.campaign.composition_map import HoppingInputs
from glassflow.figures.arrhenius import (
    arrhenius_figure,
    arrhenius_figure_name,
    fitted_log10,
    plot_arrhenius,
)
from glassflow.figures.common import NOT_DIFFUSIVE, PALETTE
from glassflow.figures.constraints import constraint_figure, plot_constraint_diagnostic
from glassflow.figures.maps import (
    conductivity_map_name,
    diffusivity_map_name,
    map_color_limits,
    map_data,
    map_figure,
    plot_conductivity_map,
)
from glassflow.figures.rigidity import (
    prl_activation_figure,
    prl_figure_name,
    prl_transport_figure,
    rigidity_figure_name,
    rigidity_threshold_figure,
)

TEMPS = (1000.0, 1500.0, 2000.0)
# CODATA 2018 (exact): k_B / e, in eV/K; written here rather than taken from the package
K_B_EV_K = 1.380649e-23 / 1.602176634e-19


def tiny_campaign(seed: int = 0, n_rep: int = 2) -> pd.DataFrame:
    """2 x * 2 m * 3 T transport summary; S is never diffusive, x=0.5 m=2 only at 2000 K."""
    rng = np.random.default_rng(seed)
    rows = []
    for x in (0.1, 0.5):
        for m in (2.0, 3.5):
            for T in TEMPS:
                for rep in range(1, n_rep + 1):
                    noise = np.exp(rng.normal(0.0, 0.05))
                    d_na = 1e-3 * m * np.exp(-0.3 / (K_B_EV_K * T)) * noise
                    sigma = 20.0 * x * m * np.exp(-0.4 / (K_B_EV_K * T)) / T * noise
                    ok_run = not (x == 0.5 and m == 2.0 and T < 2000.0)
                    for sp, scale in (("Na", 1.0), ("Si", 0.1), ("S", 0.2)):
                        diffusive = ok_run and sp != "S"
                        rows.append(
                            {
                                "campaign": "tiny", "x": x, "m": m, "T_K": T, "replica": rep,
                                "species": sp,
                                "D_cm2_s": d_na * scale if diffusive else np.nan,
                                "D_err_cm2_s": 0.05 * d_na * scale if diffusive else np.nan,
                                "diffusive": diffusive,
                                "sigma_S_cm": sigma if ok_run else np.nan,
                                "sigma_err_S_cm": 0.05 * sigma if ok_run else np.nan,
                            }
                        )  # fmt: skip
    df = pd.DataFrame(rows)
    for col in ("D_cm2_s", "D_err_cm2_s", "sigma_S_cm", "sigma_err_S_cm"):
        df[col] = df[col].astype("Float64")
    df["diffusive"] = df["diffusive"].astype("boolean")
    return df


@pytest.fixture(scope="module")
def campaign() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    transport = tiny_campaign()
    table = arrhenius_table(transport, n_boot=100)
    topology = pd.DataFrame(
        {"x": [0.1, 0.1, 0.1, 0.5], "m": [2.0, 2.0, 3.5, 2.0], "f_md": [-0.3, -0.25, 0.05, 0.2]}
    )
    return transport, table, topology


def _written(paths: tuple[Path, Path]) -> None:
    png, pdf = paths
    assert png.suffix == ".png" and pdf.suffix == ".pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    for p in (png, pdf):
        assert p.stat().st_size > 1000


def _labelled(ax: Axes, label: str) -> list:
    return [a for a in (*ax.collections, *ax.lines) if a.get_label() == label]


def _texts(fig: Figure) -> str:
    parts = []
    for ax in fig.axes:
        parts += [t.get_text() for t in ax.texts]
        leg = ax.get_legend()
        if leg is not None:
            parts += [t.get_text() for t in leg.get_texts()]
    return "\n".join(parts)


def test_palette_and_names() -> None:
    assert len(PALETTE) == len(set(PALETTE)) == 8
    assert arrhenius_figure_name("D_Na") == "arrhenius_D_Na.png"
    assert rigidity_figure_name(0.1) == "rigidity_threshold_x0.10.png"
    assert conductivity_map_name(1500.0) == "conductivity_map_T1500.png"
    assert diffusivity_map_name(1500.4) == "diffusivity_map_T1500.png"
    assert prl_figure_name("transport", 0.1) == "prl_transport_x0.10.png"


# --------------------------------------------------------------------------- Arrhenius


@pytest.mark.parametrize("quantity", ["D_Na", "D_Si", "D_S", "sigmaT"])
def test_arrhenius_points_per_composition(campaign, quantity: str) -> None:
    transport, table, _ = campaign
    fig = arrhenius_figure(transport, table, quantity)
    ax = fig.axes[0]
    # one errorbar series per composition with diffusive points; S is never diffusive
    n_series = len(ax.containers)
    assert n_series == (0 if quantity == "D_S" else 4)
    if quantity == "D_S":
        assert "no diffusive points" in _texts(fig)


def test_temperature_axis_maps_back_to_T(campaign) -> None:
    transport, table, _ = campaign
    fig = arrhenius_figure(transport, table, "D_Na")
    fig.draw_without_rendering()
    ax = fig.axes[0]
    (sec,) = ax.child_axes
    ticks = np.asarray(sec.get_xticks(), dtype=float)
    np.testing.assert_allclose(np.sort(ticks), TEMPS)
    for T in TEMPS:  # a tick at T sits where 1000/T is on the bottom axis
        top = sec.transData.transform([[T, 0.0]])[0, 0]
        bottom = ax.transData.transform([[1000.0 / T, 0.0]])[0, 0]
        assert top == pytest.approx(bottom, abs=1e-6)
    lo, hi = ax.get_xlim()
    assert sorted(sec.get_xlim()) == pytest.approx(sorted([1000.0 / lo, 1000.0 / hi]))


def test_few_temperature_fits_are_flagged(campaign) -> None:
    transport, table, _ = campaign
    flagged = flag_few_temperatures(table)
    assert "few_temperatures" not in table.columns  # the input is not modified
    # the tiny campaign has 3 temperatures everywhere except x=0.5, m=2 (one: no fit)
    assert not flagged["few_temperatures"].any()
    fake = pd.DataFrame({"n_temperatures": [2, 3, 1, 2], "E_A_eV": [0.3, 0.3, np.nan, np.nan]})
    assert flag_few_temperatures(fake)["few_temperatures"].tolist() == [True, False, False, False]
    two_t = transport[transport["T_K"] != 1000.0]
    fig = arrhenius_figure(two_t, arrhenius_table(two_t, n_boot=20), "D_Na")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sum("few temperatures: 2 T" in t for t in legend) == 3
    assert all("few temperatures" not in t for t in legend if "x=0.50, m=2.00" in t)
    with pytest.raises(KeyError, match="n_temperatures"):
        flag_few_temperatures(pd.DataFrame({"E_A_eV": [0.3]}))


def test_arrhenius_figure_degraded(campaign, tmp_path: Path) -> None:
    transport, _, _ = campaign
    none = transport.assign(diffusive=pd.array([False] * len(transport), dtype="boolean"))
    fig = arrhenius_figure(none, None, "D_Na")
    assert "no diffusive points" in _texts(fig) and not fig.axes[0].child_axes
    fig = arrhenius_figure(transport, None, "sigmaT")  # no fits: points only
    assert not [ln for ln in fig.axes[0].lines if ln.get_linestyle() in ("-", "--")]
    with pytest.raises(ValueError, match="quantity"):
        plot_arrhenius(transport, None, "D_K", tmp_path / "c.png")


# --------------------------------------------------------------------------- rigidity


@pytest.mark.parametrize("x", [0.1, 0.5])
def test_rigidity_threshold(campaign, x: float) -> None:
    transport, table, topology = campaign
    fig = rigidity_threshold_figure(transport, table, topology, x)
    m_c = (4.0 - 12.0 * x) / (1.0 - x)  # physics.md §6: 28/9 at x = 0.1, -4 at x = 0.5
    vlines = [ln for ax in fig.axes for ln in ax.lines if ln.get_label().startswith("$m_c$")]
    assert len(vlines) == (3 if m_c > 0 else 0)  # m_c(0.5) < 0: no threshold line
    for ln in vlines:
        assert np.asarray(ln.get_xdata(), dtype=float)[0] == pytest.approx(m_c)


def test_rigidity_threshold_uses_glass_rows(campaign) -> None:
    transport, table, _ = campaign
    topo = pd.DataFrame(
        {"x": [0.1, 0.1], "m": [2.0, 2.0], "stage": ["glass", "production"], "f_md": [-0.3, 5.0]}
    )
    fig = rigidity_threshold_figure(transport, table, topo, 0.1)
    md = [c for ax in fig.axes for c in ax.containers if c.get_label() == "$f$ (MD)"]
    ys = np.concatenate([np.asarray(c.lines[0].get_ydata(), dtype=float) for c in md])
    assert ys.size and np.all(ys == pytest.approx(-0.3))


def test_rigidity_threshold_degraded(campaign) -> None:
    transport, table, _ = campaign
    assert "no diffusive points" in _texts(rigidity_threshold_figure(transport, None, None, 0.1))
    rigidity_threshold_figure(transport, table, None, 0.2)  # no such x
    empty = transport.iloc[0:0]
    fig = rigidity_threshold_figure(empty, table.iloc[0:0], None, 0.1)
    assert _texts(fig).count("no diffusive points") == 3


# --------------------------------------------------------------------------- maps


def _mean_contours(fig: Figure) -> list[ContourSet]:
    return [c for c in fig.axes[0].collections if isinstance(c, ContourSet) and c.filled]


def test_map_colour_scale_is_shared_by_all_temperatures(campaign) -> None:
    transport, _, _ = campaign
    limits = map_color_limits(transport)
    per_t = []
    norms, levels = set(), set()
    for T in TEMPS:
        pooled, _ = map_data(transport, T)
        per_t.append((pooled["log10_mean"].min(), pooled["log10_mean"].max()))
        (cs,) = _mean_contours(map_figure(transport, T, n_grid=25))
        norms.add((cs.norm.vmin, cs.norm.vmax))
        levels.add(tuple(np.round(cs.levels, 9)))
    assert norms == {limits} and len(levels) == 1
    lo, hi = limits
    assert lo <= min(a for a, _ in per_t) and hi >= max(b for _, b in per_t)
    # each temperature alone spans much less than the shared scale
    assert max(b - a for a, b in per_t) < 0.6 * (hi - lo)
    assert (lo * 4).is_integer() and (hi * 4).is_integer()  # rounded to 0.25 decade


def test_map_marks_non_diffusive_compositions_hollow(campaign) -> None:
    transport, _, _ = campaign
    fig = map_figure(transport, 1000.0, n_grid=25)
    (hollow,) = _labelled(fig.axes[0], NOT_DIFFUSIVE)
    assert isinstance(hollow, PathCollection)
    np.testing.assert_allclose(hollow.get_offsets(), [[2.0, 0.5]])
    face = hollow.get_facecolor()
    assert face.size == 0 or np.all(face[:, 3] == 0.0)  # no fill
    (filled,) = _labelled(fig.axes[0], "diffusive (replica mean)")
    assert len(filled.get_offsets()) == 3
    assert np.all(filled.get_facecolor()[:, 3] > 0)
    # at 2000 K every composition is diffusive: no hollow marker
    assert not _labelled(map_figure(transport, 2000.0, n_grid=25).axes[0], NOT_DIFFUSIVE)


def test_map_gp_std_panel_and_hopping_note(campaign) -> None:
    transport, _, _ = campaign
    fig = map_figure(transport, 1500.0, quantity="D_Na", n_grid=25)
    std_sets = [c for c in fig.axes[1].collections if isinstance(c, ContourSet) and c.filled]
    assert len(std_sets) == 1 and std_sets[0].levels[0] == 0.0
    assert "hopping model (PRL eq 2-4) not drawn" in _texts(fig)
    hop = HoppingInputs(
        weights={(4, 3): 24.0, (3, 3): 9.0, (3, 2): 12.0},
        energies={(4, 3): 0.0, (3, 3): -0.1, (3, 2): -0.1},
        n_atoms={(4, 3): 10.0, (3, 3): 8.0, (3, 2): 6.0},
        n_constraints={(4, 3): 30.0, (3, 3): 22.0, (3, 2): 15.0},
        q_sites={(4, 3): [1.0], (3, 3): [1.0, 2.0], (3, 2): [1.0]},
        e_c=0.0002,
        delta=0.2,
    )
    fig = map_figure(transport, 1500.0, n_grid=25, hopping=hop)
    hop_sets = [c for c in fig.axes[2].collections if isinstance(c, ContourSet) and c.filled]
    assert len(hop_sets) == 1 and "not drawn" not in _texts(fig)


def test_map_degenerate_inputs_fall_back_to_points(campaign) -> None:
    transport, _, _ = campaign
    limits = map_color_limits(transport)
    line = transport[transport["x"] == 0.1]  # two compositions on one line
    fig = map_figure(line, 1500.0, color_limits=limits)
    assert not _mean_contours(fig)
    assert "points only" in _texts(fig)
    (pts,) = _labelled(fig.axes[0], "diffusive (replica mean)")
    assert (pts.norm.vmin, pts.norm.vmax) == limits  # the shared scale is still used
    single = transport[(transport["x"] == 0.1) & (transport["m"] == 2.0)]
    assert "1 composition" in _texts(map_figure(single, 1500.0))
    assert "no diffusive points at T = 300 K" in _texts(map_figure(transport, 300.0))


# --------------------------------------------------------------------------- PRL


def test_prl_transport_figure(campaign) -> None:
    transport, _, _ = campaign
    fig = prl_transport_figure(transport, 0.1)
    for ax in fig.axes:
        (mc,) = [ln for ln in ax.lines if ln.get_label().startswith("$m_c(x)$")]
        assert np.asarray(mc.get_xdata(), dtype=float)[0] == pytest.approx(28.0 / 9.0)
        assert len(ax.containers) == len(TEMPS)  # one curve per temperature
    sigma_lines = [c.lines[0] for c in fig.axes[0].containers]
    y = np.asarray(sigma_lines[0].get_ydata(), dtype=float)
    assert y[1] / y[0] == pytest.approx(3.5 / 2.0, rel=0.2)  # sigma ~ m in the fake data
    # x = 0.5, m = 2 is not diffusive below 2000 K: hollow markers on both panels
    fig = prl_transport_figure(transport, 0.5)
    hollow = [c for c in fig.axes[0].collections if NOT_DIFFUSIVE in str(c.get_label())]
    assert len(hollow) == 2
    for c in hollow:
        np.testing.assert_allclose(np.asarray(c.get_offsets())[:, 0], [2.0])


def test_prl_activation_figure(campaign) -> None:
    _, table, _ = campaign
    fig = prl_activation_figure(table, 0.1)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(r"$E_A$ of $\sigma T$" in t for t in labels)
    e_sigma = table[(table["x"] == 0.1) & (table["quantity"] == "sigmaT")]["E_A_eV"]
    ys = [
        np.asarray(ln.get_ydata(), dtype=float)
        for ln in fig.axes[0].lines
        if ln.get_linestyle() == "-"
    ]
    assert any(np.allclose(y, e_sigma.to_numpy(dtype=float)) for y in ys)
    assert "no Arrhenius fit" in _texts(prl_activation_figure(None, 0.1))


# --------------------------------------------------------------------------- constraints


def test_constraint_figure_stacks_sum_to_counts(campaign) -> None:
    topo = topology_rows()
    fig = constraint_figure(topo)
    ax_nc, ax_df = fig.axes[:2]
    # left: total height of each stacked bar = n_c (MD or ideal) of that composition
    tops = {}
    for p in ax_nc.patches:
        x0 = round(p.get_x() + p.get_width() / 2, 6)
        tops[x0] = tops.get(x0, 0.0) + p.get_height()
    # the ideal (0.2, 3) cell: (1-x)(7+2m) + x = 10.6 constraints on 3.8 atoms (eq 1)
    n_c_ideal = 10.6 / 3.8
    assert any(v == pytest.approx(n_c_ideal) for v in tops.values())
    gap_lines = [ln for ln in ax_df.lines if ln.get_linewidth() == 2.0]
    assert len(gap_lines) == topo.groupby(["x", "m"]).ngroups
    glass_only = topo[topo["stage"] == "glass"]
    assert "no topology rows" in _texts(constraint_figure(glass_only, stage="production"))


# --------------------------------------------------------------------------- files


def test_figures_written(campaign, tmp_path: Path) -> None:
    transport, _, _ = campaign
    _written(plot_conductivity_map(transport, 1000.0, tmp_path / conductivity_map_name(1000.0)))
    _written(plot_constraint_diagnostic(topology_rows(), tmp_path / "c"))  # suffix added


def test_plot_functions_pass_their_arguments(campaign, monkeypatch, tmp_path: Path) -> None:
    """Each plot_* saves the figure its builder makes, at the path it was given."""
    from glassflow.figures import arrhenius, constraints, maps, rigidity

    transport, table, topology = campaign
    saved: list[tuple[Figure, Path]] = []
    for module in (arrhenius, constraints, maps, rigidity):
        monkeypatch.setattr(
            module, "_save", lambda fig, path: saved.append((fig, Path(path))) or path
        )
    arrhenius.plot_arrhenius(transport, table, "D_Na", tmp_path / "1.png")
    rigidity.plot_rigidity_threshold(transport, table, topology, 0.1, tmp_path / "2.png")
    maps.plot_diffusivity_map(transport, 2000.0, tmp_path / "3.png", color_limits=(-6.0, -3.0))
    maps.plot_conductivity_map(transport, 2000.0, tmp_path / "4.png", color_limits=(-5.0, -2.0))
    rigidity.plot_prl_transport_vs_m(transport, 0.5, tmp_path / "5.png")
    rigidity.plot_prl_activation_vs_m(table, 0.5, tmp_path / "6.png")
    constraints.plot_constraint_diagnostic(topology_rows(), tmp_path / "7.png", stage="glass")
    assert [p.name for _, p in saved] == [f"{i}.png" for i in range(1, 8)]
    titles = [fig.axes[0].get_title() for fig, _ in saved]
    assert "D_Na" in titles[0] and "x = 0.10" in titles[1]
    assert "Na diffusivity at T = 2000 K" in titles[2] and "conductivity" in titles[3]
    assert "x = 0.50" in titles[4] and "x = 0.50" in titles[5]
    norms = [c.norm for c in _mean_contours(saved[2][0])] + [
        c.norm for c in _mean_contours(saved[3][0])
    ]
    assert [(n.vmin, n.vmax) for n in norms] == [(-6.0, -3.0), (-5.0, -2.0)]


@pytest.mark.parametrize(
    "build",
    [
        lambda tr, tb: arrhenius_figure(tr, tb, "sigmaT"),
        lambda tr, tb: map_figure(tr, 1500.0, quantity="D_Na", n_grid=25),
        lambda tr, tb: prl_transport_figure(tr, 0.1),
        lambda tr, tb: prl_activation_figure(tb, 0.1),
        lambda tr, tb: prl_transport_figure(tr[(tr["T_K"] < 2e3) & (tr["m"] == 2)], 0.5),
    ],
    ids=["arrhenius", "diffusivity_map", "prl_transport", "prl_activation", "prl_none_diffusive"],
)
def test_figures_draw(campaign, build) -> None:
    """Every figure goes through a full draw (layout, ticks, text) without errors."""
    transport, table, _ = campaign
    fig = build(transport, table)
    fig.draw_without_rendering()
    assert all(ax.get_xlim()[1] > ax.get_xlim()[0] for ax in fig.axes)


def test_fitted_curve_single_and_hinge() -> None:
    single = {"model": "single", "prefactor": 1e-3, "E_A_eV": 0.3}
    T = np.array([1000.0, 2000.0])
    expected = np.log10(1e-3 * np.exp(-0.3 / (K_B_EV_K * T)))
    np.testing.assert_allclose(fitted_log10(single, T), expected)
    hinge = {
        "model": "two-regime", "T_cross_K": 1300.0, "prefactor_high": 1e-3,
        "E_A_high_eV": 0.2, "E_A_low_eV": 0.6, "prefactor": 5e-3, "E_A_eV": 0.4,
    }  # fmt: skip
    u = 1.0 / (K_B_EV_K * np.array([1000.0, 1300.0, 2000.0]))
    y = fitted_log10(hinge, np.array([1000.0, 1300.0, 2000.0])) * np.log(10.0)
    assert y[2] == pytest.approx(np.log(1e-3) - 0.2 * u[2])
    assert y[1] == pytest.approx(np.log(1e-3) - 0.2 * u[1])  # continuous at T_x
    assert (y[0] - y[1]) / (u[0] - u[1]) == pytest.approx(-0.6)
