"""Snakemake script: structure and topology of every quenched glass of one composition."""

from glassflow.analysis import (
    STRUCTURE_TABLES,
    combine_tables,
    read_keys,
    structure_of_glass,
    structure_settings,
    write_tables,
)
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]) as log:
    settings = structure_settings(smk.params.settings, smk.threads)
    species = tuple(smk.params.species)
    pairs = zip(smk.input.glasses, smk.input.glass_jsons, strict=True)
    for i, (glass, glass_json) in enumerate(pairs):
        tables = structure_of_glass(glass, species, read_keys(glass_json), settings)
        write_tables(
            tables, {name: smk.output[f"structure_{name}"][i] for name in STRUCTURE_TABLES}
        )
        log.info("%s: %s", glass, tables["summary"].iloc[0].to_dict())
    names = [f"structure_{name}" for name in STRUCTURE_TABLES]
    combine_tables(
        {n: list(smk.output[n]) for n in names}, {n: smk.output[f"all_{n}"] for n in names}
    )
