"""Campaign configuration: schema validation with defaults, semantic checks, the grid.

``validate_config`` coerces values to the schema's types (``2.0`` -> 2 where an integer
is meant, ``"true"`` -> True from ``snakemake --config``), fills defaults and rejects bad
input with one short line per problem: the key, the bad value, what was expected, and
the closest valid key for a typo (at most ``MAX_MESSAGES`` lines, the rest counted).
``build_campaign`` expands the grid (compositions x temperatures x replicas) and checks
what the schema cannot (cell long enough for the cutoff, potential covers the elements,
N large enough, and the analysis settings against the campaign:
:mod:`glassflow.config_checks`).
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from glassflow.cell import cell_length_for_density, density_for_cell_length
from glassflow.composition import (
    Composition,
    composition_from_counts,
    counts_from_xm,
    net_charge,
    neutralised_charges,
)
from glassflow.config_checks import analysis_problems, run_facts
from glassflow.lammps import engine_problems
from glassflow.potential import Potential, load_potential
from glassflow.safety import check_command, check_element, check_name, check_results_dir
from glassflow.segments import segment_problems


class ConfigError(ValueError):
    """Invalid campaign configuration; the message names the key."""


#: At most this many problems are listed in one error; the rest are counted.
MAX_MESSAGES = 10


def _extend_with_default(validator_class):
    validate_props = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultValidator = _extend_with_default(jsonschema.Draft202012Validator)


@functools.lru_cache(maxsize=8)
def _read_schema(path: str, mtime_ns: int) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster
    return yaml.load(Path(path).read_text(), Loader=loader)


def load_schema(path: str | Path) -> dict[str, Any]:
    """The JSON schema (YAML) at ``path``; read once per file version, a fresh copy each call."""
    p = Path(path).resolve()
    return copy.deepcopy(_read_schema(str(p), p.stat().st_mtime_ns))


def config_error(problems: list[str], limit: int = MAX_MESSAGES) -> ConfigError:
    """One ConfigError listing at most ``limit`` problems and counting the others."""
    lines = problems[:limit]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    head = "invalid configuration" + (f" ({len(problems)} problems)" if len(problems) > 1 else "")
    return ConfigError(head + ":\n  " + "\n  ".join(lines))


# --------------------------------------------------------------------------------------
# schema-driven coercion (YAML floats and `--config` strings)
# --------------------------------------------------------------------------------------
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "false": False}
_NULLS = ("null", "none", "~")


def _types(schema: Mapping[str, Any]) -> set[str]:
    t = schema.get("type", ())
    return {t} if isinstance(t, str) else set(t)


def _coerce_scalar(value: Any, types: set[str]) -> Any:
    """``value`` converted to the schema type where that loses nothing, else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        low = text.lower()
        if "boolean" in types and low in _BOOLEANS:
            return _BOOLEANS[low]
        if "null" in types and low in _NULLS:
            return None
        if types & {"integer", "number"}:
            if _INTEGER.fullmatch(text):
                return int(text)
            try:
                number = float(text)
            except ValueError:
                return value
            return int(number) if "number" not in types and number.is_integer() else number
        return value
    if isinstance(value, float) and "integer" in types and "number" not in types:
        return int(value) if value.is_integer() else value
    if isinstance(value, int | float) and types == {"string"}:
        return str(value)
    return value


def coerce_to_schema(value: Any, schema: Mapping[str, Any]) -> Any:
    """Copy of ``value`` with scalars converted to the type the schema asks for.

    Walks ``properties``, ``additionalProperties`` and ``items``. Where the schema says
    integer, an integral float (``2.0``) or an integer string (``"2"``) becomes an int;
    where it says number, a numeric string becomes a number; where it says boolean, the
    strings true/false (any case) become booleans; where it says null, "null" becomes
    None. ``snakemake --config`` passes nested values as strings, YAML writes ``60.0``
    for 60: both then mean what the user meant. A value that cannot be converted
    without loss (``2.5`` for an integer) is left for the validator to report.
    """
    types = _types(schema)
    if isinstance(value, Mapping):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, Mapping) else None
        out = {}
        for key, item in value.items():
            sub = props.get(key, extra)
            out[key] = coerce_to_schema(item, sub) if sub is not None else copy.deepcopy(item)
        return out
    if isinstance(value, list | tuple):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [coerce_to_schema(v, items) for v in value]
        return copy.deepcopy(list(value))
    if "array" in types and value is not None and isinstance(schema.get("items"), Mapping):
        # `--config temperatures_K=1600`: a single value where a list is expected
        return [coerce_to_schema(value, schema["items"])]
    return _coerce_scalar(value, types)


