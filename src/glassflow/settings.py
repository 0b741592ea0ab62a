"""Analysis settings from config mappings: one strict reader for every settings dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def known_settings(cls: type, data: Mapping[str, Any] | None, section: str) -> dict[str, Any]:
    """Copy of ``data`` with lists turned into tuples for tuple-valued defaults.

    Raises ValueError naming every unknown key (``analysis.<section>.<key>``) and the
    known ones, so a typo in the config is caught before any job starts.
    """
    values = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown {section} settings: {', '.join(f'analysis.{section}.{k}' for k in unknown)} "
            f"(known: {', '.join(sorted(fields))})"
        )
    for key, value in values.items():
        if isinstance(fields[key].default, tuple) and isinstance(value, list | tuple):
            values[key] = tuple(float(v) for v in value)
    return values
