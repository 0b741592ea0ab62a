# Softness (Chen 2023, physics.md section 7): which ions will move, from structure.


rule softness_run:
    input:
        trajectory=RUN_DIR + "/production/trajectory.gtrj",
        run_json=RUN_DIR + "/production/run.json",
        vanhove=RUN_DIR + "/dynamics/vanhove.parquet",
    output:
        ions=RUN_DIR + "/softness/ions.parquet",
        summary=RUN_DIR + "/softness/summary.parquet",
        png=report(
            RUN_DIR + "/softness/softness.png",
            category="Softness",
            subcategory="{comp}",
            labels={"composition": "{comp}", "T": "{T} K", "replica": "{rep}"},
        ),
    log:
        LOGS + "/softness_run/{comp}_T{T}_rep{rep}.log",
    benchmark:
        BENCH + "/softness_run/{comp}_T{T}_rep{rep}.tsv"
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
        potential=str(
            Path(workflow.basedir)
            / CFG["system"]["potential_dir"]
            / (CFG["system"]["potential"] + ".yaml")
        ),
    script:
        "../scripts/softness_run.py"
