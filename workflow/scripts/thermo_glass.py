"""Snakemake script: melt-quench traces and quench E(T) of all glasses of one composition.

Input: list ``thermo`` (thermo.parquet; keys from the glass.json beside each, written by the
same job); the replicas are concatenated with a ``replica`` column (one line each).
Outputs: ``thermo`` (T, E, P against time) and ``quench`` (E against T during the quench),
PNG + PDF.
"""

from glassflow.figures.thermo import plot_quench_energy, plot_thermo, runs_thermo
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    runs = runs_thermo(smk.input.thermo, "glass.json", lambda m: f"{m['replica']:02d}")
    name = runs.name or smk.wildcards.comp
    title = f"melt-quench of {name}: {len(runs.metas)} glasses ({runs.n_atoms} atoms)"
    plot_thermo(runs.thermo, smk.output.thermo, title, runs.n_atoms)
    plot_quench_energy(runs.thermo, smk.output.quench, f"quench of {name}", n_atoms=runs.n_atoms)
    log.info("%s: %d thermo rows", title, len(runs.thermo))
