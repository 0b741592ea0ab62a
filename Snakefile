# glassflow: high-throughput MD campaigns on glassy sulfide electrolytes.
# Thin entry point: configuration, validation, rule files, and the default target.
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from glassflow.config.schema import ConfigError, validate_config
from glassflow.config.validated import mark_validated

# The embedded default campaign. `--config key=value` merges into it (Snakemake
# applies command-line values over the config file); `--configfile` replaces it.
# workflow.overwrite_configfiles holds the --configfile paths of the command line.
if not workflow.overwrite_configfiles:

    configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


# Schema validation: values coerced to the schema's types (2.0 -> 2, "true" -> True),
# defaults filled, and one short line per problem instead of a schema dump.
# Validated once per Snakemake process: the digest of the result goes into the
# environment, and the campaign expansion (common.smk) and the script jobs (child
# processes) skip the schema pass for a config with that digest.
CONFIG_SCHEMA = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
try:
    config.update(validate_config(config, CONFIG_SCHEMA))
except ConfigError as err:
    raise WorkflowError(str(err)) from None
mark_validated(config, CONFIG_SCHEMA)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/md.smk"
include: "workflow/rules/convergence.smk"
include: "workflow/rules/adaptive_common.smk"
include: "workflow/rules/adaptive.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/campaign_common.smk"
include: "workflow/rules/campaign.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/crosscheck.smk"
include: "workflow/rules/targets.smk"


rule all:
    default_target: True
    input:
        all_targets(),
