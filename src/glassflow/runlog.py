"""Logging for workflow scripts: everything, including tracebacks, goes to the rule's log."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def logged(path: str | Path) -> Iterator[logging.Logger]:
    """Log to ``path`` (appending); an exception is written there before it propagates."""
    log = logging.getLogger("glassflow")
    log.setLevel(logging.INFO)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    try:
        yield log
    except BaseException:
        log.error("failed:\n%s", traceback.format_exc())
        print(f"see log {path}", file=sys.stderr)
        raise
    finally:
        log.removeHandler(handler)
        handler.close()
