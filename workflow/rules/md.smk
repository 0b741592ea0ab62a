# MD stages: random cell -> melt-quench (per composition and replica) ->
# production (per composition, temperature and replica).


rule build_cell:
    output:
        cell=GLASS_DIR + "/cell.data",
        meta=GLASS_DIR + "/cell.json",
    params:
        cell=cell_params,
    log:
        LOGS + "/build_cell/{comp}_rep{rep}.log",
    benchmark:
        BENCH + "/build_cell/{comp}_rep{rep}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=10,
        mem_mb=1000,
    script:
        "../scripts/build_cell.py"


rule melt_quench:
    input:
        cell=GLASS_DIR + "/cell.data",
    output:
        glass=GLASS_DIR + "/glass.data",
        melt=GLASS_DIR + "/melt.data",
        thermo=GLASS_DIR + "/thermo.parquet",
        run_json=GLASS_DIR + "/glass.json",
    params:
        run_keys=lambda wc: run_keys(wc, T_K=CFG["protocol"]["relax_T_K"]),
        force_field=force_field,
        protocol=CFG["protocol"],
        engine=CFG["engine"],
        seed=lambda wc: CAMPAIGN.seed(wc.comp, int(wc.rep)),
        label=lambda wc: wc.comp,
    log:
        LOGS + "/melt_quench/{comp}_rep{rep}.log",
    benchmark:
        BENCH + "/melt_quench/{comp}_rep{rep}.tsv"
    conda:
        MD_ENV
    threads: md_threads()
    resources:
        runtime=melt_quench_runtime,
        mem_mb=2000,
        gpu=md_gpus(),
    script:
        "../scripts/melt_quench.py"


rule production:
    input:
        start=production_start,
        cell_meta=GLASS_DIR + "/cell.json",
    output:
        trajectory=RUN_DIR + "/production/trajectory.gtrj",
        thermo=RUN_DIR + "/production/thermo.parquet",
        run_json=RUN_DIR + "/production/run.json",
    params:
        force_field=force_field,
        protocol=CFG["protocol"],
        engine=CFG["engine"],
        run_keys=run_keys,
    log:
        LOGS + "/production/{comp}_T{T}_rep{rep}.log",
    benchmark:
        BENCH + "/production/{comp}_T{T}_rep{rep}.tsv"
    conda:
        MD_ENV
    threads: md_threads()
    resources:
        runtime=production_runtime,
        mem_mb=2000,
        gpu=md_gpus(),
    script:
        "../scripts/production.py"
