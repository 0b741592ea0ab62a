"""The sbatch (and jobstep srun) lines that snakemake-executor-plugin-slurm builds for
glassflow's MD jobs, from the plugin's own code.

For each engine setting, the resources of ``glassflow.md.lammps.slurm_resources`` (what
the MD rules declare) plus the rule's runtime/memory and a site's partition/account
go through the plugin's ``get_submit_command`` + ``set_gres_string`` (the sbatch
line, as in ``Executor.run_job``) and ``Executor.get_partition_arg``; the jobstep's
``srun`` line of non-MPI jobs is assembled, as in the jobstep plugin's ``run_job``,
from its ``get_cpu_setting``/``get_gpu_setting``/``get_node_setting``. The job name,
log path, comment and the wrapped command are placeholders. Used by
tests/test_cluster.py and, to regenerate the table of docs/slurm.md:

    .venv/bin/python tests/slurm/sbatch_lines.py
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from snakemake_executor_plugin_slurm import Executor
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string
from snakemake_executor_plugin_slurm_jobstep import (
    get_cpu_setting,
    get_gpu_setting,
    get_node_setting,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from glassflow.md.lammps import Engine, lammps_command, slurm_resources  # noqa: E402

#: Engine settings shown in docs/slurm.md: (title, engine keys).
SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("CPU, one rank (default)", {}),
    ("CPU, OpenMP 8 threads", {"accelerator": "omp", "threads": 8}),
    ("CPU, MPI srun 4 ranks", {"launcher": "srun", "mpi_ranks": 4}),
    ("CPU, MPI mpiexec 4 ranks x 2 threads", {"launcher": "mpiexec", "mpi_ranks": 4, "threads": 2}),
    ("GPU package, 1 GPU", {"accelerator": "gpu", "gpus": 1}),
    (
        "KOKKOS, 1 A100 (paper campaigns + gpu_model)",
        {"accelerator": "kokkos", "gpus": 1, "gpu_model": "a100"},
    ),
    (
        "KOKKOS, srun 2 ranks on 2 GPUs",
        {"accelerator": "kokkos", "gpus": 2, "launcher": "srun", "mpi_ranks": 2},
    ),
]


class Resources(dict):
    """The bits of Snakemake's job.resources the plugin uses: .get and attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def md_job(engine: Engine, site: dict[str, Any] | None = None) -> SimpleNamespace:
    """A stand-in for an MD job: the rule's threads and resources plus site resources."""
    res = Resources(slurm_resources(engine), runtime=720, mem_mb=2000)
    res.update(site or {})
    return SimpleNamespace(
        resources=res,
        threads=engine.mpi_ranks * engine.threads,
        is_group=lambda: False,
        name="production",
    )


def sbatch_line(job: SimpleNamespace) -> str:
    """The plugin's sbatch call for ``job`` (wrapped command left out)."""
    # _fallback_partition="": no default partition is looked up with `sinfo`, so the
    # lines do not depend on whether (and which) Slurm runs on the machine
    partition = Executor.get_partition_arg(
        SimpleNamespace(_partitions=None, _fallback_partition="", logger=None), job
    )
    account = job.resources.get("slurm_account")
    params = {
        "run_uuid": "<run-uuid>",
        "slurm_logfile": ".snakemake/slurm_logs/rule_production/<wildcards>/%j.log",
        "comment_str": "rule_production_wildcards_<wildcards>",
        "account": f" -A {shlex.quote(account)}" if account else "",
        "partition": partition,
        "workdir": "<workdir>",
    }
    call = get_submit_command(job, params) + set_gres_string(job)
    return " ".join(call.split())


def jobstep_line(job: SimpleNamespace) -> str:
    """How the job's Snakemake process starts inside the allocation."""
    if "mpi" in job.resources:
        return "(no srun: MPI job, the launcher in the LAMMPS command starts the ranks)"
    gpu = bool(job.resources.get("gpu"))
    words = [
        "srun -n1 --cpu-bind=q",
        get_cpu_setting(job, gpu),
        get_gpu_setting(job),
        get_node_setting(job),
        "<snakemake job>",
    ]
    return " ".join(w for w in words if w)


def table(site: dict[str, Any] | None = None) -> str:
    """Markdown: engine setting, sbatch line, jobstep line, LAMMPS command."""
    site = site or {"slurm_partition": "gpu", "slurm_account": "abc123"}
    lines = []
    for title, keys in SETTINGS:
        engine = Engine.from_config({"command": ["lmp"], **keys})
        job = md_job(engine, site)
        cmd = lammps_command(engine, "in.production.lmp", resolve=False)
        lines += [
            f"**{title}** (`engine: {keys or '{}'}`)",
            "",
            "```",
            sbatch_line(job) + " --wrap=...",
            jobstep_line(job),
            " ".join(cmd),
            "```",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
