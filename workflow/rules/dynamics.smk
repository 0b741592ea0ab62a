# Ion dynamics and transport: per production run, then pooled per composition.


rule dynamics_run:
    input:
        trajectory=RUN_DIR + "/production/trajectory.gtrj",
        run_json=RUN_DIR + "/production/run.json",
    output:
        summary=RUN_DIR + "/dynamics/summary.parquet",
        curves=RUN_DIR + "/dynamics/curves.parquet",
        vanhove=RUN_DIR + "/dynamics/vanhove.parquet",
        fastslow=RUN_DIR + "/dynamics/fastslow.parquet",
    params:
        settings=CFG["analysis"]["dynamics"],
    log:
        LOGS + "/dynamics_run/{comp}_T{T}_rep{rep}.log",
    benchmark:
        BENCH + "/dynamics_run/{comp}_T{T}_rep{rep}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=30,
        mem_mb=trajectory_mem_mb,
    group:
        "analysis"
    script:
        "../scripts/dynamics_run.py"


rule dynamics_composition:
    input:
        summaries=lambda wc: [d + "/dynamics/summary.parquet" for d in run_dirs(wc.comp)],
        curves=lambda wc: [d + "/dynamics/curves.parquet" for d in run_dirs(wc.comp)],
        vanhove=lambda wc: [d + "/dynamics/vanhove.parquet" for d in run_dirs(wc.comp)],
    output:
        summary=R + "/{comp}/dynamics/summary.parquet",
        msd_png=report(
            R + "/{comp}/dynamics/msd.png",
            category="Dynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "MSD"},
        ),
        alpha2_png=report(
            R + "/{comp}/dynamics/alpha2.png",
            category="Dynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "non-Gaussian parameter"},
        ),
        vanhove_png=report(
            R + "/{comp}/dynamics/vanhove.png",
            category="Dynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "self Van Hove"},
        ),
    params:
        settings=CFG["analysis"]["dynamics"],
    log:
        LOGS + "/dynamics_composition/{comp}.log",
    benchmark:
        BENCH + "/dynamics_composition/{comp}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=20,
        mem_mb=2000,
    script:
        "../scripts/dynamics_composition.py"
