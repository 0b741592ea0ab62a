"""Consecutive production segments joined into one run: frames and thermo tables.

Engine-neutral: works on the finished files of the segments (``trajectory.gtrj``
frames, thermo tables), whatever MD engine wrote them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glassflow.io.trajectory import TrajectoryError, frame_dtype, open_trajectory


def expected_frames(protocol: Mapping[str, Any]) -> int:
    """Frames of a production run: step 0 and every dump interval up to the end.

    Parameters
    ----------
    protocol
        The run's protocol (``production_ps``, ``timestep_fs``, ``dump_interval_fs``).

    Returns
    -------
    int
        The frame count.
    """
    dt = protocol["timestep_fs"]
    n_steps = round(protocol["production_ps"] * 1000.0 / dt)
    every = round(protocol["dump_interval_fs"] / dt)
    return n_steps // every + 1


def stitch_thermo(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Thermo of consecutive segments as one table.

    A segment's first row repeats the step where the previous one ended; the earlier
    (uninterrupted) row is kept.

    Parameters
    ----------
    tables
        The segments' thermo tables, in order.

    Returns
    -------
    pandas.DataFrame
        One row per ``(stage, step)``.
    """
    df = pd.concat(list(tables), ignore_index=True)
    return df.drop_duplicates(subset=["stage", "step"], keep="first").reset_index(drop=True)


def stitch_trajectories(paths: Sequence[str | Path], out: str | Path) -> int:
    """Concatenate the frame files of consecutive segments into ``out`` (atomically).

    Every file's checksums are verified first; the headers (atoms, species, charges,
    masses, timestep, velocities) must be equal and the steps must continue with the
    same spacing. Frame records are copied byte for byte.

    Parameters
    ----------
    paths
        The segments' frame files, in order.
    out
        The run's frame file (written as ``out.part``, then renamed).

    Returns
    -------
    int
        The frame count.

    Raises
    ------
    TrajectoryError
        When the segments are not parts of one run.
    """
    out = Path(out)
    part = out.with_name(out.name + ".part")
    trajs = [open_trajectory(p, verify=True) for p in paths]
    if not trajs:
        raise ValueError("stitch_trajectories needs at least one segment")
    first = trajs[0]
    ref = first.header.to_bytes()
    for t in trajs[1:]:
        if t.header.to_bytes() != ref:
            raise TrajectoryError(f"{t.path}: header differs from {first.path}; not one run")
    steps = np.concatenate([t.steps for t in trajs])
    if steps.size > 1 and np.unique(np.diff(steps)).size != 1:
        raise TrajectoryError(
            f"{[str(p) for p in paths]}: segments do not continue one another "
            "(steps missing, repeated or unevenly spaced)"
        )
    record = frame_dtype(first.n_atoms, first.has_velocities).itemsize
    with open(part, "wb") as dst:
        for i, t in enumerate(trajs):
            size = t.path.stat().st_size
            offset = size - t.n_frames * record  # the header's length
            with open(t.path, "rb") as src:
                src.seek(0 if i == 0 else offset)
                shutil.copyfileobj(src, dst, 1 << 22)
        dst.flush()
        os.fsync(dst.fileno())
    stitched = open_trajectory(part, verify="off")
    if stitched.n_frames != steps.size or not np.array_equal(stitched.steps, steps):
        raise TrajectoryError(f"{part}: stitched frames do not match the segments")
    os.replace(part, out)
    return int(steps.size)
