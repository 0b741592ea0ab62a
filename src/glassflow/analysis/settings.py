"""Analysis settings from config mappings: one strict reader for every settings dataclass."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def known_settings(cls: type, data: Mapping[str, Any] | None, section: str) -> dict[str, Any]:
    """Copy of ``data`` with lists turned into tuples for tuple-valued defaults.

    Raises ValueError naming every unknown key (``analysis.<section>.<key>``, with the
    closest known one) and the known ones, so a typo in the config is caught before any
    job starts. Integral floats of integer fields become ints (``60.0`` -> 60); other
    floats there raise ValueError naming the key.
    """
    values = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown {section} settings: {', '.join(_named(section, k, fields) for k in unknown)} "
            f"(known: {', '.join(sorted(fields))})"
        )
    for key, value in values.items():
        if isinstance(fields[key].default, tuple) and isinstance(value, list | tuple):
            values[key] = tuple(float(v) for v in value)
        elif str(fields[key].type) == "int" and isinstance(value, float):
            if not value.is_integer():
                raise ValueError(
                    f"analysis.{section}.{key}: {value!r} is not a whole number; "
                    "expected an integer"
                )
            values[key] = int(value)
    return values


def _named(section: str, key: str, known: Iterable[str]) -> str:
    """'analysis.<section>.<key>', with the closest known key for a typo."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean analysis.{section}.{close[0]}?)" if close else ""
    return f"analysis.{section}.{key}{hint}"
