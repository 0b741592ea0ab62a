# Ion dynamics and transport: per production run, then pooled per composition.


rule dynamics_run:
    input:
        trajectory=f"{RUN_DIR}/production/trajectory.gtrj",
        run_json=f"{RUN_DIR}/production/run.json",
    output:
        summary=f"{RUN_DIR}/dynamics/summary.parquet",
        curves=f"{RUN_DIR}/dynamics/curves.parquet",
        vanhove=f"{RUN_DIR}/dynamics/vanhove.parquet",
        fastslow=f"{RUN_DIR}/dynamics/fastslow.parquet",
    log:
        f"{LOGS}/dynamics_run/{{comp}}_T{{T}}_rep{{rep}}.log",
    benchmark:
        f"{BENCH}/dynamics_run/{{comp}}_T{{T}}_rep{{rep}}.tsv"
    group:
        "analysis"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=30,
        mem_mb=trajectory_mem_mb,
    params:
        settings=CFG["analysis"]["dynamics"],
    script:
        "../scripts/dynamics_run.py"


rule dynamics_composition:
    input:
        summaries=lambda wc: [
            f"{d}/dynamics/summary.parquet" for d in run_dirs(wc.comp)
        ],
        curves=lambda wc: [f"{d}/dynamics/curves.parquet" for d in run_dirs(wc.comp)],
        vanhove=lambda wc: [f"{d}/dynamics/vanhove.parquet" for d in run_dirs(wc.comp)],
    output:
        summary=f"{R}/{{comp}}/dynamics/summary.parquet",
        msd_png=report(
            f"{R}/{{comp}}/dynamics/msd.png",
            category="Dynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "MSD"},
        ),
        alpha2_png=report(
            f"{R}/{{comp}}/dynamics/alpha2.png",
            category="Dynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "non-Gaussian parameter"},
        ),
        vanhove_png=report(
            f"{R}/{{comp}}/dynamics/vanhove.png",
            category="Dynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "self Van Hove"},
        ),
    log:
        f"{LOGS}/dynamics_composition/{{comp}}.log",
    benchmark:
        f"{BENCH}/dynamics_composition/{{comp}}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=20,
        mem_mb=2000,
    params:
        settings=CFG["analysis"]["dynamics"],
    script:
        "../scripts/dynamics_composition.py"
