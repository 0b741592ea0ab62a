"""Snakemake script: dynamics and transport tables of one production run.

Inputs: ``trajectory`` (.gtrj), ``run_json`` (campaign, x, m, T_K, replica, ...);
params: ``settings`` (see ``glassflow.dynamics.DynamicsSettings``);
outputs: ``summary``, ``curves``, ``vanhove``, ``fastslow`` parquet files; log: ``log[0]``.
"""

import json
import logging
import time

from glassflow.dynamics import DynamicsSettings
from glassflow.dynamics_tables import analyse_run
from glassflow.trajectory import open_trajectory

snakemake = globals()["snakemake"]
logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
log = logging.getLogger("dynamics_run")

settings = DynamicsSettings.from_dict(dict(snakemake.params.settings or {}))
with open(snakemake.input.run_json) as fh:
    meta = json.load(fh)
traj = open_trajectory(snakemake.input.trajectory)
log.info(
    "%s: %d frames, %d atoms, species %s", traj.path, traj.n_frames, traj.n_atoms, traj.species
)
t0 = time.perf_counter()
tables = analyse_run(traj, meta, settings)
for name in ("summary", "curves", "vanhove", "fastslow"):
    tables[name].to_parquet(getattr(snakemake.output, name), index=False)
    log.info("wrote %s (%d rows)", getattr(snakemake.output, name), len(tables[name]))
summ = tables["summary"]
for _, r in summ.iterrows():
    log.info(
        "%s: diffusive=%s D=%s cm2/s +- %s (%s) D_gk=%s",
        r["species"],
        r["diffusive"],
        r["D_cm2_s"],
        r["D_err_cm2_s"],
        r["reason"],
        r["D_gk_cm2_s"],
    )
log.info("done in %.1f s", time.perf_counter() - t0)
