"""A bonding well for one pair of a Coulomb + short-range potential (docs/physics.md §2).

A pair of like-charged ions (S–S with q = −1.2 e in the Sørensen set) repels at a bond
distance: Buckingham and Coulomb together are some +20 eV at 2.1 Å. A Morse term
overlaid on the pair (``overlay`` in the potential file) can still make a bond there,
but only a deep and narrow one: the Morse force has a largest value α D0 / 2, which must
exceed the repulsive force of the base terms at the bond distance. These functions give
the bare pair curve V(r) = V_base(r) + k_e q_a q_b / r + V_overlay(r) and place a Morse
term so that V has its minimum at a chosen bond length (eq 2c of docs/physics.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from glassflow.md.potential import (
    COULOMB_KCAL_A_MOL,
    EV_IN_KCAL_MOL,
    BornMayerHugginsParameters,
    LennardJonesTerm,
    MorseTerm,
    PairParameters,
    Potential,
)


def _terms(potential: Potential, a: str, b: str) -> tuple[Any, Any]:
    key = frozenset((a, b))
    base = potential.base_pairs.get(key)
    if not isinstance(base, PairParameters | BornMayerHugginsParameters):
        raise ValueError(
            f"potential {potential.name!r}: pair {a}-{b} has no analytic base term "
            f"(form {potential.style!r}); a bonding well can be placed on Buckingham or "
            "Born-Mayer-Huggins pairs only"
        )
    return base, potential.overlay.get(key)


def _base_energy_slope(
    base: Any, r: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if isinstance(base, PairParameters):
        rep = base.A_kcal_mol * np.exp(-r / base.rho_A)
        e = rep - base.C_kcal_A6_mol / r**6
        de = -rep / base.rho_A + 6.0 * base.C_kcal_A6_mol / r**7
        return e, de
    rep = base.A_kcal_mol * np.exp((base.sigma_A - r) / base.rho_A)
    e = rep - base.C_kcal_A6_mol / r**6 + base.D_kcal_A8_mol / r**8
    de = -rep / base.rho_A + 6.0 * base.C_kcal_A6_mol / r**7 - 8.0 * base.D_kcal_A8_mol / r**9
    return e, de


def morse_energy_slope(
    r_A: npt.ArrayLike, D0: float, alpha_per_A: float, r0_A: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Morse energy and its derivative, ``D0 [exp(−2α(r−r0)) − 2 exp(−α(r−r0))]``.

    Parameters
    ----------
    r_A : (n,) float, Å
        Distances.
    D0 : float
        Well depth, in the energy unit of the result.
    alpha_per_A : float, 1/Å
    r0_A : float, Å
        Position of the well.

    Returns
    -------
    energy, slope : (n,) float
        V(r) and dV/dr (energy unit of D0, per Å for the slope).
    """
    r = np.asarray(r_A, dtype=np.float64)
    u = np.exp(-alpha_per_A * (r - r0_A))
    return D0 * (u * u - 2.0 * u), 2.0 * alpha_per_A * D0 * (u - u * u)


