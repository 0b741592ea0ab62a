# Campaign level: tables, Arrhenius fits, the headline figures, the report.


rule tables:
    input:
        runs=finished(run_tables("runs")),
        transport=finished(run_tables("dynamics_summary")),
        structure=finished(
            glass_tables("structure_summary") + run_tables("structure_summary")
        ),
        topology=finished(
            glass_tables("structure_topology") + run_tables("structure_topology")
        ),
        softness=finished(run_tables("softness_summary")),
    output:
        runs=report(f"{TABLES}/runs.parquet", category="Tables"),
        transport=report(f"{TABLES}/transport.parquet", category="Tables"),
        structure=report(f"{TABLES}/structure.parquet", category="Tables"),
        topology=report(f"{TABLES}/topology.parquet", category="Tables"),
        softness=report(f"{TABLES}/softness.parquet", category="Tables"),
        missing=f"{TABLES}/missing.parquet",
    log:
        f"{LOGS}/tables.log",
    localrule: True
    conda:
        ANALYSIS_ENV
    params:
        expected=expected_runs(),
        config_hash=PHYSICS_HASH,
    script:
        "../scripts/tables.py"


rule arrhenius:
    input:
        transport=f"{TABLES}/transport.parquet",
    output:
        arrhenius=report(f"{TABLES}/arrhenius.parquet", category="Tables"),
    log:
        f"{LOGS}/arrhenius.log",
    benchmark:
        f"{BENCH}/arrhenius.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/arrhenius.py"


rule figure_arrhenius:
    input:
        transport=f"{TABLES}/transport.parquet",
        arrhenius=f"{TABLES}/arrhenius.parquet",
    output:
        png=report(
            f"{FIGURES}/arrhenius_{{quantity}}.png",
            category="Arrhenius",
            labels={"figure": "Arrhenius", "quantity": "{quantity}"},
        ),
        pdf=f"{FIGURES}/arrhenius_{{quantity}}.pdf",
    log:
        f"{LOGS}/figures/arrhenius_{{quantity}}.log",
    wildcard_constraints:
        quantity="|".join(FIGURE_QUANTITIES),
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/figure_arrhenius.py"


rule figure_rigidity_threshold:
    input:
        transport=f"{TABLES}/transport.parquet",
        arrhenius=f"{TABLES}/arrhenius.parquet",
        topology=f"{TABLES}/topology.parquet",
    output:
        png=report(
            f"{FIGURES}/rigidity_threshold_x{{x}}.png",
            category="Rigidity threshold",
            labels={"figure": "rigidity threshold", "x": "{x}"},
        ),
        pdf=f"{FIGURES}/rigidity_threshold_x{{x}}.pdf",
    log:
        f"{LOGS}/figures/rigidity_threshold_x{{x}}.log",
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/figure_rigidity_threshold.py"


rule figure_conductivity_map:
    input:
        transport=f"{TABLES}/transport.parquet",
    output:
        png=report(
            f"{FIGURES}/conductivity_map_T{{T}}.png",
            category="Conductivity map",
            subcategory="T = {T} K",
            labels={"figure": "conductivity map", "T": "{T} K"},
        ),
        pdf=f"{FIGURES}/conductivity_map_T{{T}}.pdf",
    log:
        f"{LOGS}/figures/conductivity_map_T{{T}}.log",
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/figure_conductivity_map.py"
