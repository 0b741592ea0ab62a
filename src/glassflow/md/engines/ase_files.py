"""Files of the ASE engine: the dynamical state (checkpoints and segment end states), LAMMPS
data files in and out, the thermo table, and cutting a killed run's outputs back to its
last checkpoint.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from glassflow.io.trajectory import (
    frame_dtype,
    open_trajectory,
)

STATE_FILE = "ase_state.json"
CHECKPOINT = "checkpoint.npz"
THERMO_FILE = "thermo.ase.csv"
STATE_FORMAT = 1
#: thermo columns, as the LAMMPS engine's parse_thermo gives them
THERMO_COLUMNS = (
    "stage",
    "step",
    "time_ps",
    "temp_K",
    "pe_kcal_mol",
    "ke_kcal_mol",
    "etotal_kcal_mol",
    "press_atm",
    "vol_A3",
    "cpu_s",
)


@dataclass
class DynamicalState:
    """Everything the continuation of a run depends on.

    Attributes
    ----------
    positions : (N, 3) float64, Å (unwrapped)
    momenta : (N, 3) float64, ASE units (amu Å / ASE time)
    cell : (3, 3) float64, Å
    global_step : int
        Steps done since the start of the job's stage list.
    production_step : int
        Production step of this state (0 before production).
    rng_state : dict
        ``numpy.random.Generator.bit_generator.state`` of the thermostat's generator.
    """

    positions: npt.NDArray[np.float64]
    momenta: npt.NDArray[np.float64]
    cell: npt.NDArray[np.float64]
    global_step: int
    production_step: int
    rng_state: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


def write_state(path: str | Path, state: DynamicalState) -> None:
    """Write a dynamical state (checkpoint or segment end state) atomically (npz)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    doc = {
        "global_step": state.global_step,
        "production_step": state.production_step,
        "rng_state": state.rng_state,
        "meta": state.meta,
        "format": STATE_FORMAT,
    }
    buf = io.BytesIO()
    np.savez(
        buf,
        positions=state.positions,
        momenta=state.momenta,
        cell=state.cell,
        doc=np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8),
    )
    with open(tmp, "wb") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_state(path: str | Path) -> DynamicalState:
    """Read a state written by :func:`write_state`; ValueError if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            doc = json.loads(bytes(z["doc"]).decode())
            if doc.get("format") != STATE_FORMAT:
                raise ValueError(f"{path}: state format {doc.get('format')!r}")
            return DynamicalState(
                positions=np.array(z["positions"], dtype=np.float64),
                momenta=np.array(z["momenta"], dtype=np.float64),
                cell=np.array(z["cell"], dtype=np.float64),
                global_step=int(doc["global_step"]),
                production_step=int(doc["production_step"]),
                rng_state=doc["rng_state"],
                meta=dict(doc.get("meta", {})),
            )
    except (OSError, KeyError, json.JSONDecodeError, UnicodeDecodeError, EOFError) as err:
        raise ValueError(f"{path}: not a glassflow ASE state ({err})") from err
    except ValueError as err:  # numpy's own "not a zip file" and the format check
        raise ValueError(f"{path}: not a glassflow ASE state ({err})") from err


def read_data_atoms(path: str | Path, species: Sequence[str], masses: Mapping[str, float]):
    """ASE Atoms of a LAMMPS data file (atom_style charge, units real), types in
    ``species`` order; velocities are read when the file has them."""
    from ase.data import atomic_numbers
    from ase.io.lammpsdata import read_lammps_data

    z_of_type = {i + 1: atomic_numbers[el] for i, el in enumerate(species)}
    atoms = read_lammps_data(str(path), Z_of_type=z_of_type, units="real", atom_style="charge")
    atoms.set_masses([masses[s] for s in atoms.get_chemical_symbols()])
    return atoms


def write_data_atoms(atoms, path: str | Path, species: Sequence[str]) -> None:
    """Write ``atoms`` (wrapped into the box) as a LAMMPS data file with velocities."""
    from ase.io.lammpsdata import write_lammps_data

    out = atoms.copy()
    out.set_constraint()
    out.wrap()
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w") as fh:
        write_lammps_data(
            fh,
            out,
            specorder=list(species),
            masses=True,
            velocities=True,
            units="real",
            atom_style="charge",
        )
    os.replace(tmp, path)


def read_thermo(path: str | Path) -> pd.DataFrame:
    """Thermo table written by this engine (the columns of the LAMMPS engine's)."""
    df = pd.read_csv(path)
    df = df.drop_duplicates(subset=["stage", "step"], keep="last").reset_index(drop=True)
    return df[list(THERMO_COLUMNS)]


def truncate_thermo(path: Path, last_global: int) -> None:
    if not path.is_file():
        return
    df = pd.read_csv(path)
    df = df[df["global_step"] <= last_global]
    tmp = path.with_name(path.name + ".part")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def truncate_frames(path: Path, n_keep: int, velocities: bool, n_atoms: int) -> None:
    """Keep the first ``n_keep`` frames of a partial trajectory; ValueError if fewer."""
    traj = open_trajectory(path, verify="off")
    if traj.n_frames < n_keep:
        raise ValueError(f"{path.name} holds {traj.n_frames} frames, the checkpoint {n_keep}")
    record = frame_dtype(n_atoms, velocities).itemsize
    header_bytes = path.stat().st_size - traj.n_frames * record
    del traj
    with open(path, "r+b") as fh:
        fh.truncate(header_bytes + n_keep * record)


def state_symbols(meta: Mapping[str, Any], species: Sequence[str]) -> list[str]:
    """Chemical symbols recorded in a state's meta (a state holds no topology file)."""
    symbols = meta.get("symbols")
    if not symbols or any(s not in species for s in symbols):
        raise ValueError(f"state symbols {sorted(set(symbols or []))} vs species {list(species)}")
    return list(symbols)


def previous_state(workdir: Path, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The state document of an earlier attempt with the same key and a checkpoint."""
    path = workdir / STATE_FILE
    if not path.is_file() or not (workdir / CHECKPOINT).is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != STATE_FORMAT
        or doc.get("key") != dict(key)
    ):
        return None
    if doc.get("finished"):
        return None
    return doc
