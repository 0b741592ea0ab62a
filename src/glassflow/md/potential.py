"""Force fields as data: potential files, their checks, and their LAMMPS pair lines.

A potential file (``config/potentials/<name>.yaml``, schema
``schemas/potential.schema.yaml``, docs/physics.md §2) gives per-species charges (e) and
masses (g/mol) and one functional form (``style``), in LAMMPS ``real`` units (energies
in kcal/mol, lengths in Å):

- ``buckingham``: ``V_ij(r) = A exp(-r/rho) - C/r^6 + q_i q_j/(4 pi eps0 r)``, eq 1 of
  Sørensen 2023 (``pair_style buck/coul/long``);
- ``born_mayer_huggins``: ``A exp((sigma - r)/rho) - C/r^6 + D/r^8`` + Coulomb
  (``born/coul/long``);
- ``tabulated``: LAMMPS table files beside the potential file + Coulomb
  (``hybrid/overlay table ... coul/long``);
- ``pass_through``: ``pair_style``/``pair_coeff`` lines for a pair style of the site's
  LAMMPS (ML-IAP, ACE, ...), with the files they name, ``charges`` and ``kspace``.

The first three take optional per-pair ``overlay`` terms (Morse, Lennard-Jones) added
through ``pair_style hybrid/overlay``. :func:`load_potential` refuses a bad file naming
the file, every offending key and what was expected; :func:`pair_block` writes the
``pair_style``/``pair_coeff`` lines; :func:`required_pair_styles` says which LAMMPS
styles they need (the preflight checks them against ``lmp -h``).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import yaml

from glassflow.md.pair_table import TableFileError, read_table_section, table_cutoff_problem
from glassflow.safety import LAMMPS_WORD_PATTERN, describe_char, first_unmatched_char

SCHEMA_RESOURCE = "schemas/potential.schema.yaml"

#: kcal/mol per eV: e N_A / (4184 J/kcal), with the exact SI values of e and N_A.
EV_IN_KCAL_MOL = 1.602176634e-19 * 6.02214076e23 / 4184.0
#: Coulomb constant e^2 / (4 pi eps0) in kcal Å / (mol e^2), as LAMMPS units real use it.
COULOMB_KCAL_A_MOL = 332.06371
#: The functional forms of a potential file (key ``style``).
STYLES = ("buckingham", "born_mayer_huggins", "tabulated", "pass_through")
#: LAMMPS pair style of each built-in form's short-range part (with Coulomb for the
#: first two; the tabulated form adds ``coul/long``).
BASE_PAIR_STYLE = {
    "buckingham": "buck/coul/long",
    "born_mayer_huggins": "born/coul/long",
    "tabulated": "table",
}
#: Keys of a potential file that only some styles use.
STYLE_KEYS = {
    "pairs": ("buckingham", "born_mayer_huggins", "tabulated"),
    "overlay": ("buckingham", "born_mayer_huggins", "tabulated"),
    "table": ("tabulated",),
    "pass_through": ("pass_through",),
}
_STYLE_NAME = re.compile(r"^[a-z][a-z0-9_/.+-]*$")
_TYPE_RANGE = re.compile(r"^(\*|[0-9]+|[0-9]*\*[0-9]*)$")
_PLACEHOLDER = re.compile(r"^\{([A-Z][a-z]?|elements)\}$")


class PotentialFileError(ValueError):
    """A potential file is malformed; the message names the file, the key and what was
    expected (one line per problem)."""


# --- parameters of each form, in LAMMPS real units --------------------------------------


@dataclass(frozen=True)
class PairParameters:
    """Buckingham ``A exp(-r/rho) - C/r^6``: A in kcal/mol, rho in Å, C in kcal Å^6/mol."""

    A_kcal_mol: float
    rho_A: float
    C_kcal_A6_mol: float


@dataclass(frozen=True)
class BornMayerHugginsParameters:
    """Born-Mayer-Huggins ``A exp((sigma - r)/rho) - C/r^6 + D/r^8`` (LAMMPS ``born``).

    A in kcal/mol, rho and sigma in Å, C in kcal Å^6/mol, D in kcal Å^8/mol.
    """

    A_kcal_mol: float
    rho_A: float
    sigma_A: float
    C_kcal_A6_mol: float
    D_kcal_A8_mol: float


@dataclass(frozen=True)
class TablePair:
    """One pair's LAMMPS table: the file (absolute), its section and the cutoff (Å)."""

    file: Path
    keyword: str
    cutoff_A: float


