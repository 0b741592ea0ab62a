"""Snakemake script: pool the dynamics of all runs (replicas x temperatures) of a composition.

Inputs: lists ``summaries``, ``curves``, ``vanhove`` (per-run parquet files);
params: ``settings`` (optional, ``DynamicsSettings`` keys);
outputs: ``summary`` parquet and figures ``msd_png``, ``alpha2_png``, ``vanhove_png``.
"""

import logging

import pandas as pd

from glassflow.analysis.dynamics.correlations import DynamicsSettings
from glassflow.analysis.dynamics.tables import composition_summary, pool_replica_curves
from glassflow.figures.dynamics import plot_alpha2, plot_msd, plot_vanhove

snakemake = globals()["snakemake"]
logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
log = logging.getLogger("dynamics_composition")

params = getattr(snakemake, "params", None)
settings = DynamicsSettings.from_dict(dict(getattr(params, "settings", None) or {}))


def read_all(paths) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


summaries = read_all(snakemake.input.summaries)
curves = read_all(snakemake.input.curves)
vanhove = read_all(snakemake.input.vanhove)
log.info("%d summaries, %d curve rows, %d Van Hove rows", len(summaries), len(curves), len(vanhove))
summary = composition_summary(summaries, curves, settings)
summary.to_parquet(snakemake.output.summary, index=False)
pooled = pool_replica_curves(curves)
plot_msd(pooled, summary, snakemake.output.msd_png)
plot_alpha2(pooled, snakemake.output.alpha2_png)
plot_vanhove(vanhove, snakemake.output.vanhove_png, species=settings.mobile_species)
log.info("wrote %s and figures", snakemake.output.summary)
