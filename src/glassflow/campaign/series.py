"""Composition series of the "against m at fixed x" figures (docs/physics.md §1 and §6).

The rigidity-threshold and PRL figures plot transport against the flexibility index m
at one x, and mark m_c(x) of eq 1. A campaign defines such series in one of two ways:

* a grid: every m at the same requested x is one series;
* explicit atom counts, as the PRL does it: N and the modifier count N_M fixed, m raised
  by lowering N_A (NS9: 200 Na, N = 3000, N_Si = 900 ... 300). Each member then has its
  own x (x = N_M / (N_M + 2 N_A)), so grouping by x would give one point per figure.
  Such compositions form one series named by the x of its member with the smallest m,
  the parent glass (x = 0.10 for NS9, whose m_c = 3.11 is the one the PRL quotes).

:func:`fixed_x_series`: first, compositions with the same x (within 1e-6) and at least
two members; then the remaining compositions that share (N_M, N); every composition
left is a series of its own. Series whose labels (x to two decimals) coincide are
merged, so a label names exactly one figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from glassflow.md.composition import Composition

X_TOL = 1e-6  # as the figures match x (glassflow.figures.common.X_TOL)


@dataclass(frozen=True)
class Series:
    """Compositions plotted together against m; ``x`` is the x the figure is drawn at."""

    x: float
    kind: str  # "fixed x", "fixed modifier count" or "single composition"
    members: tuple[tuple[float, float], ...]  # (x, m) requested, sorted by m

    @property
    def label(self) -> str:
        """Figure label, x to two decimals (the {x} wildcard)."""
        return f"{self.x:.2f}"


def _by_m(comps: Sequence[Composition]) -> tuple[tuple[float, float], ...]:
    return tuple(
        sorted(
            ((float(c.x_requested), float(c.m_requested)) for c in comps),
            key=lambda p: (p[1], p[0]),
        )
    )


def fixed_x_series(compositions: Sequence[Composition]) -> dict[str, Series]:
    """Series of a campaign's compositions, keyed by label (module docstring)."""
    left = sorted(compositions, key=lambda c: (c.x_requested, c.m_requested))
    found: list[Series] = []
    # 1. the same x, at least two members
    groups: list[list[Composition]] = []
    for c in left:
        if groups and abs(groups[-1][0].x_requested - c.x_requested) <= X_TOL:
            groups[-1].append(c)
        else:
            groups.append([c])
    single: list[Composition] = []
    for g in groups:
        if len(g) >= 2:
            found.append(Series(float(g[0].x_requested), "fixed x", _by_m(g)))
        else:
            single += g
    # 2. the same modifier count and cell size (the PRL's m-series)
    by_counts: dict[tuple[int, int], list[Composition]] = {}
    for c in single:
        by_counts.setdefault((c.n_modifier, c.n_atoms), []).append(c)
    for g in by_counts.values():
        members = _by_m(g)
        if len(g) >= 2:
            found.append(Series(members[0][0], "fixed modifier count", members))
        else:
            found.append(Series(members[0][0], "single composition", members))
    # 3. one series per label
    out: dict[str, Series] = {}
    for s in sorted(found, key=lambda s: (s.label, s.members)):
        if s.label in out:
            prev = out[s.label]
            merged = tuple(sorted({*prev.members, *s.members}, key=lambda p: (p[1], p[0])))
            out[s.label] = Series(prev.x, "merged", merged)
        else:
            out[s.label] = s
    return out


def select_series(
    table: pd.DataFrame | None, members: Sequence[Sequence[float]], x: float
) -> pd.DataFrame | None:
    """Rows of ``table`` whose (x, m) is one of ``members`` (within 1e-6), with ``x`` set
    to the series' x, so that a figure drawn "at x" shows the whole series.

    None or a table without x/m columns is returned as it is.
    """
    if table is None or not {"x", "m"} <= set(table.columns) or table.empty:
        return table
    pairs = np.asarray(members, dtype=float).reshape(-1, 2)
    tx = table["x"].to_numpy(dtype=float)[:, None]
    tm = table["m"].to_numpy(dtype=float)[:, None]
    hit = (np.abs(tx - pairs[:, 0]) <= X_TOL) & (np.abs(tm - pairs[:, 1]) <= X_TOL)
    return table[hit.any(axis=1)].assign(x=float(x))
