# Adaptive refinement along m (glassflow.campaign.adaptive_rounds), used when
# adaptive.enabled is set. Round i pools the runs of every composition known after
# rounds 0..i-1 (the initial grid first), fits the GP of log10 sigma (or D) along m at
# each judged T and records the posterior, the stop reason and the next compositions;
# those are ordinary grid points (same directories, MD and analysis rules). A rerun
# replays the records. Input functions: adaptive_common.smk.


checkpoint adaptive_round:
    input:
        unpack(adaptive_round_inputs),
    output:
        record=ADAPTIVE_RECORD,
    log:
        f"{LOGS}/adaptive/round{{round}}.log",
    benchmark:
        f"{BENCH}/adaptive/round{{round}}.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=20,
        mem_mb=2000,
    params:
        round=adaptive_round_groups,
        adaptive=canonical(CFG["adaptive"]),
        dynamics=DYNAMICS_SETTINGS,
        # extra replicas of a measured m: not with convergence targets (they decide
        # replicas) nor with adaptive.new_compositions_only
        allow_replicas=CONVERGENCE is None
        and not CFG["adaptive"].get("new_compositions_only", False),
        campaign=CAMPAIGN.name,
    script:
        "../scripts/adaptive_round.py"


rule adaptive_summary:
    input:
        records=adaptive_records,
    output:
        points=f"{ADAPTIVE_DIR}/points.parquet",
        rounds=f"{ADAPTIVE_DIR}/rounds.parquet",
        posterior=f"{ADAPTIVE_DIR}/posterior.parquet",
        png=report(
            f"{FIGURES}/adaptive.png",
            category="Adaptive refinement",
            labels={"figure": "adaptive rounds"},
        ),
        pdf=f"{FIGURES}/adaptive.pdf",
    log:
        f"{LOGS}/adaptive/summary.log",
    benchmark:
        f"{BENCH}/adaptive/summary.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/adaptive_summary.py"


# With convergence targets: one point's pooled estimate after its convergence rounds.
rule adaptive_point_estimate:
    input:
        rounds=point_round_records,
    output:
        estimate=ADAPTIVE_POINT,
    log:
        f"{LOGS}/adaptive/point_{{comp}}_T{{T}}.log",
    localrule: True
    conda:
        ANALYSIS_ENV
    params:
        point=point_keys,
        quantity=CFG["adaptive"]["quantity"],
    script:
        "../scripts/adaptive_point.py"