# --------------------------------------------------------------------------------------
# one short line per schema violation
# --------------------------------------------------------------------------------------
def key_path(parts: Iterable[Any]) -> str:
    """'analysis.dynamics.gk_window_ps' / 'temperatures_K[0]' from a JSON path."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _show(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 4] + " ..."


_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "string": "a string",
    "array": "a list",
    "object": "a mapping (key: value)",
    "null": "null",
}


def _bounds(schema: Mapping[str, Any]) -> list[str]:
    out = []
    for key, op in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            out.append(f"{op} {schema[key]:g}")
    return out


def _list_words(schema: Mapping[str, Any]) -> str:
    items = schema.get("items")
    each = expectation(items) if isinstance(items, Mapping) and items else "any value"
    n_min, n_max = schema.get("minItems"), schema.get("maxItems")
    unique = "distinct " if schema.get("uniqueItems") else ""
    if n_min is not None and n_min == n_max:
        return f"a list of {n_min} {unique}values, each {each}"
    return f"{'a non-empty' if n_min else 'a'} list of {unique}values, each {each}"


def expectation(schema: Mapping[str, Any]) -> str:
    """What a key accepts, in words: 'an integer >= 1', 'one of rate, three_stage'."""
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    types = _types(schema)
    if "number" in types:
        types.discard("integer")
    order = ("integer", "number", "boolean", "string", "object")
    words = [_TYPE_WORDS[t] for t in order if t in types]
    bounds = _bounds(schema)
    if words and bounds:
        words[0] += " " + " and ".join(bounds)
    if "array" in types:
        words.append(_list_words(schema))
    if "pattern" in schema:
        pattern = f"matching {schema['pattern']}"
        if "string" in types:
            words[words.index("a string")] += " " + pattern
        else:
            words.append(pattern)
    if "null" in types:
        words.append("null")
    return " or ".join(words) if words else "a valid value"


def _unknown_key_message(
    path: list[Any], key: str, known: Iterable[str], root: Mapping[str, Any]
) -> str:
    full = key_path([*path, key])
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"config key '{full}': unknown key; did you mean '{key_path([*path, close[0]])}'?"
    elsewhere = [p for p in schema_key_paths(root) if p.rsplit(".", 1)[-1] == key]
    if elsewhere:
        return f"config key '{full}': unknown here; it belongs under '{elsewhere[0]}'"
    listed = ", ".join(known) if len(known) <= 20 else ", ".join(known[:20]) + ", ..."
    return f"config key '{full}': unknown key (known keys here: {listed})"


def schema_key_paths(schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every documented config key, as dotted paths ('protocol.quench.mode', ...)."""
    out = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out.append(path)
        if isinstance(sub, Mapping):
            out.extend(schema_key_paths(sub, path))
    return out


def schema_messages(error: jsonschema.ValidationError, root: Mapping[str, Any]) -> list[str]:
    """Short messages (key, bad value, what was expected) for one schema violation."""
    path = list(error.absolute_path)
    key = key_path(path) or "(top level)"
    sub, value, kind = error.schema, error.instance, error.validator
    if kind == "additionalProperties" and isinstance(value, Mapping):
        known = set(sub.get("properties", {}))
        return [_unknown_key_message(path, k, known, root) for k in value if k not in known]
    if kind == "required":
        props = sub.get("properties", {})
        missing = [r for r in error.validator_value if r not in value]
        return [
            f"config key '{key_path([*path, m])}': missing; expected "
            + expectation(props.get(m, {}))
            for m in missing
        ]
    if kind == "type" and isinstance(value, float) and "integer" in _types(sub):
        return [f"config key '{key}': {value!r} is not a whole number; expected {expectation(sub)}"]
    if kind in ("type", "enum", "pattern", "uniqueItems", "minItems", "maxItems") or kind in (
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minProperties",
    ):
        return [f"config key '{key}': got {_show(value)}; expected {expectation(sub)}"]
    return [f"config key '{key}': {_show(error.message, 200)}"]


