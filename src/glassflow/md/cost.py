"""What an MD job costs: steps of every protocol stage, wall time, memory.

The step counts are those of the LAMMPS inputs (:mod:`glassflow.md.lammps`,
``templates/*.lmp.j2``) and of the ASE stages, counted by the same functions:

- melt-quench: ``minimize`` (at most :data:`MINIMIZE_MAX_EVALUATIONS` force
  evaluations), melt, every quench stage of ``protocol.quench`` (one rate, or three
  stages), relax;
- production: the ramp from the start structure's temperature (``relax_T_K`` when
  reheating the glass, ``melt_T_K`` when cooling the melt) to T at ``ramp_rate_K_ps``,
  equilibration, production; a production segment k >= 2 runs its own production
  steps only.

A job's wall time is atom-steps over a speed in atom-steps per second of one MD job
as it is launched (all its ranks, threads and GPUs): ``engine.atom_steps_per_s`` when
set, else the speed measured on this campaign's finished MD (``glass.json`` and
``run.json`` of runs launched the same way, :func:`measured_speed`), else a constant
(:data:`CPU_ATOM_STEPS_PER_S` per core; :data:`GPU_ATOM_STEPS_PER_S` per GPU job).
The records are read rather than the Snakemake benchmark files
(``benchmarks/<rule>/*.tsv``): they hold LAMMPS's own wall time and the protocol the job
ran, where a benchmark file also counts the job's start-up and, for a segment, its D
estimate, and does not say which protocol it timed.
The Slurm request is that time times :data:`SAFETY` times the attempt, at least
:data:`MIN_MINUTES` (:func:`runtime_minutes`). docs/slurm.md, "How long an MD job
asks to run".
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glassflow.md.lammps import quench_stages, steps

#: Atom-steps per second of one CPU core with the NS force field (Buckingham +
#: long-range Coulomb, 10 A): 3000 atoms at 7.4 ns/day at 1 fs on one core.
CPU_ATOM_STEPS_PER_S: float = 3000 * 7.4e6 / 86400
#: Atom-steps per second of one MD job on one GPU when nothing better is known: ten
#: times one core, the factor the workflow has always assumed. Not measured here (no
#: GPU on the development machine); docs/campaigns.md, "GPU plan", gives published
#: numbers. Set engine.atom_steps_per_s, or let the first runs measure it.
GPU_ATOM_STEPS_PER_S: float = 10.0 * CPU_ATOM_STEPS_PER_S
#: ``minimize 1.0e-6 1.0e-8 1000 10000`` (melt_quench.lmp.j2): at most this many force
#: evaluations, each about one MD step.
MINIMIZE_MAX_EVALUATIONS: int = 10000
#: Requested runtime = estimate x SAFETY x attempt.
SAFETY: float = 2.0
#: Shortest runtime request (min).
MIN_MINUTES: int = 10
#: Bytes of one frame record of a ``.gtrj`` file besides the atoms (step, time, crc32,
#: pad, box): glassflow.io.trajectory.frame_dtype.
FRAME_HEADER_BYTES: int = 8 + 8 + 4 + 4 + 3 * 8
#: float32 x, y, z of one atom.
ATOM_VECTOR_BYTES: int = 3 * 4
#: The engine keys that decide how fast one job runs: a measured speed is used only
#: for jobs launched the same way.
LAUNCH_KEYS: tuple[str, ...] = ("kind", "accelerator", "mpi_ranks", "threads", "gpus")
#: At most this many records are read for a measured speed (the newest).
MAX_RECORDS: int = 200


@dataclass(frozen=True)
class Stage:
    """One stage of an MD job and its number of steps (force evaluations)."""

    name: str
    steps: int


def melt_quench_stages(protocol: Mapping[str, Any]) -> list[Stage]:
    """The stages of the melt-quench job, in order.

    Parameters
    ----------
    protocol
        The validated ``protocol`` block (``timestep_fs``, ``minimize``, ``melt_ps``,
        ``melt_T_K``, ``quench``, ``relax_T_K``, ``relax_ps``).

    Returns
    -------
    list of Stage
        ``minimize`` (its most force evaluations, when on), ``melt``, the quench
        stages of :func:`glassflow.md.lammps.quench_stages`, ``relax``.
    """
    dt = protocol["timestep_fs"]
    out = []
    if protocol.get("minimize"):
        out.append(Stage("minimize", MINIMIZE_MAX_EVALUATIONS))
    out.append(Stage("melt", steps(protocol["melt_ps"], dt)))
    out.extend(Stage(q["name"], int(q["steps"])) for q in quench_stages(protocol))
    out.append(Stage("relax", steps(protocol["relax_ps"], dt)))
    return out


def ramp_start_K(protocol: Mapping[str, Any]) -> float:
    """Temperature a production run starts from: relax_T_K (reheat) or melt_T_K."""
    reheat = protocol["production_start"] == "reheat"
    return float(protocol["relax_T_K"] if reheat else protocol["melt_T_K"])


def production_stages(
    protocol: Mapping[str, Any],
    T_K: float,
    production_ps: float | None = None,
    first: bool = True,
) -> list[Stage]:
    """The stages of a production job (or of one production segment), in order.

    Parameters
    ----------
    protocol
        The validated ``protocol`` block.
    T_K
        The run's temperature.
    production_ps
        Production length of this job (default ``protocol.production_ps``); for a
        segment, its own length.
    first
        The job starts from the glass or melt: it ramps and equilibrates first. False
        for a segment k >= 2, which continues from a restart file.

    Returns
    -------
    list of Stage
        ``ramp`` and ``equilibration`` (first job only, when they have steps), then
        ``production``.
    """
    dt = protocol["timestep_fs"]
    length = protocol["production_ps"] if production_ps is None else production_ps
    out = []
    if first:
        ramp = steps(abs(T_K - ramp_start_K(protocol)) / protocol["ramp_rate_K_ps"], dt)
        if ramp > 0:
            out.append(Stage("ramp", ramp))
        eq = steps(protocol["equilibration_ps"], dt)
        if eq > 0:
            out.append(Stage("equilibration", eq))
    out.append(Stage("production", steps(length, dt)))
    return out


def total_steps(stages: Iterable[Stage]) -> int:
    """Sum of the stages' steps."""
    return sum(s.steps for s in stages)


