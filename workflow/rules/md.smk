# MD stages: random cell -> melt-quench (per composition and replica) ->
# production (per composition, temperature and replica).
# Params hold only physics (protocol keys of the stage, engine cutoff/kspace/skin);
# how LAMMPS is launched comes from the validated config in the scripts.


rule preflight:
    """LAMMPS: `<engine.command> -h` in the MD environment, packages and styles present?
    ASE: the calculator loads its shipped weights and gives a finite energy."""
    output:
        report=PREFLIGHT,
    log:
        f"{LOGS}/preflight/{ENGINE_KIND}.log",
    conda:
        MD_ENV
    envmodules:
        *MD_MODULES,
    threads: 1
    resources:
        **PREFLIGHT_RESOURCES,
        runtime=10,
        mem_mb=1000,
    params:
        check=PREFLIGHT_SETTINGS,
    script:
        "../scripts/preflight.py"


rule build_cell:
    output:
        cell=f"{GLASS_DIR}/cell.data",
        meta=f"{GLASS_DIR}/cell.json",
    log:
        f"{LOGS}/build_cell/{{comp}}_rep{{rep}}.log",
    benchmark:
        f"{BENCH}/build_cell/{{comp}}_rep{{rep}}.tsv"
    # packed: in the allocation of its melt-quench (the same glass), not a job of its own
    group:
        GLASS_GROUP
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=10,
        mem_mb=1000,
    params:
        cell=cell_params,
    script:
        "../scripts/build_cell.py"


rule melt_quench:
    input:
        packing_guard,
        cell=f"{GLASS_DIR}/cell.data",
        cell_meta=f"{GLASS_DIR}/cell.json",
        preflight=ancient(PREFLIGHT),
    output:
        glass=f"{GLASS_DIR}/glass.data",
        melt=f"{GLASS_DIR}/melt.data",
        thermo=f"{GLASS_DIR}/thermo.parquet",
        run_json=f"{GLASS_DIR}/glass.json",
    log:
        f"{LOGS}/melt_quench/{{comp}}_rep{{rep}}.log",
    benchmark:
        f"{BENCH}/melt_quench/{{comp}}_rep{{rep}}.tsv"
    group:
        GLASS_GROUP
    conda:
        MD_ENV
    envmodules:
        *MD_MODULES,
    threads: md_threads()
    resources:
        **MD_RESOURCES,
        runtime=melt_quench_runtime,
        mem_mb=2000,
    params:
        run_keys=lambda wc: run_keys(wc, T_K=CFG["protocol"]["relax_T_K"]),
        force_field=force_field,
        protocol=MELT_QUENCH_PROTOCOL,
        engine=ENGINE_PHYSICS,
        seed=lambda wc: CAMPAIGN.seed(wc.comp, int(wc.rep)),
        label=lambda wc: wc.comp,
    script:
        "../scripts/melt_quench.py"


# Production in segments (glassflow.md.segments), used when protocol.target_rel_error is
# set or protocol.segment_ps < production_ps: each segment is one job that continues
# the previous one's end state and records D +- error in segment.json; the production
# rule's input function reads those verdicts and asks for another segment until D has
# converged or max_production_ps is reached.
checkpoint production_segment:
    input:
        unpack(segment_inputs),
    output:
        frames=f"{SEG_DIR}/frames.gtrj",
        thermo=f"{SEG_DIR}/thermo.parquet",
        restart=f"{SEG_DIR}/end.restart",
        record=f"{SEG_DIR}/segment.json",
    log:
        f"{LOGS}/production_segment/{{comp}}_T{{T}}_rep{{rep}}_seg{{seg}}.log",
    benchmark:
        f"{BENCH}/production_segment/{{comp}}_T{{T}}_rep{{rep}}_seg{{seg}}.tsv"
    group:
        RUN_GROUP
    conda:
        MD_ENV
    envmodules:
        *MD_MODULES,
    threads: md_threads()
    resources:
        **MD_RESOURCES,
        runtime=segment_runtime,
        mem_mb=segment_mem_mb,
    params:
        force_field=force_field,
        protocol=segment_protocol,
        engine=ENGINE_PHYSICS,
        run_keys=run_keys,
    script:
        "../scripts/production_segment.py"


rule production:
    input:
        unpack(production_inputs),
    output:
        trajectory=f"{RUN_DIR}/production/trajectory.gtrj",
        thermo=f"{RUN_DIR}/production/thermo.parquet",
        run_json=f"{RUN_DIR}/production/run.json",
    log:
        f"{LOGS}/production/{{comp}}_T{{T}}_rep{{rep}}.log",
    benchmark:
        f"{BENCH}/production/{{comp}}_T{{T}}_rep{{rep}}.tsv"
    group:
        production_group()
    conda:
        MD_ENV
    envmodules:
        *MD_MODULES,
    threads: production_threads()
    resources:
        **PRODUCTION_RESOURCES,
        runtime=production_runtime,
        mem_mb=2000,
    params:
        force_field=force_field,
        protocol=PRODUCTION_RUN_PROTOCOL,
        engine=ENGINE_PHYSICS,
        run_keys=run_keys,
    script:
        "../scripts/production.py"
