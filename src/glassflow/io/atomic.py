"""Atomic writes: every output is written to ``<name>.part`` and renamed.

The rename is atomic on POSIX, so a job killed half way never leaves a file that looks
complete (Snakemake would otherwise take it for a finished output).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def write_json_atomic(path: str | Path, doc: Mapping[str, Any]) -> None:
    """Write JSON via a temporary file and rename (atomic on POSIX)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def write_parquet_atomic(df, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
