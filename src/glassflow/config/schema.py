"""Campaign configuration: schema validation with defaults and one-line error messages.

``validate_config`` coerces values to the schema's types (``2.0`` -> 2 where an integer
is meant, ``"true"`` -> True from ``snakemake --config``), fills defaults and rejects bad
input with one short line per problem: the key, the bad value, what was expected, and
the closest valid key for a typo (at most ``MAX_MESSAGES`` lines, the rest counted).
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml


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
