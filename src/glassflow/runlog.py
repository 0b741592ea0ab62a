"""Logging for workflow scripts: everything, including tracebacks, goes to the rule's log.

:func:`logged` routes the ``glassflow`` logger of a script to its rule's log;
:func:`note` appends one timestamped line to a job log that an MD engine also writes to
(LAMMPS' stdout), so the engine's own messages and glassflow's interleave in order.
"""

from __future__ import annotations

import logging
import sys
import time
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


def note(log_path: str | Path, message: str, stage: str = "production") -> None:
    """Append a timestamped glassflow line to a job log.

    Parameters
    ----------
    log_path
        The job log (the file the MD engine's stdout goes to).
    message
        One line of text.
    stage
        Stage named in the line (``production``, ``melt-quench``).
    """
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(log_path, "a") as fh:
        fh.write(f"{stamp} glassflow {stage}: {message}\n")
