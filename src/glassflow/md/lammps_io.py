"""Reading LAMMPS output: thermo blocks of a log file and text dumps.

Thermo lines are parsed into a tidy table with one row per thermo line and a
``stage`` column taken from ``print "GLASSFLOW_STAGE <name>"`` markers in the input.
Text dumps (``id type xu yu zu [vx vy vz]``, sorted by id) are streamed frame by
frame into the compact trajectory format (glassflow.io.trajectory).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from glassflow.io.trajectory import TrajectoryHeader, TrajectoryWriter

STAGE_MARK = "GLASSFLOW_STAGE"
_FLOAT = re.compile(r"^[-+0-9.eE]+$")
# LAMMPS real units: velocity in Å/fs
A_PER_FS_TO_A_PER_PS = 1000.0


#: LAMMPS thermo header word -> column name (units real).
THERMO_NAMES = {
    "Time": "time_ps",
    "Temp": "temp_K",
    "PotEng": "pe_kcal_mol",
    "KinEng": "ke_kcal_mol",
    "TotEng": "etotal_kcal_mol",
    "Press": "press_atm",
    "Volume": "vol_A3",
    "Step": "step",
    "CPU": "cpu_s",
    "CPULeft": "cpuremain_s",
}
#: Wall-clock columns: they vary from run to run of the same input, leave them out
#: when comparing the physics of two runs.
TIMING_COLUMNS = ("cpu_s", "cpuremain_s")


def parse_thermo(log_path: str | Path) -> pd.DataFrame:
    """Thermo table of a LAMMPS log: columns from the thermo header, plus ``stage``.

    Column names are lower case with units appended for ``units real``: ``time_ps``,
    ``temp_K``, ``pe_kcal_mol``, ``ke_kcal_mol``, ``etotal_kcal_mol``, ``press_atm``,
    ``vol_A3``; ``step`` stays an integer. The progress columns of the thermo keywords
    ``cpu`` and ``cpuremain`` are ``cpu_s`` (wall-clock seconds since the current
    ``run`` command started) and ``cpuremain_s`` (LAMMPS's estimate of the seconds
    left in that run); they differ between runs of the same input (see
    :data:`TIMING_COLUMNS`). Logs written before these columns existed give a table
    without them.
    """
    units = THERMO_NAMES
    rows: list[list[float]] = []
    stages: list[str] = []
    header: list[str] | None = None
    stage = "setup"
    cols: list[str] | None = None
    with open(log_path, errors="replace") as fh:
        for line in fh:
            if line.startswith(STAGE_MARK):
                stage = line.split()[1]
                continue
            words = line.split()
            if words and words[0] == "Step" and len(words) > 1:
                header = words
                if cols is None:
                    cols = words
                continue
            if header is None:
                continue
            if line.startswith("Loop time") or line.startswith("ERROR"):
                header = None
                continue
            if len(words) == len(header) and all(_FLOAT.match(w) for w in words):
                if header != cols:
                    continue  # only one thermo layout per log is tabulated
                rows.append([float(w) for w in words])
                stages.append(stage)
    if cols is None:
        raise ValueError(f"{log_path}: no thermo output found")
    df = pd.DataFrame(rows, columns=[units.get(c, c.lower()) for c in cols])
    df["step"] = df["step"].astype("int64")
    if "time_ps" in df:
        df["time_ps"] = df["time_ps"] / 1000.0  # LAMMPS real: time in fs
    df.insert(0, "stage", stages)
    # minimisation and restarted runs repeat steps; keep the last occurrence per stage
    return df.drop_duplicates(subset=["stage", "step"], keep="last").reset_index(drop=True)


def parse_thermo_logs(log_paths: list[str | Path]) -> pd.DataFrame:
    """Thermo of a run split over several logs (restarts), in order; later rows win."""
    frames = [parse_thermo(p) for p in log_paths if Path(p).is_file()]
    if not frames:
        raise ValueError(f"no thermo output in {[str(p) for p in log_paths]}")
    df = pd.concat(frames, ignore_index=True)
    # a resumed segment repeats the steps after its restart point: keep its rows
    return df.drop_duplicates(subset=["stage", "step"], keep="last").reset_index(drop=True)


class TruncatedDumpError(ValueError):
    """The last frame of a text dump ends before it is complete (a run killed mid-write)."""


def iter_dump_frames(
    dump_path: str | Path, last_step: int | None = None
) -> Iterator[tuple[int, npt.NDArray[np.float64], list[str], npt.NDArray[np.float64]]]:
    """Yield ``(step, box_A (3,), column names, data (n_atoms, n_cols))`` per frame.

    Parameters
    ----------
    dump_path
        Text dump, frames in increasing step order.
    last_step
        Stop before the first frame whose step is later than this one, without reading
        its atoms (a killed run's dump may end in a half-written frame past the restart
        step a resumed run took over from).

    Raises
    ------
    TruncatedDumpError
        The file ends inside a frame that is to be read.
    ValueError
        A frame is malformed.
    """
    path = Path(dump_path)
    with open(path) as fh:
        frame = 0
        while True:
            line = fh.readline()
            if not line:
                return
            if not line.startswith("ITEM: TIMESTEP"):
                raise ValueError(f"{path}: frame {frame}: expected 'ITEM: TIMESTEP', got {line!r}")
            step_line = fh.readline()
            if not step_line.endswith("\n"):
                raise TruncatedDumpError(f"{path}: frame {frame}: file ends in its time step")
            try:
                step = int(step_line)
            except ValueError as err:
                raise ValueError(f"{path}: frame {frame}: unreadable ({err})") from err
            if last_step is not None and step > last_step:
                return
            # ITEM: NUMBER OF ATOMS, n, ITEM: BOX BOUNDS, three bounds, ITEM: ATOMS <columns>
            header = [fh.readline() for _ in range(7)]
            n_line, bounds_item, cols_line = header[1], header[2], header[6]
            if not header[-1].endswith("\n"):
                raise TruncatedDumpError(f"{path}: frame {frame} (step {step}) is truncated")
            try:
                n = int(n_line)
                if not bounds_item.startswith("ITEM: BOX BOUNDS"):
                    raise ValueError("missing BOX BOUNDS")
                lo_hi = np.array([b.split()[:2] for b in header[3:6]], dtype=float)
                cols = cols_line.split()[2:]
            except (ValueError, IndexError) as err:
                raise ValueError(f"{path}: frame {frame}: unreadable ({err})") from err
            block = [fh.readline() for _ in range(n)]
            if not block or not block[-1].endswith("\n"):
                raise TruncatedDumpError(f"{path}: frame {frame} (step {step}) is truncated")
            try:
                data = np.array(" ".join(block).split(), dtype=np.float64).reshape(n, len(cols))
            except ValueError as err:
                raise ValueError(f"{path}: frame {frame}: unreadable ({err})") from err
            yield step, lo_hi[:, 1] - lo_hi[:, 0], cols, data
            frame += 1


def dump_to_trajectory(
    dump_path: str | Path,
    out_path: str | Path,
    species: tuple[str, ...],
    charges_by_type: npt.ArrayLike,
    masses_by_type: npt.ArrayLike,
    timestep_fs: float,
    append: bool = False,
    min_step: int = -1,
    max_step: int | None = None,
) -> int:
    """Convert a text dump (sorted by id) to a ``.gtrj`` trajectory; returns frames written.

    Frames with ``step <= min_step`` are skipped and reading stops at the first frame
    with ``step > max_step`` (used to stitch dump segments of a restarted run: a killed
    piece may end in a half-written frame after the step its successor starts from).
    Velocities (Å/fs in LAMMPS real units) are stored in Å/ps.
    """
    writer: TrajectoryWriter | None = None
    n_written = 0
    q = np.asarray(charges_by_type, dtype=float)
    mass = np.asarray(masses_by_type, dtype=float)
    try:
        for step, box, cols, data in iter_dump_frames(dump_path, last_step=max_step):
            if step <= min_step:
                continue
            ids = data[:, cols.index("id")].astype(np.int64)
            if np.any(np.diff(ids) <= 0):
                raise ValueError(f"{dump_path}: step {step}: atoms not sorted by id")
            pos = data[:, [cols.index(c) for c in ("xu", "yu", "zu")]]
            has_vel = "vx" in cols
            vel = (
                data[:, [cols.index(c) for c in ("vx", "vy", "vz")]] * A_PER_FS_TO_A_PER_PS
                if has_vel
                else None
            )
            if writer is None:
                types = data[:, cols.index("type")].astype(np.int32) - 1
                header = TrajectoryHeader(
                    species=species,
                    types=types,
                    charges=q[types],
                    masses=mass[types],
                    timestep_fs=timestep_fs,
                    has_velocities=has_vel,
                )
                writer = TrajectoryWriter(out_path, header, append=append)
            t_ps = step * timestep_fs / 1000.0
            writer.write(
                [step],
                [t_ps],
                box[None],
                pos[None],
                None if vel is None else vel[None],
            )
            n_written += 1
    finally:
        if writer is not None:
            writer.close()
    return n_written
