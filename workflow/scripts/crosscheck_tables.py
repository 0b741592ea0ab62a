"""Snakemake script: the per-glass force-field cross-checks in two tables and one figure."""

import pandas as pd

from glassflow.figures.crosscheck import plot_crosscheck
from glassflow.io.atomic import write_parquet_atomic
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    forces = pd.concat([pd.read_parquet(p) for p in smk.input.forces], ignore_index=True)
    topology = pd.concat([pd.read_parquet(p) for p in smk.input.topology], ignore_index=True)
    log.info("force differences (eV/A):\n%s", forces.to_string(index=False))
    cols = [
        "force_field",
        "m",
        "frac_S_in_SS",
        "si_cn_mean",
        "frac_BS",
        "frac_NBS",
        "f_md",
        "f_eq1",
    ]
    log.info("topology:\n%s", topology[[c for c in cols if c in topology]].to_string(index=False))
    write_parquet_atomic(forces, smk.output.forces)
    write_parquet_atomic(topology, smk.output.topology)
    plot_crosscheck(forces, topology, smk.output.figure)
