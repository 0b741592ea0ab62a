"""Tests of glassflow.figures_campaign: files are written, also for degraded campaigns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glassflow.arrhenius import KB_EV_K, arrhenius_table
from glassflow.figures_campaign import (
    PALETTE,
    arrhenius_figure_name,
    conductivity_map_name,
    fitted_log10,
    plot_arrhenius,
    plot_conductivity_map,
    plot_rigidity_threshold,
    rigidity_figure_name,
)

TEMPS = (1000.0, 1500.0, 2000.0)


def tiny_campaign(seed: int = 0, n_rep: int = 2) -> pd.DataFrame:
    """2 x * 2 m * 3 T transport summary; S is never diffusive, x=0.5 m=2 only at 2000 K."""
    rng = np.random.default_rng(seed)
    rows = []
    for x in (0.1, 0.5):
        for m in (2.0, 3.5):
            for T in TEMPS:
                for rep in range(1, n_rep + 1):
                    noise = np.exp(rng.normal(0.0, 0.05))
                    d_na = 1e-3 * m * np.exp(-0.3 / (KB_EV_K * T)) * noise
                    sigma = 20.0 * x * m * np.exp(-0.4 / (KB_EV_K * T)) / T * noise
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
    for p in (png, pdf):
        assert p.is_file() and p.stat().st_size > 1000


def test_palette_and_names() -> None:
    assert len(PALETTE) == len(set(PALETTE)) == 8
    assert arrhenius_figure_name("D_Na") == "arrhenius_D_Na.png"
    assert rigidity_figure_name(0.1) == "rigidity_threshold_x0.10.png"
    assert conductivity_map_name(1500.0) == "conductivity_map_T1500.png"


@pytest.mark.parametrize("quantity", ["D_Na", "D_Si", "D_S", "sigmaT"])
def test_arrhenius_figures(campaign, tmp_path: Path, quantity: str) -> None:
    transport, table, _ = campaign
    _written(plot_arrhenius(transport, table, quantity, tmp_path / arrhenius_figure_name(quantity)))


def test_arrhenius_figure_degraded(campaign, tmp_path: Path) -> None:
    transport, _, _ = campaign
    none = transport.assign(diffusive=pd.array([False] * len(transport), dtype="boolean"))
    _written(plot_arrhenius(none, None, "D_Na", tmp_path / "a.png"))
    _written(plot_arrhenius(transport, None, "sigmaT", tmp_path / "b.png"))  # no fits
    with pytest.raises(ValueError, match="quantity"):
        plot_arrhenius(transport, None, "D_K", tmp_path / "c.png")


@pytest.mark.parametrize("x", [0.1, 0.5])
def test_rigidity_threshold(campaign, tmp_path: Path, x: float) -> None:
    transport, table, topology = campaign
    path = tmp_path / rigidity_figure_name(x)
    _written(plot_rigidity_threshold(transport, table, topology, x, path))


def test_rigidity_threshold_degraded(campaign, tmp_path: Path) -> None:
    transport, table, _ = campaign
    _written(plot_rigidity_threshold(transport, None, None, 0.1, tmp_path / "no_fit.png"))
    _written(plot_rigidity_threshold(transport, table, None, 0.2, tmp_path / "no_x.png"))
    empty = transport.iloc[0:0]
    _written(plot_rigidity_threshold(empty, table.iloc[0:0], None, 0.1, tmp_path / "empty.png"))


@pytest.mark.parametrize("T", TEMPS)
def test_conductivity_map(campaign, tmp_path: Path, T: float) -> None:
    transport, _, _ = campaign
    _written(plot_conductivity_map(transport, T, tmp_path / conductivity_map_name(T)))


def test_conductivity_map_degraded(campaign, tmp_path: Path) -> None:
    transport, _, _ = campaign
    _written(plot_conductivity_map(transport, 300.0, tmp_path / "none.png"))  # no such T
    line = transport[transport["x"] == 0.1]  # two collinear compositions -> scatter
    _written(plot_conductivity_map(line, 1500.0, tmp_path / "line.png"))
    single = transport[(transport["x"] == 0.1) & (transport["m"] == 2.0)]
    _written(plot_conductivity_map(single, 1500.0, tmp_path / "single.png"))


def test_fitted_curve_single_and_hinge() -> None:
    single = {"model": "single", "prefactor": 1e-3, "E_A_eV": 0.3}
    T = np.array([1000.0, 2000.0])
    expected = np.log10(1e-3 * np.exp(-0.3 / (KB_EV_K * T)))
    np.testing.assert_allclose(fitted_log10(single, T), expected)
    hinge = {
        "model": "two-regime", "T_cross_K": 1300.0, "prefactor_high": 1e-3,
        "E_A_high_eV": 0.2, "E_A_low_eV": 0.6, "prefactor": 5e-3, "E_A_eV": 0.4,
    }  # fmt: skip
    u = 1.0 / (KB_EV_K * np.array([1000.0, 1300.0, 2000.0]))
    y = fitted_log10(hinge, np.array([1000.0, 1300.0, 2000.0])) * np.log(10.0)
    assert y[2] == pytest.approx(np.log(1e-3) - 0.2 * u[2])
    assert y[1] == pytest.approx(np.log(1e-3) - 0.2 * u[1])  # continuous at T_x
    assert (y[0] - y[1]) / (u[0] - u[1]) == pytest.approx(-0.6)
