# Analyses, bundled: one job analyses all replicas of a (composition, T) and
# writes one tidy table per kind (rows keyed by replica); one job does all glasses
# of a composition. That keeps the DAG of a 10^4-run campaign small and saves a
# Python start-up per run.


rule analyse_runs:
    input:
        trajectories=point_runs(f"{RUN_DIR}/production/trajectory.gtrj"),
        run_jsons=point_runs(f"{RUN_DIR}/production/run.json"),
        rounds=point_round_records,
    output:
        **run_analysis_outputs(),
        softness_png=report(
            f"{RUN_TABLES}/softness.png",
            category="Softness",
            subcategory="{comp}",
            labels={"composition": "{comp}", "T": "{T} K"},
        ),
    log:
        f"{LOGS}/analyse_runs/{{comp}}_T{{T}}.log",
    benchmark:
        f"{BENCH}/analyse_runs/{{comp}}_T{{T}}.tsv"
    group:
        "analysis"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=lambda wc, attempt: 20 * attempt * len(CAMPAIGN.replicas),
        mem_mb=trajectory_mem_mb,
    params:
        settings=RUN_ANALYSIS_SETTINGS,
        potential=analysis_potential,
    script:
        "../scripts/analyse_runs.py"


rule analyse_glasses:
    input:
        glasses=per_replica(f"{GLASS_DIR}/glass.data"),
        glass_jsons=per_replica(f"{GLASS_DIR}/glass.json"),
    output:
        **glass_structure_outputs(),
    log:
        f"{LOGS}/analyse_glasses/{{comp}}.log",
    benchmark:
        f"{BENCH}/analyse_glasses/{{comp}}.tsv"
    group:
        "analysis"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=lambda wc, attempt: 10 * attempt * len(CAMPAIGN.replicas),
        mem_mb=2000,
    params:
        settings=GLASS_ANALYSIS_SETTINGS,
        species=lambda wc: list(comp_run(wc).composition.species),
    script:
        "../scripts/analyse_glasses.py"


rule dynamics_composition:
    input:
        summaries=lambda wc: run_tables("dynamics_summary", [wc.comp]),
        curves=lambda wc: run_tables("dynamics_curves", [wc.comp]),
        vanhove=lambda wc: run_tables("dynamics_vanhove", [wc.comp]),
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
        settings=DYNAMICS_SETTINGS,
    script:
        "../scripts/dynamics_composition.py"


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
