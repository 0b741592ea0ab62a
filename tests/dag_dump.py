"""Every job of a Snakemake DAG as JSON: rule, wildcards, input, output, params, resources.

``python tests/dag_dump.py OUT.json SNAKEMAKE-ARGS...`` runs ``snakemake SNAKEMAKE-ARGS``
(give ``-n``) and, once the DAG is built, writes one row per job, sorted, with params as
Snakemake records them (``repr``) and the resources that do not depend on the machine.
Two dumps of the same campaign are equal when the workflow asks for the same jobs with the
same files, params and resources: tests/test_dag_scale.py compares the workflow against
dumps made before its input functions were cached.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import snakemake.cli  # before snakemake.dag: the modules import each other
import snakemake.dag

MACHINE_RESOURCES = {"_cores", "_nodes", "tmpdir", "parallel_runs"}


def file_str(f) -> str:
    """The path, and its flags (ancient, directory, ...) when it has any."""
    flags = sorted(k for k, v in getattr(f, "flags", {}).items() if v)
    return f"{f} [{', '.join(flags)}]" if flags else str(f)


def job_row(job) -> dict:
    return {
        "rule": job.rule.name,
        "wildcards": dict(sorted(job.wildcards_dict.items())),
        "input": {
            str(name): [file_str(f) for f in files] if isinstance(files, list) else file_str(files)
            for name, files in job.input._allitems()
        },
        "output": [file_str(f) for f in job.output],
        "params": [repr(p) for p in job.params],
        "resources": {k: v for k, v in sorted(job.resources.items()) if k not in MACHINE_RESOURCES},
    }


def dump_dag(out: Path) -> None:
    init = snakemake.dag.DAG.init

    async def init_and_dump(self, *args, **kwargs):
        await init(self, *args, **kwargs)
        rows = sorted(
            (job_row(job) for job in self.jobs), key=lambda r: json.dumps(r, sort_keys=True)
        )
        out.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")

    snakemake.dag.DAG.init = init_and_dump


if __name__ == "__main__":
    dump_dag(Path(sys.argv[1]))
    sys.exit(snakemake.cli.main(sys.argv[2:]))
