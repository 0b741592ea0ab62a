"""Buckingham + Coulomb potentials (physics.md §2, eq 1 of Sørensen 2023).

``V_ij(r) = A_ij exp(-r/rho_ij) - C_ij / r^6 + q_i q_j / (4 pi eps0 r)`` in LAMMPS
``real`` units: A in kcal/mol, rho in Å, C in kcal Å^6/mol, charges in e.
Potential files live in ``config/potentials/<name>.yaml``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from glassflow.safety import describe_char, first_unmatched_char

SCHEMA_RESOURCE = "schemas/potential.schema.yaml"


class PotentialFileError(ValueError):
    """A potential file is malformed; the message names the file, the key and what was
    expected (one line per problem)."""


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


@functools.cache
def potential_schema() -> dict[str, Any]:
    """The JSON schema of potential files (package data ``schemas/potential.schema.yaml``)."""
    text = resources.files("glassflow.md").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice (lines {seen[key]} and {line}); expected once",
                    key_node.start_mark,
                )
            if isinstance(key, str | int | float):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_potential_yaml(path: Path) -> Any:
    """Parse a potential file; PotentialFileError with the line of a YAML syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise PotentialFileError(f"{path}: not UTF-8 text ({err})") from err
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as err:
        pm, cm = err.problem_mark, err.context_mark
        where = f"line {pm.line + 1}, column {pm.column + 1}" if pm else "unknown line"
        context = f" ({err.context} at line {cm.line + 1})" if err.context and cm else ""
        raise PotentialFileError(
            f"{path}: YAML syntax error at {where}: {err.problem}{context}"
        ) from err
    except yaml.YAMLError as err:
        raise PotentialFileError(f"{path}: YAML syntax error: {err}") from err


def _key(path: Any, *more: Any) -> str:
    parts = [str(p) for p in (*path, *more)]
    return ".".join(parts) if parts else "(top level)"


def _describe_schema_error(err: jsonschema.ValidationError) -> list[str]:
    """One line per problem: ``key '<dotted.key>': <what is wrong>; expected <what>``."""
    sch = err.schema if isinstance(err.schema, dict) else {}
    expected = sch.get("description", "")
    value = err.instance
    if "propertyNames" in err.relative_schema_path:
        return [
            f"key {_key(err.absolute_path, value)!r}: not a valid key here; expected {expected}"
        ]
    if err.validator == "required":
        props = sch.get("properties", {})
        return [
            f"key {_key(err.absolute_path, k)!r}: missing; expected "
            f"{props.get(k, {}).get('description', 'this key')}"
            for k in err.validator_value
            if isinstance(value, dict) and k not in value
        ]
    if err.validator == "additionalProperties":
        allowed = ", ".join(sch.get("properties", {})) or "none"
        return [
            f"key {_key(err.absolute_path, k)!r}: unknown key; expected only {allowed}"
            for k in value
            if k not in sch.get("properties", {})
        ]
    key = _key(err.absolute_path)
    if err.validator == "type":
        hint = ""
        if isinstance(value, str):
            try:
                float(value)
                hint = " (YAML reads 1e5 as text: write 1.0e5)"
            except ValueError:
                pass
        if value is None:
            return [f"key {key!r}: empty; expected {expected}"]
        return [f"key {key!r}: got {value!r} ({type(value).__name__}); expected {expected}{hint}"]
    if err.validator == "pattern" and isinstance(value, str):
        i = first_unmatched_char(err.validator_value, value)
        at = (
            f" has {describe_char(value[i])} at position {i}"
            if i is not None and i < len(value)
            else ""
        )
        return [f"key {key!r}: {value!r}{at}; expected {expected}"]
    if err.validator == "const":
        return [f"key {key!r}: got {value!r}; expected {expected}"]
    return [f"key {key!r}: got {value!r}; expected {expected}"]


def schema_problems(doc: Any) -> list[str]:
    """Problems of a parsed potential file against its schema, one line each, sorted."""
    validator = jsonschema.Draft202012Validator(potential_schema())
    lines: list[str] = []
    for err in validator.iter_errors(doc):
        lines.extend(_describe_schema_error(err))
    return sorted(dict.fromkeys(lines))


def pair_problems(species: list[str], pair_keys: list[str]) -> list[str]:
    """What a schema cannot check: pairs name defined species, none twice, none missing."""
    problems: list[str] = []
    seen: dict[frozenset[str], str] = {}
    for key in pair_keys:
        a, b = key.split("-")
        undefined = [el for el in (a, b) if el not in species]
        if undefined:
            problems.append(
                f"key 'pairs.{key}': species {', '.join(map(repr, undefined))} not defined; "
                f"expected a pair of the species under 'species' ({', '.join(species)})"
            )
            continue
        pair = frozenset((a, b))
        if pair in seen:
            problems.append(
                f"key 'pairs.{key}': the same pair as 'pairs.{seen[pair]}'; expected each pair once"
            )
        seen.setdefault(pair, key)
    for i, a in enumerate(species):
        for b in species[i:]:
            if frozenset((a, b)) not in seen:
                problems.append(
                    f"key 'pairs.{a}-{b}': missing; expected A, rho, C for every pair of the "
                    f"species {', '.join(species)} (write 0.0 for a term that is absent)"
                )
    return problems


def load_potential(path: str | Path) -> Potential:
    """Read and validate a potential file (schema ``schemas/potential.schema.yaml``).

    Raises FileNotFoundError when it is absent and :class:`PotentialFileError` (a
    ValueError) naming the file, every offending key and what was expected otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"system.potential: potential file {path} does not exist")
    doc = read_potential_yaml(path)
    if doc is None:
        raise PotentialFileError(
            f"{path}: the file is empty; expected {potential_schema()['description']}"
        )
    problems = schema_problems(doc)
    if not problems:
        problems = pair_problems(list(doc["species"]), list(doc["pairs"]))
    if problems:
        raise PotentialFileError(f"{path}: " + "\n  ".join(problems))
    return Potential(
        name=doc["name"],
        citation=doc["citation"],
        charges={el: float(s["charge"]) for el, s in doc["species"].items()},
        masses={el: float(s["mass"]) for el, s in doc["species"].items()},
        pairs={
            frozenset(key.split("-")): PairParameters(float(p["A"]), float(p["rho"]), float(p["C"]))
            for key, p in doc["pairs"].items()
        },
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