def runtime_minutes(
    n_atoms: int,
    n_steps: int,
    atom_steps_per_s: float,
    attempt: int = 1,
    safety: float = SAFETY,
    minimum: int = MIN_MINUTES,
) -> int:
    """Slurm runtime request (min) of a job of ``n_steps`` MD steps of ``n_atoms`` atoms.

    Parameters
    ----------
    n_atoms, n_steps
        Size and length of the job.
    atom_steps_per_s
        Speed of one job as launched (atom-steps per wall second).
    attempt
        Snakemake's attempt number: each retry asks for proportionally more.
    safety
        Factor over the estimate.
    minimum
        Shortest request.

    Returns
    -------
    int
        ``ceil(safety * attempt * n_atoms * n_steps / atom_steps_per_s / 60)``, at
        least ``minimum``.
    """
    if atom_steps_per_s <= 0:
        raise ValueError(f"atom_steps_per_s must be > 0, got {atom_steps_per_s}")
    seconds = n_atoms * n_steps / atom_steps_per_s
    return max(minimum, math.ceil(safety * attempt * seconds / 60.0))


def n_frames(length_ps: float, dump_interval_fs: float) -> int:
    """Frames of a trajectory of ``length_ps`` dumped every ``dump_interval_fs``
    (step 0 included; a last partial interval writes no frame)."""
    return math.floor(length_ps * 1000.0 / dump_interval_fs + 1e-9) + 1


def _mem_request_mb(data_mb: float, base_mb: float, attempt: int, minimum_mb: int) -> int:
    """A memory request: (data + base) x attempt, at least ``minimum_mb``."""
    return max(minimum_mb, math.ceil(attempt * (data_mb + base_mb)))


def trajectory_bytes(frames: int, n_atoms: int, velocities: bool) -> int:
    """Size of a ``.gtrj`` trajectory: frames x (header + atoms x 3 float32 [x 2])."""
    per_atom = ATOM_VECTOR_BYTES * (2 if velocities else 1)
    return frames * (FRAME_HEADER_BYTES + n_atoms * per_atom)


def trajectory_mem_mb(
    length_ps: float,
    dump_interval_fs: float,
    n_atoms: int,
    velocities: bool,
    attempt: int = 1,
    base_mb: float = 500.0,
    minimum_mb: int = 1000,
) -> int:
    """Memory (MB) of a job that reads a whole trajectory: twice its size (the frames
    and one derived array of the same shape) plus ``base_mb``, x attempt."""
    size = trajectory_bytes(n_frames(length_ps, dump_interval_fs), n_atoms, velocities)
    return _mem_request_mb(2 * size / 1e6, base_mb, attempt, minimum_mb)


def block_mem_mb(
    length_ps: float,
    dump_interval_fs: float,
    chunk_atoms: int,
    attempt: int = 1,
    base_mb: float = 1000.0,
    minimum_mb: int = 2000,
) -> int:
    """Memory (MB) of a D estimate that works on ``chunk_atoms`` atoms at a time over
    every frame: positions and the MSD work arrays, 8 float64 arrays of the block."""
    block = chunk_atoms * 3 * n_frames(length_ps, dump_interval_fs) * 8 * 8
    return _mem_request_mb(block / 1e6, base_mb, attempt, minimum_mb)


