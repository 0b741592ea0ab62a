"""Compositions of the family x M2Y - (1-x) A Y_m (physics.md §1) and their charges (§2).

Per formula unit ``M_{2x} A_{1-x} Y_{m(1-x)+x}``: ``1 + 2x + m(1-x)`` atoms. Integer
atom counts never hit (x, m) exactly, so the achieved values are computed back from
the counts: ``x = (N_M/2) / (N_M/2 + N_A)`` and ``m = (N_Y - N_M/2) / N_A``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

NeutralityPolicy = Literal["scale_anion", "background"]
NEUTRALITY_POLICIES: tuple[str, ...] = ("scale_anion", "background")


@dataclass(frozen=True)
class Composition:
    """Integer atom counts of one cell with the requested and achieved (x, m).

    ``modifier`` (M), ``former`` (A) and ``anion`` (Y) are element symbols.
    """

    modifier: str
    former: str
    anion: str
    n_modifier: int
    n_former: int
    n_anion: int
    x_requested: float
    m_requested: float

    @property
    def n_atoms(self) -> int:
        return self.n_modifier + self.n_former + self.n_anion

    @property
    def counts(self) -> dict[str, int]:
        """Atom counts by element, in LAMMPS type order (modifier, former, anion)."""
        return {
            self.modifier: self.n_modifier,
            self.former: self.n_former,
            self.anion: self.n_anion,
        }

    @property
    def species(self) -> tuple[str, str, str]:
        """Element symbols in LAMMPS type order (type 1, 2, 3)."""
        return (self.modifier, self.former, self.anion)

    @property
    def x_achieved(self) -> float:
        return achieved_x(self.n_modifier, self.n_former)

    @property
    def m_achieved(self) -> float:
        return achieved_m(self.n_modifier, self.n_former, self.n_anion)

    @property
    def label(self) -> str:
        """Directory label ``x0.10_m3.00`` from the requested (x, m)."""
        return composition_label(self.x_requested, self.m_requested)


def composition_label(x: float, m: float) -> str:
    """Fixed-width, readable label of a composition, e.g. ``x0.10_m3.00``."""
    return f"x{x:.2f}_m{m:.2f}"


def atoms_per_formula_unit(x: float, m: float) -> float:
    """Atoms in one formula unit ``M_{2x} A_{1-x} Y_{m(1-x)+x}`` (physics.md §1)."""
    return 1.0 + 2.0 * x + m * (1.0 - x)


def achieved_x(n_modifier: int, n_former: int) -> float:
    """Modifier fraction x from counts: ``(N_M/2) / (N_M/2 + N_A)``."""
    units_m = n_modifier / 2.0
    return units_m / (units_m + n_former)


def achieved_m(n_modifier: int, n_former: int, n_anion: int) -> float:
    """Former chalcogen ratio m from counts: ``(N_Y - N_M/2) / N_A``."""
    if n_former == 0:
        raise ValueError("m is undefined without former atoms (N_A = 0)")
    return (n_anion - n_modifier / 2.0) / n_former


def counts_from_xm(
    x: float, m: float, n_target: int, modifier: str = "Na", former: str = "Si", anion: str = "S"
) -> Composition:
    """Integer counts closest to (x, m) with about ``n_target`` atoms (physics.md §1).

    Counts are built from whole M2Y units and A atoms: with
    ``n = n_target / (1 + 2x + m(1-x))`` formula units, ``N_A = round((1-x) n)``,
    ``n_M2Y = round(x n)``, ``N_M = 2 n_M2Y`` and ``N_Y = n_M2Y + round(m N_A)``. So m = 2
    cells are always charge neutral and the achieved m is as close as N_A allows.
    NS (0.5, 2) at 3000 gives 1000/500/1500; NS9 (0.1, 2) gives 200/900/1900.
    """
    if not 0.0 <= x < 1.0:
        raise ValueError(f"compositions.x: {x} is outside the allowed range [0, 1)")
    if m < 2.0:
        raise ValueError(f"compositions.m: {m} is below the allowed minimum 2")
    n_units = n_target / atoms_per_formula_unit(x, m)
    n_former = _round_half_up((1.0 - x) * n_units)
    n_m2y = _round_half_up(x * n_units)
    n_modifier = 2 * n_m2y
    n_anion = n_m2y + _round_half_up(m * n_former)
    if n_former < 1 or (x > 0 and n_modifier < 1):
        raise ValueError(
            f"compositions.n_atoms: {n_target} atoms is too small to hold x={x}, m={m} "
            f"(got N_{modifier}={n_modifier}, N_{former}={n_former})"
        )
    return Composition(modifier, former, anion, n_modifier, n_former, n_anion, x, m)


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def composition_from_counts(
    counts: dict[str, int], modifier: str = "Na", former: str = "Si", anion: str = "S"
) -> Composition:
    """Composition from explicit counts (e.g. the PRL's NS9 series); requested = achieved."""
    for el in (modifier, former, anion):
        if el not in counts:
            raise ValueError(f"compositions.counts: element {el!r} missing (got {sorted(counts)})")
        if int(counts[el]) < 0:
            raise ValueError(f"compositions.counts.{el}: must be >= 0, got {counts[el]}")
    extra = set(counts) - {modifier, former, anion}
    if extra:
        raise ValueError(
            f"compositions.counts: unknown element(s) {sorted(extra)}; "
            f"expected {modifier}, {former}, {anion}"
        )
    n_m, n_a, n_y = int(counts[modifier]), int(counts[former]), int(counts[anion])
    if n_a < 1:
        raise ValueError(f"compositions.counts.{former}: need at least one former atom")
    x = achieved_x(n_m, n_a)
    m = achieved_m(n_m, n_a, n_y)
    return Composition(modifier, former, anion, n_m, n_a, n_y, round(x, 6), round(m, 6))


def net_charge(counts: dict[str, int], charges: dict[str, float]) -> float:
    """Net charge of the cell in e: ``sum_k N_k q_k`` (physics.md §2)."""
    return float(sum(n * charges[el] for el, n in counts.items()))


def neutralised_charges(
    counts: dict[str, int], charges: dict[str, float], anion: str, policy: NeutralityPolicy
) -> dict[str, float]:
    """Charges used in the run under a neutrality policy (physics.md §2).

    - ``scale_anion`` (default): rescale the anion charge so that the net charge is zero,
      ``q_Y = -(sum_{k != Y} N_k q_k) / N_Y``; for m = 2 the potential's charges are kept.
    - ``background``: keep the potential's charges; the Ewald/PPPM solver adds a uniform
      neutralising background (LAMMPS warns); the net charge is recorded.
    """
    if policy not in NEUTRALITY_POLICIES:
        raise ValueError(
            f"system.neutrality: unknown policy {policy!r}; expected one of {NEUTRALITY_POLICIES}"
        )
    used = dict(charges)
    if policy == "scale_anion" and abs(net_charge(counts, charges)) > 1e-9 and counts[anion] > 0:
        others = sum(n * charges[el] for el, n in counts.items() if el != anion)
        used[anion] = -others / counts[anion]
    return used