@dataclass(frozen=True)
class TableSettings:
    """``pair_style table <interpolation> <points>`` and the default cutoff (Å)."""

    interpolation: str
    points: int
    cutoff_A: float


@dataclass(frozen=True)
class MorseTerm:
    """Morse ``D0 [exp(-2 alpha (r - r0)) - 2 exp(-alpha (r - r0))]``, cut at cutoff_A.

    D0 in kcal/mol, alpha in 1/Å, r0 and the cutoff in Å (LAMMPS ``morse``).
    """

    D0_kcal_mol: float
    alpha_per_A: float
    r0_A: float
    cutoff_A: float
    lammps_style: ClassVar[str] = "morse"
    label: ClassVar[str] = "Morse"

    def coeff_values(self) -> tuple[float, ...]:
        """The numbers of ``pair_coeff i j morse D0 alpha r0 cutoff``."""
        return (self.D0_kcal_mol, self.alpha_per_A, self.r0_A, self.cutoff_A)


@dataclass(frozen=True)
class LennardJonesTerm:
    """Lennard-Jones ``4 epsilon [(sigma/r)^12 - (sigma/r)^6]``, cut at cutoff_A.

    epsilon in kcal/mol, sigma and the cutoff in Å (LAMMPS ``lj/cut``).
    """

    epsilon_kcal_mol: float
    sigma_A: float
    cutoff_A: float
    lammps_style: ClassVar[str] = "lj/cut"
    label: ClassVar[str] = "Lennard-Jones"

    def coeff_values(self) -> tuple[float, ...]:
        """The numbers of ``pair_coeff i j lj/cut epsilon sigma cutoff``."""
        return (self.epsilon_kcal_mol, self.sigma_A, self.cutoff_A)


@dataclass(frozen=True)
class PassThrough:
    """A pair style given as LAMMPS words (``style: pass_through``).

    ``pair_style`` and each ``pair_coeff`` entry are the words after the command;
    ``files`` maps a word of the lines to the absolute file it names; ``charges`` and
    ``kspace`` say whether the input sets the species charges and a kspace style.
    """

    pair_style: tuple[str, ...]
    pair_coeff: tuple[tuple[str, ...], ...]
    files: Mapping[str, Path]
    charges: bool
    kspace: bool

    @property
    def styles(self) -> tuple[str, ...]:
        """The pair style and, for a hybrid style, the sub-styles its pair_coeff lines name."""
        out = [self.pair_style[0]]
        if self.pair_style[0].startswith("hybrid"):
            out += [w[2] for w in self.pair_coeff if len(w) > 2 and w[2] != "none"]
        return tuple(dict.fromkeys(out))


BasePair = PairParameters | BornMayerHugginsParameters | TablePair
OverlayTerm = MorseTerm | LennardJonesTerm


