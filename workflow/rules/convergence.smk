# Convergence rounds per (composition, T) (glassflow.campaign.convergence), used when
# convergence.targets is set: round i judges the point's runs so far (D of each element
# and the collective sigma, all replicas pooled) and records the next step: stop, more
# segments for every replica, or new replicas from the same glasses with new velocities.
# Input functions in common.smk walk the rounds to list each point's runs and segments.


checkpoint point_round:
    input:
        unpack(point_round_inputs),
    output:
        record=ROUND_RECORD,
    log:
        f"{LOGS}/point_round/{{comp}}_T{{T}}_round{{round}}.log",
    benchmark:
        f"{BENCH}/point_round/{{comp}}_T{{T}}_round{{round}}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=20,
        mem_mb=trajectory_mem_mb,
        # not a param: the runs that go side by side depend on the invocation, and the
        # round records the value it used, so a rerun with other cores replays it
        parallel_runs=convergence_slots(),
    params:
        point=point_keys,
        dynamics=DYNAMICS_SETTINGS,
    script:
        "../scripts/point_round.py"
