"""Configuration, before any job runs: the campaign YAML to a validated grid and rule params.

In: the config mapping (``--configfile`` / ``--config``) and
``workflow/schemas/config.schema.yaml``. ``schema`` coerces and validates it with
defaults and one-line error messages; ``grid`` expands compositions x temperatures x
replicas and checks what the schema cannot (cell length against the cutoff, enough atoms,
the potential's elements); ``checks`` checks the analysis settings against the campaign
and that the results directory can be written;
``rule_params`` gives each workflow rule the canonical config keys it is rerun by. Out: a
``Campaign`` for the Snakefile and the params of every rule.
"""
