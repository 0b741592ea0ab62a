# Structure and network topology of each quenched glass and each production run.


def structure_outputs(base):
    return {
        name: base + f"/{name}.parquet"
        for name in ("gr", "sk", "angles", "summary", "topology")
    }


rule structure_glass:
    input:
        structure=GLASS_DIR + "/glass.data",
        run_json=GLASS_DIR + "/glass.json",
    output:
        **structure_outputs(GLASS_DIR + "/structure"),
    params:
        stage="glass",
        species=lambda wc: list(comp_run(wc).composition.species),
        settings=CFG["analysis"]["structure"],
    log:
        LOGS + "/structure_glass/{comp}_rep{rep}.log",
    benchmark:
        BENCH + "/structure_glass/{comp}_rep{rep}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=20,
        mem_mb=2000,
    group:
        "analysis"
    script:
        "../scripts/structure_run.py"


rule structure_production:
    input:
        structure=RUN_DIR + "/production/trajectory.gtrj",
        run_json=RUN_DIR + "/production/run.json",
    output:
        **structure_outputs(RUN_DIR + "/structure"),
    params:
        stage="production",
        species=lambda wc: list(comp_run(wc).composition.species),
        settings=CFG["analysis"]["structure"],
    log:
        LOGS + "/structure_production/{comp}_T{T}_rep{rep}.log",
    benchmark:
        BENCH + "/structure_production/{comp}_T{T}_rep{rep}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=30,
        mem_mb=trajectory_mem_mb,
    group:
        "analysis"
    script:
        "../scripts/structure_run.py"


def structure_tables_of(comp, name):
    glass = [GLASS_DIR.format(comp=comp, rep=f"{r:02d}") for r in CAMPAIGN.replicas]
    return [d + f"/structure/{name}.parquet" for d in glass + run_dirs(comp)]


rule structure_figures:
    input:
        gr=lambda wc: structure_tables_of(wc.comp, "gr"),
        sk=lambda wc: structure_tables_of(wc.comp, "sk"),
        angles=lambda wc: structure_tables_of(wc.comp, "angles"),
        topology=lambda wc: structure_tables_of(wc.comp, "topology"),
    output:
        gr_png=report(
            R + "/{comp}/structure/gr.png",
            category="Structure",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "g(r)"},
        ),
        sk_png=report(
            R + "/{comp}/structure/sk.png",
            category="Structure",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "S(k)"},
        ),
        angles_png=report(
            R + "/{comp}/structure/angles.png",
            category="Structure",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "bond angles"},
        ),
        topology_png=report(
            R + "/{comp}/structure/topology.png",
            category="Structure",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "topology"},
        ),
    log:
        LOGS + "/structure_figures/{comp}.log",
    benchmark:
        BENCH + "/structure_figures/{comp}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=10,
        mem_mb=2000,
    script:
        "../scripts/structure_figures.py"