# Speed ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Speed:
    """Atom-steps per second of one MD job and where the number comes from."""

    atom_steps_per_s: float
    source: str


def launch_of(engine: Mapping[str, Any]) -> dict[str, Any]:
    """The engine keys that set one job's speed (:data:`LAUNCH_KEYS`), defaults filled."""
    defaults = {"kind": "lammps", "accelerator": "none", "mpi_ranks": 1, "threads": 1, "gpus": 1}
    out = {k: engine.get(k, defaults[k]) for k in LAUNCH_KEYS}
    if out["accelerator"] not in ("gpu", "kokkos"):
        out["gpus"] = 0  # gpus is ignored without a GPU accelerator
    return out


def record_atom_steps(record: Mapping[str, Any]) -> tuple[float, float] | None:
    """(atom-steps, wall seconds) of the MD of one glass.json or run.json, or None.

    glass.json: the melt-quench stages of ``melt_quench_protocol`` over
    ``glass_wall_time_s``. run.json: ramp, equilibration and ``total_production_ps``
    over ``wall_time_s`` (all attempts and segments).
    """
    try:
        n_atoms = sum(int(v) for v in record["counts"].values())
        if (
            "melt_quench_protocol" in record
            and "glass_wall_time_s" in record
            and (record.get("stage") == "glass")
        ):
            n = total_steps(melt_quench_stages(record["melt_quench_protocol"]))
            wall = float(record["glass_wall_time_s"])
        else:
            p = record["protocol"]
            length = float(record.get("total_production_ps", p["production_ps"]))
            n = total_steps(production_stages(p, float(record["T_K"]), length))
            wall = float(record["wall_time_s"])
    except (KeyError, TypeError, ValueError):
        return None
    if wall <= 0 or n <= 0 or n_atoms <= 0:
        return None
    return float(n_atoms) * n, wall


def measured_speed(
    results: str | Path, engine: Mapping[str, Any], limit: int = MAX_RECORDS
) -> tuple[float, int] | None:
    """Speed measured on a campaign's finished MD launched like ``engine``.

    Parameters
    ----------
    results
        The campaign's results directory (``results/<campaign>``).
    engine
        The ``engine`` block of the jobs to come; records of jobs launched otherwise
        (other :data:`LAUNCH_KEYS`) are skipped.
    limit
        Read at most this many records, the newest.

    Returns
    -------
    (float, int) or None
        The median over the records of atom-steps per wall second, and the number
        of records; None when no record fits.
    """
    root = Path(results)
    if not root.is_dir():
        return None
    paths = [*root.glob("*/rep*/glass/glass.json"), *root.glob("*/T*/rep*/production/run.json")]
    paths.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    want = launch_of(engine)
    speeds = []
    for path in paths[:limit]:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if launch_of(record.get("engine") or {}) != want:
            continue
        cost = record_atom_steps(record)
        if cost is not None:
            speeds.append(cost[0] / cost[1])
    if not speeds:
        return None
    return statistics.median(speeds), len(speeds)


def constant_speed(engine: Mapping[str, Any]) -> float:
    """The documented constant: :data:`GPU_ATOM_STEPS_PER_S` for a GPU job, else
    :data:`CPU_ATOM_STEPS_PER_S` x ranks x threads."""
    launch = launch_of(engine)
    if launch["gpus"] > 0:
        return GPU_ATOM_STEPS_PER_S
    return CPU_ATOM_STEPS_PER_S * launch["mpi_ranks"] * launch["threads"]


def md_speed(engine: Mapping[str, Any], results: str | Path | None = None) -> Speed:
    """Speed of one MD job: ``engine.atom_steps_per_s``, else measured on the
    campaign's finished runs (:func:`measured_speed`), else :func:`constant_speed`."""
    given = engine.get("atom_steps_per_s")
    if given is not None:
        return Speed(float(given), "engine.atom_steps_per_s")
    if results is not None and (found := measured_speed(results, engine)) is not None:
        speed, n = found
        return Speed(speed, f"measured on {n} finished MD job(s) in {results}")
    return Speed(constant_speed(engine), "constant (glassflow.md.cost)")


def campaign_steps(
    protocol: Mapping[str, Any],
    temperatures_K: Sequence[float],
    production_ps: float | None = None,
) -> dict[str, int]:
    """Steps of one glass (its melt-quench) and of one run at each temperature."""
    out = {"melt_quench": total_steps(melt_quench_stages(protocol))}
    for T in temperatures_K:
        out[f"T{int(T)}"] = total_steps(production_stages(protocol, float(T), production_ps))
    return out
