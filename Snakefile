# glassflow: high-throughput MD campaigns on glassy sulfide electrolytes.
# Thin entry point: configuration, validation, rule files, and the default target.
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


# The embedded default campaign; `--configfile` replaces it instead of merging into it.
if not config:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/md.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/campaign.smk"


rule all:
    default_target: True
    input:
        all_targets(),
