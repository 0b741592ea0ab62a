"""Snakemake script: one convergence round of a (composition, T).

Pools the point's runs so far (segment frames of every replica), estimates D of each
element and the collective sigma with their errors, and writes the round's record with
the next step (glassflow.campaign.convergence.judge_round).
"""

from glassflow.campaign.convergence import judge_round, plan_from_config
from glassflow.config.rule_params import script_config
from glassflow.runlog import logged

smk = snakemake  # noqa: F821 - injected by Snakemake

with logged(smk.log[0]):
    cfg = script_config(smk.config, smk.scriptdir)
    frames = {
        int(name.removeprefix("frames_rep")): list(files)
        for name, files in smk.input.items()
        if name.startswith("frames_rep")
    }
    judge_round(
        frames,
        keys=smk.params.point,
        index=int(smk.wildcards.round),
        plan=plan_from_config(cfg),
        slots=int(smk.resources.parallel_runs),
        dynamics=smk.params.dynamics,
        record_out=smk.output.record,
    )
