"""Snakemake script: structure and network-topology tables of one glass or production run.

Inputs: ``structure`` (LAMMPS data file ``glass.data``, atom_style charge, or a
``trajectory.gtrj`` time-averaged over at most ``max_frames`` strided frames) and
``run_json`` (campaign, x, m, T_K, replica); params: ``stage`` ("glass" | "production"),
``species`` (elements in LAMMPS type order, used for data files), ``settings`` (see
``glassflow.structure.StructureSettings``); outputs: ``gr``, ``sk``, ``angles``, ``summary``,
``topology`` parquet files; log: ``log[0]``.
"""

import dataclasses
import json
import logging
import time

from glassflow.structure import StructureSettings
from glassflow.structure_tables import (
    analyse_configurations,
    load_trajectory_frames,
    read_lammps_data,
)

snakemake = globals()["snakemake"]
logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
log = logging.getLogger("structure_run")

raw = dict(snakemake.params.settings or {})
settings = StructureSettings.from_dict(raw)
if "workers" not in raw:  # follow the rule's thread count unless the config says otherwise
    settings = dataclasses.replace(settings, workers=max(1, int(snakemake.threads)))
with open(snakemake.input.run_json) as fh:
    meta = json.load(fh)
keys = {k: meta[k] for k in ("campaign", "x", "m", "T_K", "replica")}
keys["stage"] = snakemake.params.stage

path = str(snakemake.input.structure)
if path.endswith(".gtrj"):
    positions, types, species, box = load_trajectory_frames(path, settings.max_frames)
else:
    species = tuple(snakemake.params.species)
    pos, types, box = read_lammps_data(path, species)
    positions = pos[None]
log.info(
    "%s: %d frames, %d atoms, species %s, box %s Å",
    path,
    len(positions),
    len(types),
    species,
    box.tolist(),
)
log.info("settings: %s", settings)
t0 = time.perf_counter()
tables = analyse_configurations(positions, types, species, box, keys, settings)
log.info("analysis took %.1f s", time.perf_counter() - t0)
for name in ("gr", "sk", "angles", "summary", "topology"):
    out = getattr(snakemake.output, name)
    tables[name].to_parquet(out, index=False)
    log.info("wrote %s (%d rows)", out, len(tables[name]))
summ = tables["summary"].iloc[0]
log.info(
    "summary: %s", {k: summ[k] for k in summ.index if k.startswith(("r_cut", "cn_Si", "k_pp"))}
)
topo = tables["topology"].iloc[0]
log.info("topology: %s", topo.to_dict())
