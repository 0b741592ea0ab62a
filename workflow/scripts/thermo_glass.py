"""Snakemake script: melt-quench traces and quench E(T) of all glasses of one composition.

Input: list ``thermo`` (thermo.parquet; keys from the glass.json beside each, written by the
same job); the replicas are concatenated with a ``replica`` column (one line each).
Outputs: ``thermo`` (T, E, P against time) and ``quench`` (E against T during the quench),
PNG + PDF.
"""

import json
from pathlib import Path

import pandas as pd

from glassflow.figures_thermo import THERMO_COLUMNS, plot_quench_energy, plot_thermo
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    # the glass.json beside each thermo table (same job): replica, T, x, m, counts
    metas = [json.loads((Path(p).parent / "glass.json").read_text()) for p in smk.input.thermo]
    frames = [
        pd.read_parquet(p).assign(replica=f"{m['replica']:02d}")
        for p, m in zip(smk.input.thermo, metas, strict=True)
    ]
    thermo = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=THERMO_COLUMNS)
    )
    n_atoms = int(sum(metas[0]["counts"].values())) if metas else None
    name = f"x = {metas[0]['x']:.2f}, m = {metas[0]['m']:.2f}" if metas else smk.wildcards.comp
    title = f"melt-quench of {name}: {len(frames)} glasses ({n_atoms} atoms)"
    plot_thermo(thermo, smk.output.thermo, title, n_atoms)
    plot_quench_energy(thermo, smk.output.quench, f"quench of {name}", n_atoms=n_atoms)
    log.info("%s: %d thermo rows", title, len(thermo))
