"""Energy and forces of one configuration with the campaign's classical potential (LAMMPS).

The input is the MD inputs' own force-field block (``common.lmp.j2``: units real, charges,
pair style, k-space) followed by ``run 0`` and a force dump, so the numbers are those the
MD runs integrate.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from glassflow.md.lammps import _ENV, Engine, lammps_command, run_lammps
from glassflow.md.lammps_io import parse_thermo

INPUT = "in.single_point.lmp"


def read_force_dump(path: str | Path) -> npt.NDArray[np.float64]:
    """Forces (N, 3), in atom-id order, of a ``write_dump ... id type fx fy fz`` file."""
    lines = Path(path).read_text().splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS")) + 1
    except StopIteration:
        raise ValueError(f"{path}: no ITEM: ATOMS section") from None
    n = int(lines[lines.index("ITEM: NUMBER OF ATOMS") + 1])
    rows = np.array([line.split() for line in lines[start : start + n]], dtype=np.float64)
    if rows.shape != (n, 5):
        raise ValueError(f"{path}: expected {n} rows of id type fx fy fz")
    return rows[np.argsort(rows[:, 0]), 2:5]


def lammps_single_point(
    data_file: str | Path,
    context: Mapping[str, Any],
    engine: Engine,
    workdir: str | Path,
    stdout_log: str | Path,
) -> tuple[float, npt.NDArray[np.float64]]:
    """Potential energy and forces of ``data_file`` with the potential of ``context``.

    Parameters
    ----------
    data_file : path
        LAMMPS data file (atom_style charge).
    context : mapping
        The force-field template context of the composition (the MD rules' ``force_field``
        param: species, masses, charges, pair block, cutoff, k-space).
    engine : Engine
        How LAMMPS is launched.
    workdir : path
        Directory for the input, log and dump (created).

    Returns
    -------
    energy : float, kcal/mol
    forces : (N, 3) float64, kcal/(mol Å), atoms in id order
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data_file, workdir / "config.data")  # a plain name for the input
    ctx = dict(
        context,
        data_file="config.data",
        rerun_command=" ".join(lammps_command(engine, INPUT, resolve=False)),
    )
    (workdir / INPUT).write_text(_ENV.get_template("single_point.lmp.j2").render(**ctx))
    (workdir / "forces.dump").unlink(missing_ok=True)
    run_lammps(lammps_command(engine, INPUT), workdir, stdout_log, threads=engine.threads)
    thermo = parse_thermo(workdir / "log.lammps")
    return float(thermo["pe_kcal_mol"].iloc[-1]), read_force_dump(workdir / "forces.dump")
