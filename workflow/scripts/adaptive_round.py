"""Snakemake script: one adaptive round (checkpoint adaptive_round).

Pools the runs of every composition the round judges, fits the GP along m at each judged
T and writes the round's record with the posterior, the stop reason and the next
compositions (glassflow.campaign.adaptive_rounds.judge_adaptive_round).
"""

from glassflow.campaign.adaptive_rounds import (
    AdaptivePoint,
    adaptive_from_config,
    judge_adaptive_round,
)
from glassflow.config.rule_params import script_config
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    cfg = script_config(smk.config, smk.scriptdir)
    judge_adaptive_round(
        smk.params.round["groups"],
        index=int(smk.wildcards.round),
        points={p["comp"]: AdaptivePoint(**p) for p in smk.params.round["points"]},
        ad=adaptive_from_config(cfg),
        allow_replicas=bool(smk.params.allow_replicas),
        dynamics=smk.params.dynamics,
        keys={"campaign": smk.params.campaign},
        record_out=smk.output.record,
    )
