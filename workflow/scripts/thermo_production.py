"""Snakemake script: thermodynamic traces of all production runs of one composition.

Input: list ``thermo`` (thermo.parquet; keys from the run.json beside each, written by the
same job); runs are concatenated with a ``replica`` column "<replica> at <T> K" (one line
per run). Output: ``thermo`` (T, E, P against time), PNG + PDF.
"""

import json
from pathlib import Path

import pandas as pd

from glassflow.figures_thermo import THERMO_COLUMNS, plot_thermo
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    # the run.json beside each thermo table (same job): replica, T, x, m, counts
    metas = [json.loads((Path(p).parent / "run.json").read_text()) for p in smk.input.thermo]
    frames = [
        pd.read_parquet(p).assign(replica=f"{m['replica']:02d} at {m['T_K']:.0f} K")
        for p, m in zip(smk.input.thermo, metas, strict=True)
    ]
    thermo = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=THERMO_COLUMNS)
    )
    n_atoms = int(sum(metas[0]["counts"].values())) if metas else None
    name = f"x = {metas[0]['x']:.2f}, m = {metas[0]['m']:.2f}" if metas else smk.wildcards.comp
    temps = sorted({m["T_K"] for m in metas})
    title = (
        f"production runs of {name}: {len(frames)} runs at "
        f"{', '.join(f'{t:.0f}' for t in temps)} K ({n_atoms} atoms)"
    )
    plot_thermo(thermo, smk.output.thermo, title, n_atoms)
    log.info("%s: %d thermo rows", title, len(thermo))