def pair_energy(
    potential: Potential, a: str, b: str, q_a: float, q_b: float, r_A: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Bare pair energy of two ions and its derivative (no cutoff, no environment).

    V(r) = V_base(r) + k_e q_a q_b / r + V_overlay(r), the base term Buckingham or
    Born–Mayer–Huggins and the overlay (if any) Morse or Lennard-Jones (docs/physics.md
    §2, eq 2c).

    Parameters
    ----------
    potential : Potential
        A potential file with analytic base pairs.
    a, b : str
        The two elements.
    q_a, q_b : float, e
        Their charges as used in the run (after the campaign's neutrality policy).
    r_A : (n,) float, Å
        Distances.

    Returns
    -------
    energy : (n,) float, kcal/mol
    slope : (n,) float, kcal/(mol Å)
    """
    r = np.asarray(r_A, dtype=np.float64)
    base, extra = _terms(potential, a, b)
    e, de = _base_energy_slope(base, r)
    kq = COULOMB_KCAL_A_MOL * q_a * q_b
    e = e + kq / r
    de = de - kq / r**2
    if isinstance(extra, MorseTerm):
        em, dem = morse_energy_slope(r, extra.D0_kcal_mol, extra.alpha_per_A, extra.r0_A)
        e, de = e + em, de + dem
    elif isinstance(extra, LennardJonesTerm):
        sr6 = (extra.sigma_A / r) ** 6
        e = e + 4.0 * extra.epsilon_kcal_mol * (sr6 * sr6 - sr6)
        de = de - 24.0 * extra.epsilon_kcal_mol * (2.0 * sr6 * sr6 - sr6) / r
    return e, de


def morse_r0_for_bond(
    potential: Potential,
    a: str,
    b: str,
    q_a: float,
    q_b: float,
    r_bond_A: float,
    D0_kcal_mol: float,
    alpha_per_A: float,
) -> float:
    """Position r0 of a Morse term that puts the minimum of the pair curve at r_bond.

    The overlay of the pair (if any) is replaced by the new Morse term. With the slope
    S = dV/dr of the base and Coulomb terms at r_bond, the Morse slope must be −S there:
    2 α D0 (u − u²) = −S with u = exp(−α (r_bond − r0)). Of the two roots, the one
    nearer the Morse minimum (u > 1/2) is taken; it makes the curvature positive
    (docs/physics.md §2, eq 2c).

    Parameters
    ----------
    potential : Potential
    a, b : str
    q_a, q_b : float, e
    r_bond_A : float, Å
        Wanted bond length (minimum of the bare pair curve).
    D0_kcal_mol : float, kcal/mol
        Morse well depth.
    alpha_per_A : float, 1/Å
        Morse width parameter.

    Returns
    -------
    float, Å
        r0 of the Morse term.

    Raises
    ------
    ValueError
        When the Morse force cannot balance the repulsion: α D0 / 2 < −S (the message
        gives the smallest D0 that can).
    """
    base, _ = _terms(potential, a, b)
    r = np.array([r_bond_A])
    _, de = _base_energy_slope(base, r)
    slope = float(de[0]) - COULOMB_KCAL_A_MOL * q_a * q_b / r_bond_A**2
    s = -slope / (2.0 * alpha_per_A * D0_kcal_mol)
    if s > 0.25:
        need = -slope * 2.0 / alpha_per_A
        raise ValueError(
            f"{a}-{b}: a Morse term with D0 = {D0_kcal_mol / EV_IN_KCAL_MOL:.2f} eV and "
            f"alpha = {alpha_per_A} 1/A cannot hold a bond at {r_bond_A} A against the "
            f"repulsion of the base and Coulomb terms ({-slope / EV_IN_KCAL_MOL:.1f} eV/A); "
            f"D0 must be at least {need / EV_IN_KCAL_MOL:.2f} eV at this alpha"
        )
    u = 0.5 * (1.0 + math.sqrt(max(0.0, 1.0 - 4.0 * s)))
    return r_bond_A + math.log(u) / alpha_per_A


def with_morse_overlay(
    doc: Mapping[str, Any],
    pair: str,
    D0_eV: float,
    alpha_per_A: float,
    r0_A: float,
    cutoff_A: float,
    name: str,
    citation: str,
) -> dict[str, Any]:
    """A potential file (as a mapping) with a Morse overlay on ``pair``, other keys kept.

    Parameters
    ----------
    doc : mapping
        The base potential file as read from YAML.
    pair : str
        ``"S-S"``-style pair key.
    D0_eV : float, eV
    alpha_per_A : float, 1/Å
    r0_A, cutoff_A : float, Å
    name, citation : str
        Of the new file.

    Returns
    -------
    dict
        The new file's content (write it with ``yaml.safe_dump``).
    """
    out = {k: v for k, v in doc.items() if k not in ("name", "citation", "overlay")}
    overlay = dict(doc.get("overlay", {}))
    overlay[pair] = {
        "form": "morse",
        "D0_eV": round(float(D0_eV), 6),
        "alpha_per_A": round(float(alpha_per_A), 6),
        "r0_A": round(float(r0_A), 6),
        "cutoff_A": float(cutoff_A),
    }
    return {"name": name, "citation": citation, **out, "overlay": overlay}
