# Structure and network topology of each quenched glass and each production run.


rule structure_glass:
    input:
        structure=f"{GLASS_DIR}/glass.data",
        run_json=f"{GLASS_DIR}/glass.json",
    output:
        **structure_outputs(f"{GLASS_DIR}/structure"),
    log:
        f"{LOGS}/structure_glass/{{comp}}_rep{{rep}}.log",
    benchmark:
        f"{BENCH}/structure_glass/{{comp}}_rep{{rep}}.tsv"
    group:
        "analysis"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=20,
        mem_mb=2000,
    params:
        stage="glass",
        species=lambda wc: list(comp_run(wc).composition.species),
        settings=CFG["analysis"]["structure"],
    script:
        "../scripts/structure_run.py"


rule structure_production:
    input:
        structure=f"{RUN_DIR}/production/trajectory.gtrj",
        run_json=f"{RUN_DIR}/production/run.json",
    output:
        **structure_outputs(f"{RUN_DIR}/structure"),
    log:
        f"{LOGS}/structure_production/{{comp}}_T{{T}}_rep{{rep}}.log",
    benchmark:
        f"{BENCH}/structure_production/{{comp}}_T{{T}}_rep{{rep}}.tsv"
    group:
        "analysis"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=30,
        mem_mb=trajectory_mem_mb,
    params:
        stage="production",
        species=lambda wc: list(comp_run(wc).composition.species),
        settings=CFG["analysis"]["structure"],
    script:
        "../scripts/structure_run.py"


rule structure_figures:
    input:
        gr=lambda wc: structure_tables_of(wc.comp, "gr"),
        sk=lambda wc: structure_tables_of(wc.comp, "sk"),
        angles=lambda wc: structure_tables_of(wc.comp, "angles"),
        topology=lambda wc: structure_tables_of(wc.comp, "topology"),
    output:
        gr_png=report(
            f"{R}/{{comp}}/structure/gr.png",
            category="Structure",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "g(r)"},
        ),
        sk_png=report(
            f"{R}/{{comp}}/structure/sk.png",
            category="Structure",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "S(k)"},
        ),
        angles_png=report(
            f"{R}/{{comp}}/structure/angles.png",
            category="Structure",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "bond angles"},
        ),
        topology_png=report(
            f"{R}/{{comp}}/structure/topology.png",
            category="Structure",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "topology"},
        ),
    log:
        f"{LOGS}/structure_figures/{{comp}}.log",
    benchmark:
        f"{BENCH}/structure_figures/{{comp}}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=10,
        mem_mb=2000,
    script:
        "../scripts/structure_figures.py"
