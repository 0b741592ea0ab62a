"""Tests of glassflow.figures.thermo (thermo traces, quench E(T)) and figures.report_tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glassflow.figures.report_tables import display_frame, render_parquet, render_table
from glassflow.figures.thermo import (
    elapsed_time,
    hinge_fit,
    plot_quench_energy,
    plot_thermo,
    quench_energy_figure,
    thermo_figure,
)

T_F = 1200.0
# 1 kcal/mol in eV, from CODATA 2018 (N_A, e exact) and the thermochemical calorie
EV_PER_KCAL_MOL = 4184.0 / (6.02214076e23 * 1.602176634e-19)  # 0.0433641 eV


def fake_thermo(seed: int = 0) -> pd.DataFrame:
    """A melt-quench log as parse_thermo gives it: minimize (steps reset after it), melt,
    quench from 3000 K at 1000 K/ps with a kink of E(T) at T_F, relax."""
    rng = np.random.default_rng(seed)
    rows = []

    def add(stage: str, t: np.ndarray, T: np.ndarray, e: np.ndarray) -> None:
        for a, b, c in zip(t, T, e, strict=True):
            rows.append({"stage": stage, "step": int(round(a * 1000)), "time_ps": a,
                         "temp_K": b, "pe_kcal_mol": c, "ke_kcal_mol": 1.0,
                         "etotal_kcal_mol": c + 1.0, "press_atm": 1e4, "vol_A3": 1e4})  # fmt: skip

    add("minimize", np.arange(5) * 0.001, np.zeros(5), -1e4 - np.arange(5))
    t = np.arange(0.0, 5.0, 0.1)
    add("melt", t, 3000 + rng.normal(0, 50, t.size), -9000 + rng.normal(0, 5, t.size))
    tq = np.arange(5.0, 7.7, 0.02)
    T = 3000.0 - 1000.0 * (tq - 5.0)
    e = -9000 + 0.5 * (T - 3000) - 0.3 * np.minimum(T - T_F, 0.0)
    add("quench", tq, T + rng.normal(0, 20, T.size), e + rng.normal(0, 2, T.size))
    tr = np.arange(0.0, 3.0, 0.1)  # relax restarts its clock (as production does)
    add("relax", tr, 300 + rng.normal(0, 10, tr.size), -10200 + rng.normal(0, 2, tr.size))
    return pd.DataFrame(rows)


def test_elapsed_time_runs_on_across_stages_and_drops_minimisation() -> None:
    df = elapsed_time(fake_thermo())
    assert "minimize" not in set(df["stage"])
    t = df["elapsed_ps"].to_numpy()
    assert np.all(np.diff(t) >= 0)  # no fold-back at the relax clock reset
    relax = df[df["stage"] == "relax"]["elapsed_ps"]
    quench = df[df["stage"] == "quench"]["elapsed_ps"]
    assert relax.iloc[0] == pytest.approx(quench.iloc[-1])
    assert relax.iloc[-1] - relax.iloc[0] == pytest.approx(2.9)
    two = pd.concat([fake_thermo().assign(replica=r) for r in (1, 2)], ignore_index=True)
    per = elapsed_time(two).groupby("replica")["elapsed_ps"].max()
    assert per.loc[1] == pytest.approx(per.loc[2])  # each replica has its own clock


def test_hinge_fit_recovers_the_kink() -> None:
    T = np.linspace(300, 3000, 60)
    e = 1.0 + 0.2 * T + 0.3 * np.maximum(T - T_F, 0.0)
    fit = hinge_fit(T, e, n_grid=541)
    assert fit.T_f_K == pytest.approx(T_F, abs=5.0)
    assert fit.slope_glass == pytest.approx(0.2, rel=1e-2)
    assert fit.slope_liquid == pytest.approx(0.5, rel=1e-2)
    np.testing.assert_allclose(fit(T), e, atol=2.0)
    assert hinge_fit(T[:5], e[:5]) is None
    assert hinge_fit(np.full(10, 300.0), np.arange(10.0)) is None


def test_thermo_figure_shows_every_timed_stage() -> None:
    fig = thermo_figure(fake_thermo(), n_atoms=250)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["melt", "quench", "relax"]
    pe = fig.axes[1].lines[0].get_ydata()
    assert pe[0] == pytest.approx(-9000 * EV_PER_KCAL_MOL / 250, rel=0.01)  # eV/atom
    with pytest.raises(ValueError, match="press_atm"):
        thermo_figure(fake_thermo().drop(columns=["press_atm"]))


def test_quench_energy_figure_marks_the_fictive_temperature() -> None:
    fig = quench_energy_figure(fake_thermo(), n_atoms=250)
    (label,) = [ln.get_label() for ln in fig.axes[0].lines if "T_f" in ln.get_label()]
    t_f = float(label.split("=")[1].split("K")[0])
    assert abs(t_f - T_F) < 100.0  # bins of 50 K on noisy instantaneous T
    straight = fake_thermo()
    q = straight["stage"] == "quench"
    noise = np.random.default_rng(5).normal(0.0, 2.0, int(q.sum()))
    straight.loc[q, "pe_kcal_mol"] = -9000 + 0.5 * (straight.loc[q, "temp_K"] - 3000) + noise
    labels = [ln.get_label() for ln in quench_energy_figure(straight).axes[0].lines]
    assert "one line: no break resolved (AICc)" in labels and not any("T_f" in t for t in labels)
    no_quench = fake_thermo()[lambda d: d["stage"] != "quench"]
    assert "no quench stage" in quench_energy_figure(no_quench).axes[0].texts[0].get_text()


def test_thermo_figures_written(tmp_path: Path) -> None:
    for png, pdf in (
        plot_thermo(fake_thermo(), tmp_path / "thermo.png"),
        plot_quench_energy(fake_thermo(), tmp_path / "quench.png"),
    ):
        assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:5] == b"%PDF-"


def test_report_table_html_and_csv(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "x": [0.33, 0.5, 0.5],
            "E_A_eV": pd.array([0.251234567, None, 1.5e-7], dtype="Float64"),
            "n_points": pd.array([3, None, 2], dtype="Int64"),
            "reason": ["ok", "<b>bad</b>", None],
            "few_temperatures": [False, False, True],
        }
    )
    shown = display_frame(df)
    assert shown["E_A_eV"].tolist() == ["0.2512", "\u2014", "1.5e-07"]
    assert shown["n_points"].tolist() == ["3", "\u2014", "2"]
    assert shown["reason"].tolist()[2] == "\u2014"
    page, csv = render_table(df, tmp_path / "t.html", tmp_path / "t.csv", max_rows=2)
    text = page.read_text()
    assert "&lt;b&gt;bad&lt;/b&gt;" in text and "<b>bad</b>" not in text  # escaped
    assert "3 rows" in text and "first 2 rows" in text and text.count("<tr>") == 2
    back = pd.read_csv(csv)
    assert len(back) == 3 and back["E_A_eV"].iloc[0] == pytest.approx(0.251234567)
    df.to_parquet(tmp_path / "arrhenius.parquet")
    (only,) = render_parquet(tmp_path / "arrhenius.parquet", tmp_path / "a.html")
    assert "<h1>arrhenius</h1>" in only.read_text()
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        render_parquet(tmp_path / "nope.parquet", tmp_path / "b.html")