@dataclass(frozen=True)
class Potential:
    """Per-species charges (e) and masses (g/mol) and the pair terms of one form.

    ``pairs`` is the Buckingham table of a ``buckingham`` file without overlay terms
    (what :meth:`pair` returns); for every other file it is empty and the pair terms
    are in ``base_pairs`` (per form), ``overlay``, ``table`` and ``pass_through``.
    """

    name: str
    citation: str
    charges: dict[str, float]
    masses: dict[str, float]
    pairs: dict[frozenset[str], PairParameters]
    style: str = "buckingham"
    base_pairs: Mapping[frozenset[str], BasePair] = field(default_factory=dict)
    overlay: Mapping[frozenset[str], OverlayTerm] = field(default_factory=dict)
    table: TableSettings | None = None
    pass_through: PassThrough | None = None
    source: Path | None = None

    @property
    def is_buckingham_table(self) -> bool:
        """True for a plain Buckingham + Coulomb file (no overlay): the shipped form."""
        return self.style == "buckingham" and not self.overlay

    @property
    def uses_charges(self) -> bool:
        """True when the input sets the species charges (False: every charge is 0)."""
        return self.pass_through is None or self.pass_through.charges

    @property
    def uses_kspace(self) -> bool:
        """True when the input needs ``kspace_style`` (a coul/long term)."""
        return self.pass_through is None or self.pass_through.kspace

    @cached_property
    def files(self) -> dict[str, str]:
        """Absolute path -> SHA-256 of every table or model file the pair lines name
        (hashed once per loaded potential)."""
        paths = [t.file for t in self.base_pairs.values() if isinstance(t, TablePair)]
        if self.pass_through is not None:
            paths += list(self.pass_through.files.values())
        return {str(p): _sha256(p) for p in sorted(set(paths))}

    def pair(self, a: str, b: str) -> PairParameters:
        """Buckingham parameters of the a-b pair; KeyError naming the pair when absent.

        Only a plain Buckingham file has them: the analyses that evaluate
        ``A exp(-r/rho) - C/r^6`` (softness pair energies) cannot describe other forms.
        """
        try:
            return self.pairs[frozenset((a, b))]
        except KeyError:
            if not self.is_buckingham_table:
                form = self.style + (" with overlay terms" if self.overlay else "")
                raise KeyError(
                    f"potential {self.name!r}: pair {a}-{b} has no Buckingham A, rho, C: the "
                    f"file's form is {form}, and only a plain Buckingham table can be read "
                    "as A, rho, C (softness pair energies, analysis parameters)"
                ) from None
            raise KeyError(f"potential {self.name!r}: no parameters for pair {a}-{b}") from None

    def check_species(self, species: tuple[str, ...], source: str = "system") -> None:
        """Raise ValueError naming the element when the potential cannot describe it."""
        for el in species:
            if el not in self.charges:
                raise ValueError(
                    f"{source}: element {el!r} has no parameters in potential {self.name!r} "
                    f"(it defines {sorted(self.charges)})"
                )
        if self.pass_through is not None:
            for words in (self.pass_through.pair_style, *self.pass_through.pair_coeff):
                for w in words:
                    m = _PLACEHOLDER.fullmatch(w)
                    if m and m.group(1) != "elements" and m.group(1) not in species:
                        raise ValueError(
                            f"{source}: potential {self.name!r} names {w} in its pass_through "
                            f"lines, but the system's elements are {', '.join(species)}"
                        )
            return
        defined = self.base_pairs or self.pairs
        for i, a in enumerate(species):
            for b in species[i:]:
                if frozenset((a, b)) not in defined:
                    raise ValueError(
                        f"{source}: pair {a}-{b} has no parameters in potential {self.name!r}"
                    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def pair_problems(
    species: list[str],
    pair_keys: list[str],
    expected: str = "A, rho, C",
    section: str = "pairs",
    complete: bool = True,
) -> list[str]:
    """What a schema cannot check: pairs name defined species, none twice, none missing.

    ``expected`` names the parameters of a pair in the "missing" message; ``complete``
    False (overlay terms) allows pairs to be left out.
    """
    problems: list[str] = []
    seen: dict[frozenset[str], str] = {}
    for key in pair_keys:
        a, b = key.split("-")
        undefined = [el for el in (a, b) if el not in species]
        if undefined:
            problems.append(
                f"key '{section}.{key}': species {', '.join(map(repr, undefined))} not defined; "
                f"expected a pair of the species under 'species' ({', '.join(species)})"
            )
            continue
        pair = frozenset((a, b))
        if pair in seen:
            problems.append(
                f"key '{section}.{key}': the same pair as '{section}.{seen[pair]}'; "
                "expected each pair once"
            )
        seen.setdefault(pair, key)
    if not complete:
        return problems
    for i, a in enumerate(species):
        for b in species[i:]:
            if frozenset((a, b)) not in seen:
                problems.append(
                    f"key '{section}.{a}-{b}': missing; expected {expected} for every pair of "
                    f"the species {', '.join(species)} (write 0.0 for a term that is absent)"
                )
    return problems


#: What each form needs per pair, for the "missing pair" message.
PAIR_PARAMETERS = {
    "buckingham": "A, rho, C",
    "born_mayer_huggins": "A, rho, sigma, C, D",
    "tabulated": "a table (file, keyword)",
}


def style_key_problems(doc: Mapping[str, Any]) -> list[str]:
    """Keys of the file that its style does not use (``table`` without tabulated, ...)."""
    style = doc["style"]
    return [
        f"key '{key}': not used by style {style}; expected it only with style "
        f"{' or '.join(styles)}"
        + (" (write extra terms into the pass_through lines)" if key == "overlay" else "")
        for key, styles in STYLE_KEYS.items()
        if key in doc and style not in styles
    ]


def resolve_beside(potential_path: Path, relative: str, key: str) -> tuple[Path | None, list[str]]:
    """The file ``relative`` names beside the potential file, resolved, or the problems.

    It must stay inside the potential file's directory after resolving symbolic links,
    exist, and its absolute path must be one LAMMPS word (letters, digits, ``_ . / + -``).
    """
    base = potential_path.parent.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        return None, [
            f"key '{key}': {relative!r} resolves to {target}, outside the potential file's "
            f"directory {base}; expected a file inside it"
        ]
    if not target.is_file():
        return None, [f"key '{key}': {relative!r}: no file {target}"]
    if not LAMMPS_WORD_PATTERN.fullmatch(str(target)):
        return None, [
            f"key '{key}': the path {target} is not one LAMMPS word (letters, digits and "
            "_ . / + - only); move the potential directory to such a path"
        ]
    return target, []


def overlay_problems(overlay: Mapping[str, Any], species: list[str]) -> list[str]:
    """Overlay terms: defined pairs, one energy key per term, the cutoff past the well."""
    problems = pair_problems(species, list(overlay), section="overlay", complete=False)
    for key, term in overlay.items():
        form = term["form"]
        energy, length = ("D0", "r0_A") if form == "morse" else ("epsilon", "sigma_A")
        given = [k for k in (f"{energy}_eV", f"{energy}_kcal_mol") if k in term]
        if len(given) != 1:
            got = "both " + " and ".join(given) if given else "no well depth"
            problems.append(
                f"key 'overlay.{key}': {got}; expected exactly one of {energy}_eV, "
                f"{energy}_kcal_mol"
            )
        if term["cutoff_A"] <= term[length]:
            problems.append(
                f"key 'overlay.{key}.cutoff_A': {term['cutoff_A']:g} is not beyond {length} "
                f"{term[length]:g}; expected a cutoff past the well"
            )
    return problems


def table_problems(doc: Mapping[str, Any], path: Path) -> list[str]:
    """Every table file beside ``path``: inside its directory, section present and sound,
    and covering the pair's cutoff (``cutoff_A`` of the pair, else of ``table``)."""
    problems: list[str] = []
    for key, entry in doc["pairs"].items():
        file, found = resolve_beside(path, entry["file"], f"pairs.{key}.file")
        problems += found
        if file is None:
            continue
        try:
            section = read_table_section(file, entry["keyword"])
        except TableFileError as err:
            problems.append(f"key 'pairs.{key}': {err}")
            continue
        cutoff = entry.get("cutoff_A", doc["table"]["cutoff_A"])
        if (why := table_cutoff_problem(section, cutoff)) is not None:
            problems.append(f"key 'pairs.{key}': {why}")
    return problems


def lammps_words_problems(
    words: Sequence[str], key: str, species: Sequence[str], files: Sequence[str], n_types: int
) -> list[str]:
    """Words of a pass-through line: ``n_types`` type ranges first, then plain LAMMPS
    words (no ``*``), placeholders ``{elements}``/``{<El>}`` of defined elements, or
    listed files. Nothing that could start a command, continue a line or expand."""
    problems = []
    for i, w in enumerate(words):
        m = _PLACEHOLDER.fullmatch(w)
        if m:
            if m.group(1) != "elements" and m.group(1) not in species:
                problems.append(
                    f"key '{key}': {w} names an element not under 'species' ({', '.join(species)})"
                )
            continue
        if i < n_types:
            if not _TYPE_RANGE.fullmatch(w):
                problems.append(
                    f"key '{key}': word {i + 1} {w!r} is not a type range; expected '*', "
                    "a type number, 'i*j' or an element placeholder such as '{Na}'"
                )
            continue
        if w in files:
            continue
        if not LAMMPS_WORD_PATTERN.fullmatch(w):
            bad = next(ch for ch in w if not LAMMPS_WORD_PATTERN.fullmatch(ch))
            problems.append(
                f"key '{key}': word {w!r} has {describe_char(bad)}; expected letters, digits and "
                "_ . / + - ('*' only in type ranges, braces only in placeholders)"
            )
    return problems


def pass_through_problems(block: Mapping[str, Any], species: list[str], path: Path) -> list[str]:
    """The pass-through block: safe words, a style name first, files beside the potential
    file, placeholders of defined elements, and kspace only with charges."""
    problems: list[str] = []
    listed = list(block.get("files", []))
    for i, rel in enumerate(listed):
        problems += resolve_beside(path, rel, f"pass_through.files.{i}")[1]
    style_words = block["pair_style"].split()
    if not style_words:
        return [*problems, "key 'pass_through.pair_style': empty; expected a pair style name"]
    if style_words[0] in ("pair_style", "pair_coeff"):
        problems.append(
            f"key 'pass_through.pair_style': starts with the command {style_words[0]!r}; "
            "expected only its arguments, style name first"
        )
    elif not _STYLE_NAME.fullmatch(style_words[0]):
        problems.append(
            f"key 'pass_through.pair_style': {style_words[0]!r} is not a pair style name; "
            "expected lower-case letters, digits and _ / . + -, starting with a letter"
        )
    problems += lammps_words_problems(
        style_words[1:], "pass_through.pair_style", species, listed, 0
    )
    hybrid = style_words[0].startswith("hybrid")
    for i, line in enumerate(block["pair_coeff"]):
        words, key = line.split(), f"pass_through.pair_coeff.{i}"
        if len(words) < 2 + hybrid:
            problems.append(
                f"key '{key}': {line!r}; expected two type ranges"
                + (" and the sub-style" if hybrid else "")
                + " then the style's arguments"
            )
            continue
        if hybrid and not _STYLE_NAME.fullmatch(words[2]):
            problems.append(
                f"key '{key}': {words[2]!r} is not a sub-style name of {style_words[0]}"
            )
        problems += lammps_words_problems(words, key, species, listed, 2)
    if block["kspace"] and not block["charges"]:
        problems.append(
            "key 'pass_through.kspace': true with charges: false; expected charges: true "
            "(a kspace solver sums the Coulomb energy of the charges)"
        )
    return problems


def semantic_problems(doc: Mapping[str, Any], path: Path) -> list[str]:
    """What a schema cannot check, for a file that passed the schema."""
    species = list(doc["species"])
    problems = style_key_problems(doc)
    if problems:
        return problems
    style = doc["style"]
    if style == "pass_through":
        return pass_through_problems(doc["pass_through"], species, path)
    problems = pair_problems(species, list(doc["pairs"]), PAIR_PARAMETERS[style])
    if "overlay" in doc:
        problems += overlay_problems(doc["overlay"], species)
    if style == "tabulated" and not problems:
        problems += table_problems(doc, path)
    return problems


def _energy_kcal_mol(term: Mapping[str, Any], name: str) -> float:
    """``<name>_kcal_mol``, or ``<name>_eV`` converted with :data:`EV_IN_KCAL_MOL`."""
    if f"{name}_kcal_mol" in term:
        return float(term[f"{name}_kcal_mol"])
    return float(term[f"{name}_eV"]) * EV_IN_KCAL_MOL


def overlay_term(term: Mapping[str, Any]) -> OverlayTerm:
    """An overlay entry of a checked file, energies converted to kcal/mol."""
    if term["form"] == "morse":
        return MorseTerm(
            D0_kcal_mol=_energy_kcal_mol(term, "D0"),
            alpha_per_A=float(term["alpha_per_A"]),
            r0_A=float(term["r0_A"]),
            cutoff_A=float(term["cutoff_A"]),
        )
    return LennardJonesTerm(
        epsilon_kcal_mol=_energy_kcal_mol(term, "epsilon"),
        sigma_A=float(term["sigma_A"]),
        cutoff_A=float(term["cutoff_A"]),
    )


def base_pair(style: str, entry: Mapping[str, Any], doc: Mapping[str, Any], path: Path) -> BasePair:
    """One ``pairs`` entry of a checked file as the parameters of its form."""
    if style == "buckingham":
        return PairParameters(float(entry["A"]), float(entry["rho"]), float(entry["C"]))
    if style == "born_mayer_huggins":
        return BornMayerHugginsParameters(
            float(entry["A"]),
            float(entry["rho"]),
            float(entry["sigma"]),
            float(entry["C"]),
            float(entry["D"]),
        )
    return TablePair(
        file=(path.parent.resolve() / entry["file"]).resolve(),
        keyword=entry["keyword"],
        cutoff_A=float(entry.get("cutoff_A", doc["table"]["cutoff_A"])),
    )


def pass_through_block(block: Mapping[str, Any], path: Path) -> PassThrough:
    """The pass-through block of a checked file."""
    return PassThrough(
        pair_style=tuple(block["pair_style"].split()),
        pair_coeff=tuple(tuple(line.split()) for line in block["pair_coeff"]),
        files={rel: (path.parent.resolve() / rel).resolve() for rel in block.get("files", [])},
        charges=bool(block["charges"]),
        kspace=bool(block["kspace"]),
    )


def load_potential(path: str | Path) -> Potential:
    """Read and validate a potential file (schema ``schemas/potential.schema.yaml``).

    Raises FileNotFoundError when it is absent and :class:`PotentialFileError` (a
    ValueError) naming the file, every offending key and what was expected otherwise:
    schema problems first; then pairs (defined species, none twice, none missing),
    overlay terms, table files (inside the file's directory, section present, N rows,
    finite values, increasing r, cutoff covered) and pass-through words.
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
        problems = semantic_problems(doc, path)
    if problems:
        raise PotentialFileError(f"{path}: " + "\n  ".join(problems))
    style = doc["style"]
    base = {
        frozenset(key.split("-")): base_pair(style, entry, doc, path)
        for key, entry in doc.get("pairs", {}).items()
    }
    overlay = {frozenset(k.split("-")): overlay_term(t) for k, t in doc.get("overlay", {}).items()}
    table = doc.get("table")
    return Potential(
        name=doc["name"],
        citation=doc["citation"],
        charges={el: float(s["charge"]) for el, s in doc["species"].items()},
        masses={el: float(s["mass"]) for el, s in doc["species"].items()},
        pairs=dict(base) if style == "buckingham" and not overlay else {},  # type: ignore[arg-type]
        style=style,
        base_pairs=base,
        overlay=overlay,
        table=None
        if table is None
        else TableSettings(table["interpolation"], int(table["points"]), float(table["cutoff_A"])),
        pass_through=None
        if style != "pass_through"
        else pass_through_block(doc["pass_through"], path),
        source=path,
    )


# --- LAMMPS pair lines --------------------------------------------------------------------


def pair_coeff_lines(
    potential: Potential, species: tuple[str, ...], style: str = "buck"
) -> list[str]:
    """LAMMPS ``pair_coeff`` lines of a plain Buckingham file, types in ``species`` order.

    ``buck``: ``A rho C``. ``born`` (Born-Mayer-Huggins, ``A exp((sigma - r)/rho) - C/r^6
    + D/r^8``): ``A rho 0 C 0``, the same energy term for term. Other forms:
    :func:`pair_block`.
    """
    if style not in ("buck", "born"):
        raise ValueError(f"pair style {style!r}: expected 'buck' or 'born'")
    if not potential.is_buckingham_table:
        raise ValueError(
            f"potential {potential.name!r}: pair_coeff_lines writes plain Buckingham tables; "
            f"its form is {potential.style}, use pair_block"
        )
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


@dataclass(frozen=True)
class PairBlock:
    """The pair part of a LAMMPS input: ``pair_style <style_line>``, the pair_coeff lines
    and a one-line description for the comment above them."""

    style_line: str
    coeff_lines: tuple[str, ...]
    description: str


def _num(value: float) -> str:
    """A parameter as LAMMPS reads it back exactly enough (12 significant digits)."""
    return f"{value:.12g}"


def _base_coeff(p: BasePair, sub_style: str) -> str:
    """Arguments of one base pair after ``pair_coeff i j`` (with the sub-style if any)."""
    prefix = f"{sub_style} " if sub_style else ""
    if isinstance(p, PairParameters):  # the shipped form's formatting
        return f"{prefix}{p.A_kcal_mol:.6f} {p.rho_A:.6f} {p.C_kcal_A6_mol:.6f}"
    if isinstance(p, BornMayerHugginsParameters):
        values = (p.A_kcal_mol, p.rho_A, p.sigma_A, p.C_kcal_A6_mol, p.D_kcal_A8_mol)
        return prefix + " ".join(_num(v) for v in values)
    return f"{prefix}{p.file} {p.keyword} {_num(p.cutoff_A)}"


def _substitute(words: Sequence[str], species: Sequence[str], files: Mapping[str, Path]) -> str:
    """Pass-through words with placeholders and listed files filled in."""
    out = []
    for w in words:
        m = _PLACEHOLDER.fullmatch(w)
        if m and m.group(1) == "elements":
            out.append(" ".join(species))
        elif m:
            out.append(str(list(species).index(m.group(1)) + 1))
        elif w in files:
            out.append(str(files[w]))
        else:
            out.append(w)
    return " ".join(out)


def pair_block(potential: Potential, species: tuple[str, ...], cutoff_A: float) -> PairBlock:
    """``pair_style`` and ``pair_coeff`` lines of any form, types numbered in ``species``
    order, the Coulomb (and Buckingham/Born) real-space cutoff ``cutoff_A`` in Å.

    - plain buckingham: ``buck/coul/long rc`` and :func:`pair_coeff_lines`;
    - born_mayer_huggins: ``born/coul/long rc``, ``pair_coeff i j A rho sigma C D``;
    - tabulated: ``hybrid/overlay table <interp> <points> coul/long rc``, one
      ``pair_coeff i j table <file> <keyword> <cutoff>`` per pair and
      ``pair_coeff * * coul/long``;
    - with overlay terms: ``hybrid/overlay <base> morse <rc> lj/cut <rc>``, the base
      lines naming their sub-style and ``pair_coeff i j morse D0 alpha r0 cutoff`` /
      ``pair_coeff i j lj/cut epsilon sigma cutoff`` (each sub-style's global cutoff the
      largest of its pairs');
    - pass_through: the file's words, ``{elements}``/``{El}`` and listed files filled in.
    """
    pt = potential.pass_through
    if pt is not None:
        return PairBlock(
            style_line=_substitute(pt.pair_style, species, pt.files),
            coeff_lines=tuple(
                "pair_coeff " + _substitute(w, species, pt.files) for w in pt.pair_coeff
            ),
            description=f"pass-through pair style {pt.pair_style[0]}",
        )
    return _builtin_pair_block(potential, species, f"{cutoff_A:.4f}")


def _builtin_pair_block(potential: Potential, species: tuple[str, ...], rc: str) -> PairBlock:
    """:func:`pair_block` of the built-in forms, the Coulomb cutoff written as ``rc``."""
    base_style = BASE_PAIR_STYLE[potential.style]
    if potential.style == "tabulated":
        assert potential.table is not None
        base_args = f"table {potential.table.interpolation} {potential.table.points} coul/long {rc}"
        hybrid = True
    else:
        base_args = f"{base_style} {rc}"
        hybrid = bool(potential.overlay)
    pair_types = [
        (i, j, a, b)
        for i, a in enumerate(species, start=1)
        for j, b in enumerate(species[i - 1 :], start=i)
    ]
    lines = [
        f"pair_coeff {i} {j} "
        f"{_base_coeff(potential.base_pairs[frozenset((a, b))], base_style if hybrid else '')}"
        f"  # {a}-{b}"
        for i, j, a, b in pair_types
    ]
    if potential.style == "tabulated":
        lines.append("pair_coeff * * coul/long  # Coulomb of every pair")
    sub_cutoffs: dict[str, float] = {}
    labels = []
    for i, j, a, b in pair_types:
        term = potential.overlay.get(frozenset((a, b)))
        if term is None:
            continue
        style = term.lammps_style
        sub_cutoffs[style] = max(sub_cutoffs.get(style, 0.0), term.cutoff_A)
        values = " ".join(_num(v) for v in term.coeff_values())
        lines.append(f"pair_coeff {i} {j} {style} {values}  # {a}-{b} {term.label} overlay")
        labels.append(f"{a}-{b} {term.label}")
    extra = "".join(f" {style} {_num(c)}" for style, c in sub_cutoffs.items())
    name = {
        "buckingham": "Buckingham + Coulomb",
        "born_mayer_huggins": "Born-Mayer-Huggins + Coulomb",
        "tabulated": "tabulated pairs + Coulomb",
    }[potential.style]
    return PairBlock(
        style_line=("hybrid/overlay " if hybrid else "") + base_args + extra,
        coeff_lines=tuple(lines),
        description=name + (f" + overlay ({', '.join(labels)})" if labels else ""),
    )


@dataclass(frozen=True)
class PairStyles:
    """LAMMPS pair styles a potential's inputs use.

    ``accelerated``: the style that carries the Coulomb part and must exist with the
    accelerator's suffix (None for pass-through styles); ``plain``: further styles
    that must exist as named; ``command``: the ``pair_style`` line that asks for them
    (the Coulomb cutoff written ``<engine.cutoff_A>``); ``kspace``: whether a kspace
    style is needed.
    """

    accelerated: str | None
    plain: tuple[str, ...]
    command: str
    kspace: bool


def required_pair_styles(potential: Potential) -> PairStyles:
    """The pair styles :func:`pair_block` writes for ``potential`` (for the preflight)."""
    pt = potential.pass_through
    if pt is not None:
        return PairStyles(None, pt.styles, "pair_style " + " ".join(pt.pair_style), pt.kspace)
    species = tuple(potential.charges)
    line = _builtin_pair_block(potential, species, "<engine.cutoff_A>").style_line
    if potential.style == "tabulated":
        accelerated, plain = "coul/long", ["hybrid/overlay", "table"]
    else:
        accelerated = BASE_PAIR_STYLE[potential.style]
        plain = ["hybrid/overlay"] if potential.overlay else []
    plain += sorted({t.lammps_style for t in potential.overlay.values()})
    return PairStyles(accelerated, tuple(plain), "pair_style " + line, True)


def buckingham_energy(r_A: float, p: PairParameters) -> float:
    """Short-range Buckingham energy (kcal/mol) at distance r (Å), without Coulomb."""
    return p.A_kcal_mol * math.exp(-r_A / p.rho_A) - p.C_kcal_A6_mol / r_A**6