def validate_config(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Copy of ``config`` coerced to the schema types, with defaults filled.

    Raises :class:`ConfigError` with one short line per problem (key, bad value, what
    was expected; the closest valid key for a typo), at most ``MAX_MESSAGES`` of them.
    """
    schema = load_schema(schema_path)
    cfg = coerce_to_schema(config, schema)
    validator = _DefaultValidator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: [str(p) for p in e.absolute_path])
    problems: list[str] = []
    for e in errors:
        for msg in schema_messages(e, schema):
            if msg not in problems:
                problems.append(msg)
    if problems:
        raise config_error(problems)
    return cfg


def derive_seed(base: int, *parts: object) -> int:
    """Deterministic LAMMPS seed in [1, 2^31 - 2] from a base seed and key parts."""
    digest = hashlib.sha256(":".join([str(base), *map(str, parts)]).encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**31 - 2) + 1


def replica_label(replica: int) -> str:
    return f"rep{replica:02d}"


def temperature_label(T_K: int) -> str:
    return f"T{T_K:d}"


@dataclass(frozen=True)
class CompositionRun:
    """One composition of a campaign with its cell and the charges used."""

    composition: Composition
    box_A: float
    density_g_cm3: float
    charges_used: dict[str, float]
    net_charge_e: float  # with the potential's own charges

    @property
    def label(self) -> str:
        return self.composition.label


@dataclass
class Campaign:
    """The expanded grid: compositions x temperatures x replicas, plus the config."""

    name: str
    config: dict[str, Any]
    potential: Potential
    compositions: dict[str, CompositionRun] = field(default_factory=dict)
    temperatures_K: list[int] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)

    @property
    def results(self) -> Path:
        return Path(self.config["results_dir"]) / self.name

    def seed(self, label: str, replica: int) -> int:
        """Seed of one (composition, replica): same inputs give the same glass."""
        return derive_seed(self.config["seed"], label, replica)

    def runs(self) -> list[tuple[str, int, int]]:
        """All production runs as (composition label, T_K, replica)."""
        return [
            (c, t, r) for c in self.compositions for t in self.temperatures_K for r in self.replicas
        ]


def _resolve_compositions(cfg: dict[str, Any]) -> list[Composition]:
    sysc = cfg["system"]
    elements = (sysc["modifier"], sysc["former"], sysc["anion"])
    comps: list[Composition] = []
    grid = cfg["compositions"].get("grid")
    n_atoms = cfg["compositions"]["n_atoms"]
    if grid:
        for x in grid["x"]:
            if not 0.0 <= x < 1.0:
                raise ConfigError(f"config key 'compositions.grid.x': {x} is outside [0, 1)")
        for m in grid["m"]:
            if m < 2.0:
                raise ConfigError(f"config key 'compositions.grid.m': {m} is below 2 (SiS2)")
        for x in grid["x"]:
            for m in grid["m"]:
                try:
                    comps.append(counts_from_xm(x, m, n_atoms, *elements))
                except ValueError as err:
                    raise ConfigError(f"config key 'compositions.n_atoms': {err}") from err
    for i, counts in enumerate(cfg["compositions"]["explicit"]):
        try:
            comp = composition_from_counts(counts, *elements)
        except ValueError as err:
            raise ConfigError(f"config key 'compositions.explicit[{i}]': {err}") from err
        if comp.m_requested < 2.0 - 1e-9:
            raise ConfigError(
                f"config key 'compositions.explicit[{i}]': counts {counts} give m = "
                f"{comp.m_requested:.3f}, below 2"
            )
        comps.append(comp)
    if not comps:
        raise ConfigError("config key 'compositions': give a grid (x, m) or explicit counts")
    labels = [c.label for c in comps]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise ConfigError(
            f"config key 'compositions': compositions collide on the labels {dupes} "
            "(x and m are rounded to two decimals)"
        )
    return comps


def build_campaign(
    config: dict[str, Any], schema_path: str | Path, root: str | Path = "."
) -> Campaign:
    """Validate ``config`` and expand it into a :class:`Campaign` (no expensive work)."""
    cfg = validate_config(config, schema_path)
    root = Path(root)
    name = _checked(check_name, cfg["campaign"], "campaign")
    _checked(check_results_dir, cfg["results_dir"], "results_dir")
    sysc = cfg["system"]
    for key in ("modifier", "former", "anion"):
        _checked(check_element, sysc[key], f"system.{key}")
    _checked(check_name, sysc["potential"], "system.potential")
    _checked(check_command, cfg["engine"]["command"], "engine.command")
    if problems := engine_problems(cfg["engine"]):
        raise ConfigError("\n".join(problems))
    pot_path = root / sysc["potential_dir"] / f"{sysc['potential']}.yaml"
    try:
        potential = load_potential(pot_path)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"config key 'system.potential': {err}") from err
    species = (sysc["modifier"], sysc["former"], sysc["anion"])
    try:
        potential.check_species(species, "config key 'system'")
    except ValueError as err:
        raise ConfigError(str(err)) from err

    camp = Campaign(name=name, config=cfg, potential=potential)
    cell = cfg["cell"]
    cutoff = cfg["engine"]["cutoff_A"]
    for comp in _resolve_compositions(cfg):
        if cell["mode"] == "density":
            box = cell_length_for_density(comp.counts, potential.masses, cell["density_g_cm3"])
            key = "cell.density_g_cm3"
        else:
            if "length_A" not in cell:
                raise ConfigError("config key 'cell.length_A': required when cell.mode is length")
            box = float(cell["length_A"])
            key = "cell.length_A"
        if box < 2.0 * cutoff:
            raise ConfigError(
                f"config key '{key}': composition {comp.label} gives a cell of {box:.3f} A, "
                f"shorter than twice engine.cutoff_A ({2 * cutoff:.3f} A); use more atoms, "
                "a lower density or a shorter cutoff"
            )
        charges = neutralised_charges(
            comp.counts, potential.charges, comp.anion, sysc["neutrality"]
        )
        camp.compositions[comp.label] = CompositionRun(
            composition=comp,
            box_A=box,
            density_g_cm3=density_for_cell_length(comp.counts, potential.masses, box),
            charges_used=charges,
            net_charge_e=net_charge(comp.counts, potential.charges),
        )
    camp.temperatures_K = sorted(int(t) for t in cfg["temperatures_K"])
    camp.replicas = list(range(1, cfg["replicas"] + 1))
    _check_protocol(cfg)
    cells = {label: cr.box_A for label, cr in camp.compositions.items()}
    problems = analysis_problems(cfg, run_facts(cfg, cells), load_schema(schema_path))
    if problems:
        raise config_error(problems)
    return camp


def _checked(fn, value, key):
    try:
        return fn(value, f"config key '{key}'")
    except ValueError as err:
        raise ConfigError(str(err)) from err


def _check_protocol(cfg: dict[str, Any]) -> None:
    p = cfg["protocol"]
    dt = p["timestep_fs"]
    for key in ("dump_interval_fs", "restart_interval_fs", "thermo_interval_fs"):
        steps = p[key] / dt
        if abs(steps - round(steps)) > 1e-9:
            raise ConfigError(
                f"config key 'protocol.{key}': {p[key]} fs is not a whole number of "
                f"timesteps ({dt} fs)"
            )
    if p["production_ps"] * 1000.0 < 2 * p["dump_interval_fs"]:
        raise ConfigError(
            "config key 'protocol.production_ps': production must hold at least two frames "
            f"(dump_interval_fs = {p['dump_interval_fs']})"
        )
    sysc = cfg["system"]
    if problems := segment_problems(p, (sysc["modifier"], sysc["former"], sysc["anion"])):
        raise config_error(problems)
    q = p["quench"]
    if q["mode"] == "three_stage" and not (
        p["melt_T_K"] > q["slow_from_K"] > q["slow_to_K"] >= p["relax_T_K"]
    ):
        raise ConfigError(
            "config key 'protocol.quench': three_stage needs melt_T_K > slow_from_K > "
            "slow_to_K >= relax_T_K"
        )
    if p["melt_T_K"] <= p["relax_T_K"]:
        raise ConfigError("config key 'protocol.melt_T_K': must be above protocol.relax_T_K")
    eng = cfg["engine"]
    if eng["accelerator"] in ("gpu", "kokkos") and eng["gpus"] < 1 and eng["accelerator"] == "gpu":
        raise ConfigError("config key 'engine.gpus': accelerator gpu needs gpus >= 1")
