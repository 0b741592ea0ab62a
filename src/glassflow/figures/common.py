"""Shared look of the campaign figures: palette, markers, PNG + PDF output, "no data" notes.

Colours: Okabe-Ito (colourblind safe). Each figure is written as PNG and PDF (same
stem). Missing data never raise: the affected panel carries a "no diffusive points" note
instead. Figures are built on ``matplotlib.figure.Figure`` directly (Agg canvas, no
pyplot state), so the figure modules are safe in headless workers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: Okabe-Ito colourblind-safe palette, ordered for lines on white (yellow last).
PALETTE: tuple[str, ...] = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#F0E442",
)
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
X_TOL = 1e-6  # composition x matching tolerance
T_TOL_K = 0.5  # temperature matching tolerance, K
NO_DATA = "no diffusive points"
NOT_DIFFUSIVE = "not diffusive"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _save(fig: Figure, path_png: str | Path) -> tuple[Path, Path]:
    png = Path(path_png)
    if png.suffix.lower() != ".png":
        png = png.with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    pdf = png.with_suffix(".pdf")
    fig.savefig(png, dpi=150)
    fig.savefig(pdf)
    return png, pdf


def _no_data(ax: Axes, text: str = NO_DATA) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=11,
        color="0.3",
        bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        zorder=10,
    )


def _num(v: object) -> float:
    """Float from a possibly-<NA> cell (NaN when missing)."""
    try:
        return float("nan") if v is None or pd.isna(v) else float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
