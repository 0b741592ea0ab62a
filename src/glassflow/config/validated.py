"""Validate the campaign config once per Snakemake process, not in every layer.

The Snakefile validates the config (:func:`glassflow.config.schema.validate_config`:
types coerced, defaults filled) and calls :func:`mark_validated`: a digest of the
validated config and of the schema file goes into the environment variable
:data:`ENV_VAR`. The campaign expansion (``build_campaign(..., validated=True)``) and
every script job (:func:`glassflow.config.rule_params.script_config`; a script runs in
a child process, which inherits the variable) then skip the schema pass when the
config they hold has that digest. Anything else validates as before: a config edited
since, another schema file, a direct API call (``build_campaign`` without
``validated=True``) or a process without the variable. Validating a validated config
again gives the same config, so skipping it changes nothing but the time.

This module imports no validator, so the check costs a hash of the config and of the
schema file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Environment variable holding the digest of the config the Snakefile validated.
ENV_VAR = "GLASSFLOW_VALIDATED_CONFIG"


@functools.lru_cache(maxsize=8)
def _schema_digest(path: str, mtime_ns: int, size: int) -> bytes:
    return hashlib.sha256(Path(path).read_bytes()).digest()


def config_digest(config: Mapping[str, Any], schema_path: str | Path) -> str:
    """SHA-256 of the schema file and of ``config`` as sorted JSON (types kept: ``3000``
    and ``3000.0`` differ, so a config before coercion never matches one after)."""
    p = Path(schema_path).resolve()
    st = p.stat()
    h = hashlib.sha256(_schema_digest(str(p), st.st_mtime_ns, st.st_size))
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=repr)
    h.update(text.encode())
    return h.hexdigest()


def mark_validated(config: Mapping[str, Any], schema_path: str | Path) -> str:
    """Record that ``config`` is the output of ``validate_config`` with ``schema_path``
    (for this process and its children); returns the digest."""
    digest = config_digest(config, schema_path)
    os.environ[ENV_VAR] = digest
    return digest


def is_marked_validated(config: Mapping[str, Any], schema_path: str | Path) -> bool:
    """True when ``config`` is exactly the config marked by :func:`mark_validated` with
    the same schema file contents."""
    marked = os.environ.get(ENV_VAR)
    return bool(marked) and marked == config_digest(config, schema_path)
