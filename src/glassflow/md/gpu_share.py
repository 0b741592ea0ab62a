"""Sharing the GPUs of a packed allocation between the runs inside it.

Slurm hands a packed job its GPUs (``CUDA_VISIBLE_DEVICES``); each run started inside
it claims one slot of one device with an exclusive ``flock`` on a lock file in a
directory private to the allocation, holds it while LAMMPS runs and gives it back by
closing it (also when the run is killed: the kernel drops the lock). Slots are handed
out round-robin over the devices, so two runs on two GPUs use both.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from glassflow.md.packing import RUNS_PER_GPU_ENV


def device_slots(devices: Sequence[str], runs_per_gpu: int) -> list[tuple[str, int]]:
    """The (device, slot) pairs of an allocation in the order runs claim them.

    Parameters
    ----------
    devices : sequence of str
        The visible GPUs (``CUDA_VISIBLE_DEVICES`` split at commas).
    runs_per_gpu : int
        Runs one GPU takes (>= 1).

    Returns
    -------
    list of (str, int)
        Round-robin over devices: slot 0 of every device first, then slot 1, ...
    """
    return [(d, s) for s in range(runs_per_gpu) for d in devices]


def visible_devices(environ: Mapping[str, str]) -> list[str]:
    """GPUs Slurm gave the job (``CUDA_VISIBLE_DEVICES``; empty without)."""
    value = environ.get("CUDA_VISIBLE_DEVICES", "")
    return [d.strip() for d in value.split(",") if d.strip() and d.strip() != "NoDevFiles"]


def lock_dir(environ: Mapping[str, str]) -> Path:
    """Node-local directory of the allocation's slot locks."""
    job = environ.get("SLURM_JOB_ID", "nojob")
    base = environ.get("TMPDIR") or tempfile.gettempdir()
    return Path(base) / f"glassflow-gpu-{job}"


@contextmanager
def claimed_gpu(
    devices: Sequence[str], runs_per_gpu: int, directory: str | Path
) -> Iterator[tuple[str, int]]:
    """Hold one free GPU slot for the duration of the ``with`` block.

    Parameters
    ----------
    devices : sequence of str
        The allocation's GPUs.
    runs_per_gpu : int
        Slots per GPU.
    directory : path
        Where the slot lock files live (created).

    Yields
    ------
    (str, int)
        The device and the slot taken.

    Raises
    ------
    RuntimeError
        When every slot is taken: more runs started than the allocation was sized for.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for device, slot in device_slots(devices, runs_per_gpu):
        fd = os.open(directory / f"gpu{device}.slot{slot}", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield device, slot
        finally:
            os.close(fd)
        return
    raise RuntimeError(
        f"all {len(devices) * runs_per_gpu} GPU slots of this allocation are taken "
        f"({len(devices)} GPUs x {runs_per_gpu} runs, {directory}): more runs started "
        "than the packed job was sized for"
    )


@contextmanager
def gpu_share(environ: dict[str, str], say=None) -> Iterator[dict[str, str]]:
    """``environ`` with ``CUDA_VISIBLE_DEVICES`` narrowed to one claimed GPU, in a packed
    allocation (``GLASSFLOW_RUNS_PER_GPU`` set and GPUs visible); unchanged otherwise.

    Parameters
    ----------
    environ : dict
        The environment the run would start with.
    say : callable, optional
        Called with one line naming the device and slot taken.

    Yields
    ------
    dict
        The environment to start LAMMPS with.
    """
    per_gpu = int(environ.get(RUNS_PER_GPU_ENV, "0") or 0)
    devices = visible_devices(environ)
    if per_gpu < 1 or not devices:
        yield environ
        return
    with claimed_gpu(devices, per_gpu, lock_dir(environ)) as (device, slot):
        if say is not None:
            say(
                f"GPU {device}, slot {slot} of {per_gpu} (packed job {environ.get('SLURM_JOB_ID')})"
            )
        yield dict(environ, CUDA_VISIBLE_DEVICES=device)
