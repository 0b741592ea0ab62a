"""Snakemake script: thermodynamic traces of all production runs of one composition.

Input: list ``thermo`` (thermo.parquet; keys from the run.json beside each, written by the
same job); runs are concatenated with a ``replica`` column "<replica> at <T> K" (one line
per run). Output: ``thermo`` (T, E, P against time), PNG + PDF.
"""

from glassflow.figures.thermo import plot_thermo, runs_thermo
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    runs = runs_thermo(
        smk.input.thermo, "run.json", lambda m: f"{m['replica']:02d} at {m['T_K']:.0f} K"
    )
    name = runs.name or smk.wildcards.comp
    temps = sorted({m["T_K"] for m in runs.metas})
    title = (
        f"production runs of {name}: {len(runs.metas)} runs at "
        f"{', '.join(f'{t:.0f}' for t in temps)} K ({runs.n_atoms} atoms)"
    )
    plot_thermo(runs.thermo, smk.output.thermo, title, runs.n_atoms)
    log.info("%s: %d thermo rows", title, len(runs.thermo))
