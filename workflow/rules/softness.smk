# Softness (Chen 2023, physics.md section 7): which ions will move, from structure.


rule softness_run:
    input:
        trajectory=f"{RUN_DIR}/production/trajectory.gtrj",
        run_json=f"{RUN_DIR}/production/run.json",
        vanhove=f"{RUN_DIR}/dynamics/vanhove.parquet",
    output:
        ions=f"{RUN_DIR}/softness/ions.parquet",
        summary=f"{RUN_DIR}/softness/summary.parquet",
        png=report(
            f"{RUN_DIR}/softness/softness.png",
            category="Softness",
            subcategory="{comp}",
            labels={"composition": "{comp}", "T": "{T} K", "replica": "{rep}"},
        ),
    log:
        f"{LOGS}/softness_run/{{comp}}_T{{T}}_rep{{rep}}.log",
    benchmark:
        f"{BENCH}/softness_run/{{comp}}_T{{T}}_rep{{rep}}.tsv"
    group:
        "analysis"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=30,
        mem_mb=trajectory_mem_mb,
    params:
        settings=CFG["analysis"]["softness"],
        potential=POTENTIAL_FILE,
    script:
        "../scripts/softness_run.py"
