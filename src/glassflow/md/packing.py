"""Packing small MD runs into one Slurm allocation (docs/slurm.md, "Packed runs").

A run of a few hundred to a few thousand atoms fills neither a node nor a GPU. With
``cluster.pack`` the workflow puts its MD jobs into Snakemake job groups of
``runs_per_job`` independent runs; each group is one sbatch allocation in which a
Snakemake process runs the members side by side (the cluster-generic executor and
:func:`sbatch_request`), each with its own threads, files and restart, and up to
``runs_per_gpu`` of them on one GPU (:mod:`glassflow.md.gpu_share`).

This module holds the pure parts: the settings and their checks, the sbatch request
of a group from its members' summed resources, and the Slurm job states.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Environment variable through which the workflow tells its submit command (and the
#: runs inside an allocation) how many runs share one GPU.
RUNS_PER_GPU_ENV = "GLASSFLOW_RUNS_PER_GPU"
#: ... and how many GPUs one run uses (engine.gpus; 1 for CPU runs)
GPUS_PER_RUN_ENV = "GLASSFLOW_GPUS_PER_RUN"

#: GPU memory of one small LAMMPS GPU/KOKKOS process: the CUDA context and the
#: package's buffers (~300-500 MB per process whatever the system) plus per-atom
#: arrays and neighbour lists. An estimate for the refusal of impossible packings,
#: not a measurement (this machine has no GPU): MB.
GPU_CONTEXT_MB = 500.0
#: per atom, with a full neighbour list at ~100 neighbours (4-byte indices) and
#: double-precision positions, velocities, forces: kB.
GPU_KB_PER_ATOM = 2.0

#: Prefixes of the Snakemake job groups of the packed MD rules (one kind per stage, so
#: a group's members are runs of the same kind and length): pack_glass00000, ...
GLASS_GROUP = "pack_glass"
RUN_GROUP = "pack_run"


class Packs:
    """Names the pack of each run: the first ``runs_per_job`` runs asked for get
    ``<prefix>00000``, the next ones ``<prefix>00001``, ...

    A run keeps its pack (all segments of a run in one pack, one after another), and a
    pack never holds more than ``runs_per_job`` runs. Named packs rather than one group
    with ``--group-components``: Snakemake (9.27) merges the components again each time
    a checkpoint updates the DAG, so one group name ends up as one job of all its runs.

    Parameters
    ----------
    prefix : str
        :data:`GLASS_GROUP` or :data:`RUN_GROUP`.
    runs_per_job : int
        cluster.pack.runs_per_job.
    """

    def __init__(self, prefix: str, runs_per_job: int) -> None:
        self.prefix = prefix
        self.runs_per_job = int(runs_per_job)
        self._of: dict[Any, str] = {}

    def name(self, run: Any) -> str:
        """The pack of ``run`` (any hashable key of a run)."""
        found = self._of.get(run)
        if found is None:
            found = f"{self.prefix}{len(self._of) // self.runs_per_job:05d}"
            self._of[run] = found
        return found


class PackComponents(dict):
    """``--group-components`` with every pack group merged up to ``runs_per_job``
    components (its runs: unconnected jobs of one group name), other groups as given."""

    def __init__(self, given: Mapping[str, int], runs_per_job: int) -> None:
        super().__init__(given)
        self.runs_per_job = int(runs_per_job)

    def get(self, key: Any, default: Any = None) -> Any:
        if isinstance(key, str) and key.startswith((GLASS_GROUP, RUN_GROUP)):
            return self.runs_per_job
        return super().get(key, default)


@dataclass(frozen=True)
class PackSettings:
    """``cluster.pack``: runs per sbatch allocation and per GPU."""

    runs_per_job: int
    runs_per_gpu: int
    gpu_mem_gb: float | None = None


def pack_from_config(cfg: Mapping[str, Any]) -> PackSettings | None:
    """The packing settings of a validated config (None: one run per job)."""
    pack = (cfg.get("cluster") or {}).get("pack")
    if not pack:
        return None
    return PackSettings(
        runs_per_job=int(pack["runs_per_job"]),
        runs_per_gpu=int(pack.get("runs_per_gpu", 1)),
        gpu_mem_gb=pack.get("gpu_mem_gb"),
    )


def gpu_mem_mb_per_run(n_atoms: int) -> float:
    """Estimated GPU memory of one LAMMPS run (docs/slurm.md, "Packed runs").

    Parameters
    ----------
    n_atoms : int
        Atoms of the run.

    Returns
    -------
    float
        MB: :data:`GPU_CONTEXT_MB` + :data:`GPU_KB_PER_ATOM` x n_atoms / 1000.
    """
    return GPU_CONTEXT_MB + GPU_KB_PER_ATOM * n_atoms / 1000.0


def pack_problems(
    pack: PackSettings | None,
    n_atoms_max: int,
    uses_gpus: bool,
    gpus_per_run: int,
    launcher: str = "none",
) -> list[str]:
    """What is wrong with ``cluster.pack`` for this campaign (empty: nothing).

    Parameters
    ----------
    pack : PackSettings or None
        The settings (None: nothing to check).
    n_atoms_max : int
        Atoms of the campaign's largest cell.
    uses_gpus : bool
        Whether the MD runs use GPUs (engine.accelerator gpu or kokkos).
    gpus_per_run : int
        engine.gpus.
    launcher : str
        engine.launcher (``srun`` cannot start ranks inside a packed allocation: it is
        one task with the runs' CPUs).

    Returns
    -------
    list of str
        One message per problem, each naming its key.
    """
    if pack is None:
        return []
    out = []
    if pack.runs_per_gpu > pack.runs_per_job:
        out.append(
            f"config key 'cluster.pack.runs_per_gpu': {pack.runs_per_gpu} runs per GPU "
            f"but only {pack.runs_per_job} runs per job (cluster.pack.runs_per_job); "
            "a job would book a GPU it cannot fill"
        )
    if uses_gpus and gpus_per_run > 1 and pack.runs_per_gpu > 1:
        out.append(
            f"config key 'cluster.pack.runs_per_gpu': {pack.runs_per_gpu} runs share a "
            f"GPU but each run uses engine.gpus = {gpus_per_run}; share GPUs only "
            "between one-GPU runs"
        )
    if launcher == "srun":
        out.append(
            "config key 'cluster.pack': packed runs share one Slurm task's CPUs, where "
            "engine.launcher srun cannot start their ranks; use engine.launcher mpiexec "
            "(or none for one rank)"
        )
    if pack.gpu_mem_gb is not None:
        need = pack.runs_per_gpu * gpu_mem_mb_per_run(n_atoms_max)
        if need > 1024.0 * pack.gpu_mem_gb:
            fit = int(1024.0 * pack.gpu_mem_gb // gpu_mem_mb_per_run(n_atoms_max))
            out.append(
                f"config key 'cluster.pack.runs_per_gpu': {pack.runs_per_gpu} runs of up "
                f"to {n_atoms_max} atoms need about {need:.0f} MB of GPU memory, more "
                f"than cluster.pack.gpu_mem_gb = {pack.gpu_mem_gb:g} GB; at most {fit} fit"
            )
    return out


@dataclass(frozen=True)
class SbatchRequest:
    """What one packed allocation asks Slurm for."""

    cpus: int
    mem_mb: int
    minutes: int
    gpus: int
    partition: str | None = None
    account: str | None = None
    runs: int = 1

    def args(self, name: str, log: str) -> list[str]:
        """sbatch options (``--parsable`` first: the job id alone on stdout)."""
        out = [
            "--parsable",
            f"--job-name={name}",
            f"--output={log}",
            "--ntasks=1",
            f"--cpus-per-task={self.cpus}",
            f"--mem={self.mem_mb}M",
            f"--time={self.minutes}",
        ]
        if self.gpus:
            out.append(f"--gres=gpu:{self.gpus}")
        if self.partition:
            out.append(f"--partition={self.partition}")
        if self.account:
            out.append(f"--account={self.account}")
        return out


def jobscript_properties(text: str) -> dict[str, Any]:
    """The ``# properties = {...}`` line Snakemake writes into a cluster job script."""
    for line in text.splitlines():
        if line.startswith("# properties = "):
            return json.loads(line[len("# properties = ") :])
    raise ValueError("no '# properties = ' line: not a Snakemake cluster job script")


def n_member_runs(properties: Mapping[str, Any]) -> int:
    """Runs in a (group) job: the members named on its ``--target-jobs`` line are not in
    the properties, its outputs are; every MD rule writes exactly one ``*.json`` record
    (glass.json, run.json, segment.json)."""
    if properties.get("type") != "group":
        return 1
    outputs = properties.get("output") or []
    records = [o for o in outputs if o.endswith(("glass.json", "run.json", "segment.json"))]
    return max(1, len(records))


def sbatch_request(
    properties: Mapping[str, Any], runs_per_gpu: int, gpus_per_run: int
) -> SbatchRequest:
    """The request of one (packed) job from the resources Snakemake summed over it.

    For a group, Snakemake adds its members' ``threads``, ``mem_mb`` and ``gpu`` over
    the jobs that run side by side (one layer), takes the largest layer, and adds the
    longest member's ``runtime`` of each layer over the layers that run one after
    another (cell builds, then melt-quenches). With ``--cores`` at least the group's
    threads, the runs of a packed group are one layer. GPUs are shared: the
    group's GPU runs (its summed ``gpu`` over ``gpus_per_run``) need
    ceil(runs / runs_per_gpu) GPUs, not one each.

    Parameters
    ----------
    properties : mapping
        The job script's properties (:func:`jobscript_properties`).
    runs_per_gpu : int
        cluster.pack.runs_per_gpu.
    gpus_per_run : int
        engine.gpus of one run (>= 1).

    Returns
    -------
    SbatchRequest
        CPUs, MB, minutes, GPUs and the partition/account resources if set.
    """
    res = properties.get("resources") or {}
    gpu_total = int(res.get("gpu", 0) or 0)
    if gpu_total and runs_per_gpu > 1:
        gpu_runs = math.ceil(gpu_total / max(1, gpus_per_run))
        gpus = math.ceil(gpu_runs / runs_per_gpu)
    else:
        gpus = gpu_total
    return SbatchRequest(
        cpus=max(1, int(properties.get("threads") or 1)),
        mem_mb=max(1, int(res.get("mem_mb", 1000))),
        minutes=max(1, int(math.ceil(float(res.get("runtime", 60))))),
        gpus=gpus,
        partition=res.get("slurm_partition"),
        account=res.get("slurm_account"),
        runs=n_member_runs(properties),
    )


_CORES = re.compile(r"--cores\s+('?)[^\s']+\1")


def with_cores(jobscript: str, cores: int) -> str:
    """The job script with its Snakemake ``--cores`` set to the allocation's CPUs, so the
    members of a packed job run side by side (the submitting Snakemake passes its own
    ``--cores``)."""
    new, n = _CORES.subn(f"--cores {int(cores)}", jobscript)
    if n == 0:
        raise ValueError("the job script has no --cores option to set")
    return new


#: CUDA MPS in a packed GPU job: one control daemon per allocation, private pipe and
#: log directories, stopped when the job script exits (docs/slurm.md, "CUDA MPS")
MPS_PROLOGUE = (
    'export CUDA_MPS_PIPE_DIRECTORY="${TMPDIR:-/tmp}/glassflow-mps-pipe-$SLURM_JOB_ID"',
    'export CUDA_MPS_LOG_DIRECTORY="${TMPDIR:-/tmp}/glassflow-mps-log-$SLURM_JOB_ID"',
    'mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"',
    "nvidia-cuda-mps-control -d",
)
MPS_STOP = "echo quit | nvidia-cuda-mps-control"
#: the GPU slot locks of the allocation (glassflow.md.gpu_share.lock_dir)
SLOT_LOCKS = '"${TMPDIR:-/tmp}/glassflow-gpu-$SLURM_JOB_ID"'


def packed_jobscript(jobscript: str, req: SbatchRequest, runs_per_gpu: int, mps: bool) -> str:
    """The script sbatch runs for a (packed) job: Snakemake's job script with its
    ``--cores`` set to the allocation's CPUs (:func:`with_cores`), the runs-per-GPU of
    the packing exported for :mod:`glassflow.md.gpu_share`, with ``mps`` and GPUs a
    CUDA MPS daemon for the runs that share them (:data:`MPS_PROLOGUE`), and an exit
    trap that stops it and removes the allocation's GPU slot locks.

    Parameters
    ----------
    jobscript : str
        The script Snakemake wrote (``#!`` line, properties, the Snakemake command).
    req : SbatchRequest
        The allocation (:func:`sbatch_request`).
    runs_per_gpu : int
        cluster.pack.runs_per_gpu.
    mps : bool
        Start CUDA MPS (only when the job has GPUs).

    Returns
    -------
    str
        The script, newline-terminated.
    """
    lines = with_cores(jobscript, req.cpus).splitlines()
    head = [f"export {RUNS_PER_GPU_ENV}={int(runs_per_gpu)}"]
    at_exit = [f"rm -rf {SLOT_LOCKS}"]
    if mps and req.gpus:
        head += list(MPS_PROLOGUE)
        at_exit.insert(0, MPS_STOP)
    head.append("trap '" + "; ".join(at_exit).replace("'", "'\\''") + "' EXIT")
    return "\n".join([lines[0], *head, *lines[1:]]) + "\n"


#: Slurm job states (squeue %T / sacct State) -> cluster-generic status words
_RUNNING = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
            "RESIZING", "STAGE_OUT", "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED"}  # fmt: skip


def status_of_state(state: str) -> str:
    """``running``, ``success`` or ``failed`` for a Slurm job state.

    Parameters
    ----------
    state : str
        As squeue ``%T`` or sacct ``State`` print it (``CANCELLED by 0`` is cancelled).

    Returns
    -------
    str
        The word Snakemake's cluster-generic executor expects from a status command.
    """
    word = state.strip().split()[0].rstrip("+").upper() if state.strip() else ""
    if word == "COMPLETED":
        return "success"
    if word in _RUNNING:
        return "running"
    return "failed"
