"""Snakemake script: structure and topology of every quenched glass of one composition."""

from glassflow.analysis.runs import (
    combine,
    read_keys,
    structure_of_glass,
    structure_settings,
    write_tables,
)
from glassflow.config.rule_params import execution_settings, script_config
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    cfg = script_config(smk.config, smk.scriptdir)  # neighbour-search threads: not a param
    workers = execution_settings(cfg)["structure_workers"]
    settings = structure_settings(dict(smk.params.settings, workers=workers), smk.threads)
    species = tuple(smk.params.species)
    per_glass = []
    for glass, glass_json in zip(smk.input.glasses, smk.input.glass_jsons, strict=True):
        tables = structure_of_glass(glass, species, read_keys(glass_json), settings)
        per_glass.append({f"structure_{name}": t for name, t in tables.items()})
        log.info("%s: %s", glass, tables["summary"].iloc[0].to_dict())
    combined = combine(per_glass)
    write_tables(combined, {name: smk.output[name] for name in combined})
