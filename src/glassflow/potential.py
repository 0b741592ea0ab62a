"""Buckingham + Coulomb potentials (physics.md §2, eq 1 of Sørensen 2023).

``V_ij(r) = A_ij exp(-r/rho_ij) - C_ij / r^6 + q_i q_j / (4 pi eps0 r)`` in LAMMPS
``real`` units: A in kcal/mol, rho in Å, C in kcal Å^6/mol, charges in e.
Potential files live in ``config/potentials/<name>.yaml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from glassflow.safety import check_element


@dataclass(frozen=True)
class PairParameters:
    A_kcal_mol: float
    rho_A: float
    C_kcal_A6_mol: float


@dataclass(frozen=True)
class Potential:
    """Per-species charges (e) and masses (g/mol), per-pair Buckingham parameters."""

    name: str
    citation: str
    charges: dict[str, float]
    masses: dict[str, float]
    pairs: dict[frozenset[str], PairParameters]

    def pair(self, a: str, b: str) -> PairParameters:
        """Parameters of the a-b pair; KeyError naming the pair when absent."""
        try:
            return self.pairs[frozenset((a, b))]
        except KeyError:
            raise KeyError(f"potential {self.name!r}: no parameters for pair {a}-{b}") from None

    def check_species(self, species: tuple[str, ...], source: str = "system") -> None:
        """Raise ValueError naming the element when the potential cannot describe it."""
        for el in species:
            if el not in self.charges:
                raise ValueError(
                    f"{source}: element {el!r} has no parameters in potential {self.name!r} "
                    f"(it defines {sorted(self.charges)})"
                )
        for i, a in enumerate(species):
            for b in species[i:]:
                if frozenset((a, b)) not in self.pairs:
                    raise ValueError(
                        f"{source}: pair {a}-{b} has no parameters in potential {self.name!r}"
                    )


def load_potential(path: str | Path) -> Potential:
    """Read and check a potential YAML file (see config/potentials/sorensen2023.yaml)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"system.potential: potential file {path} does not exist")
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping with keys species and pairs")
    for key in ("name", "species", "pairs"):
        if key not in doc:
            raise ValueError(f"{path}: missing key {key!r}")
    charges: dict[str, float] = {}
    masses: dict[str, float] = {}
    for el, spec in doc["species"].items():
        check_element(el, f"{path}: species")
        try:
            charges[el] = float(spec["charge"])
            masses[el] = float(spec["mass"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: species.{el} needs numeric 'charge' and 'mass'") from err
        if masses[el] <= 0:
            raise ValueError(f"{path}: species.{el}.mass must be > 0, got {masses[el]}")
    pairs: dict[frozenset[str], PairParameters] = {}
    for key, spec in doc["pairs"].items():
        parts = str(key).split("-")
        if len(parts) != 2 or any(p not in charges for p in parts):
            raise ValueError(f"{path}: pair {key!r} must be 'A-B' with both species defined")
        try:
            par = PairParameters(float(spec["A"]), float(spec["rho"]), float(spec["C"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: pairs.{key} needs numeric A, rho, C") from err
        if par.A_kcal_mol < 0 or par.rho_A <= 0 or par.C_kcal_A6_mol < 0:
            raise ValueError(f"{path}: pairs.{key}: need A >= 0, rho > 0, C >= 0")
        pairs[frozenset(parts)] = par
    return Potential(
        name=str(doc["name"]),
        citation=str(doc.get("citation", "")).strip(),
        charges=charges,
        masses=masses,
        pairs=pairs,
    )


def pair_coeff_lines(
    potential: Potential, species: tuple[str, ...], style: str = "buck"
) -> list[str]:
    """LAMMPS ``pair_coeff`` lines for types numbered in ``species`` order.

    ``buck``: ``A rho C``. ``born`` (Born-Mayer-Huggins, ``A exp((sigma - r)/rho) - C/r^6
    + D/r^8``): ``A rho 0 C 0``, the same energy term for term.
    """
    if style not in ("buck", "born"):
        raise ValueError(f"pair style {style!r}: expected 'buck' or 'born'")
    lines = []
    for i, a in enumerate(species, start=1):
        for j, b in enumerate(species[i - 1 :], start=i):
            p = potential.pair(a, b)
            sigma = " 0.0" if style == "born" else ""
            d = " 0.0" if style == "born" else ""
            lines.append(
                f"pair_coeff {i} {j} {p.A_kcal_mol:.6f} {p.rho_A:.6f}{sigma} "
                f"{p.C_kcal_A6_mol:.6f}{d}  # {a}-{b}"
            )
    return lines


def buckingham_energy(r_A: float, p: PairParameters) -> float:
    """Short-range Buckingham energy (kcal/mol) at distance r (Å), without Coulomb."""
    return p.A_kcal_mol * math.exp(-r_A / p.rho_A) - p.C_kcal_A6_mol / r_A**6
