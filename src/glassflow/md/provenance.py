"""Where a result came from: host, Python and package versions of the job that wrote it.

Recorded in every glass.json and run.json; the MD engine that ran is recorded apart
(``lammps_version`` and ``md_engine``, see :func:`glassflow.md.engines.engine_record`).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from glassflow import __version__ as glassflow_version

#: Distributions whose installed versions every glass.json / run.json records (the LAMMPS
#: that ran is recorded apart, as ``lammps_version``, from its own log).
RECORDED_DISTRIBUTIONS: tuple[str, ...] = ("numpy", "scipy", "pandas", "pyarrow", "snakemake")


def package_versions(
    distributions: Sequence[str] = RECORDED_DISTRIBUTIONS,
) -> dict[str, str | None]:
    """Versions of the Python, of glassflow and of ``distributions`` in this interpreter.

    ``glassflow`` is the version of the package actually imported (``__version__``);
    the others come from the installed distribution metadata (:mod:`importlib.metadata`),
    ``None`` when a distribution is not installed (e.g. no snakemake inside a job's own
    environment).

    Parameters
    ----------
    distributions
        Distribution names to look up.

    Returns
    -------
    dict
        ``{"python": ..., "glassflow": ..., <distribution>: version or None}``.
    """
    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "glassflow": glassflow_version,
    }
    for name in distributions:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance() -> dict[str, Any]:
    """Host, Python and package versions recorded with each run (glass.json, run.json).

    ``versions`` is an output only: no rule params depend on it, so a new numpy or
    glassflow version reruns nothing by itself.

    Returns
    -------
    dict
        ``host``, ``python`` and ``versions`` (:func:`package_versions`).
    """
    return {
        "host": platform.node(),
        "python": platform.python_version(),
        "versions": package_versions(),
    }
