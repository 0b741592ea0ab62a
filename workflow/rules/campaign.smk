# Campaign level: tables, Arrhenius fits, the headline figures and the constraint
# diagnostic. One job per figure (per quantity, x or T); every figure is a report
# item with its caption (workflow/report/*.rst). The tables are shown in the report
# as HTML pages by report_tables (report.smk), not as parquet bytes.


# campaign_comps(), adaptive_*: adaptive_common.smk (the config's grid without adaptive)
rule tables:
    input:
        runs=lambda wc: finished(run_tables("runs", campaign_comps())),
        transport=lambda wc: finished(run_tables("dynamics_summary", campaign_comps())),
        structure=finished(
            glass_tables("structure_summary") + run_tables("structure_summary")
        ),
        topology=finished(
            glass_tables("structure_topology") + run_tables("structure_topology")
        ),
        softness=lambda wc: finished(run_tables("softness_summary", campaign_comps())),
        adaptive=adaptive_records,
    output:
        runs=f"{TABLES}/runs.parquet",
        transport=f"{TABLES}/transport.parquet",
        structure=f"{TABLES}/structure.parquet",
        topology=f"{TABLES}/topology.parquet",
        softness=f"{TABLES}/softness.parquet",
        missing=f"{TABLES}/missing.parquet",
    log:
        f"{LOGS}/tables.log",
    benchmark:
        f"{BENCH}/tables.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    params:
        expected=campaign_expected_runs,
        config_hash=PHYSICS_HASH,
        rounds=adaptive_point_rounds,
    script:
        "../scripts/tables.py"


rule arrhenius:
    input:
        transport=f"{TABLES}/transport.parquet",
    output:
        arrhenius=f"{TABLES}/arrhenius.parquet",
    log:
        f"{LOGS}/arrhenius.log",
    benchmark:
        f"{BENCH}/arrhenius.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/arrhenius.py"


rule constraint_diagnostic:
    input:
        topology=f"{TABLES}/topology.parquet",
    output:
        diagnostic=f"{TABLES}/constraint_diagnostic.parquet",
        gap=f"{TABLES}/constraint_gap.parquet",
        png=report(
            f"{FIGURES}/constraint_diagnostic.png",
            caption="../report/constraint_diagnostic.rst",
            category="Rigidity",
            subcategory="all compositions",
            labels={"figure": "constraint diagnostic", "x": "all"},
        ),
        pdf=f"{FIGURES}/constraint_diagnostic.pdf",
    log:
        f"{LOGS}/constraint_diagnostic.log",
    benchmark:
        f"{BENCH}/constraint_diagnostic.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/constraint_diagnostic.py"


rule figure_arrhenius:
    input:
        transport=f"{TABLES}/transport.parquet",
        arrhenius=f"{TABLES}/arrhenius.parquet",
    output:
        png=report(
            f"{FIGURES}/arrhenius_{{quantity}}.png",
            caption="../report/arrhenius.rst",
            category="Arrhenius",
            labels={"figure": "Arrhenius", "quantity": "{quantity}"},
        ),
        pdf=f"{FIGURES}/arrhenius_{{quantity}}.pdf",
    log:
        f"{LOGS}/figures/arrhenius_{{quantity}}.log",
    benchmark:
        f"{BENCH}/figures/arrhenius_{{quantity}}.tsv"
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
            caption="../report/rigidity_threshold.rst",
            category="Rigidity",
            subcategory="x = {x}",
            labels={"figure": "rigidity threshold", "x": "{x}"},
        ),
        pdf=f"{FIGURES}/rigidity_threshold_x{{x}}.pdf",
    log:
        f"{LOGS}/figures/rigidity_threshold_x{{x}}.log",
    benchmark:
        f"{BENCH}/figures/rigidity_threshold_x{{x}}.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    params:
        series=series_params,
        targets=FIGURE_TARGETS,
    script:
        "../scripts/figure_rigidity_threshold.py"


rule figure_prl_transport:
    input:
        transport=f"{TABLES}/transport.parquet",
    output:
        png=report(
            f"{FIGURES}/prl_transport_x{{x}}.png",
            caption="../report/prl_transport.rst",
            category="Rigidity",
            subcategory="x = {x}",
            labels={"figure": "PRL test: transport against m", "x": "{x}"},
        ),
        pdf=f"{FIGURES}/prl_transport_x{{x}}.pdf",
    log:
        f"{LOGS}/figures/prl_transport_x{{x}}.log",
    benchmark:
        f"{BENCH}/figures/prl_transport_x{{x}}.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    params:
        series=series_params,
        targets=FIGURE_TARGETS,
    script:
        "../scripts/figure_prl_transport.py"


rule figure_prl_activation:
    input:
        arrhenius=f"{TABLES}/arrhenius.parquet",
    output:
        png=report(
            f"{FIGURES}/prl_activation_x{{x}}.png",
            caption="../report/prl_activation.rst",
            category="Rigidity",
            subcategory="x = {x}",
            labels={"figure": "PRL test: activation energy against m", "x": "{x}"},
        ),
        pdf=f"{FIGURES}/prl_activation_x{{x}}.pdf",
    log:
        f"{LOGS}/figures/prl_activation_x{{x}}.log",
    benchmark:
        f"{BENCH}/figures/prl_activation_x{{x}}.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    params:
        series=series_params,
    script:
        "../scripts/figure_prl_activation.py"


rule figure_conductivity_map:
    input:
        transport=f"{TABLES}/transport.parquet",
    output:
        png=report(
            f"{FIGURES}/conductivity_map_T{{T}}.png",
            caption="../report/conductivity_map.rst",
            category="Composition maps",
            subcategory="T = {T} K",
            labels={"figure": "conductivity map", "T": "{T} K"},
        ),
        pdf=f"{FIGURES}/conductivity_map_T{{T}}.pdf",
    log:
        f"{LOGS}/figures/conductivity_map_T{{T}}.log",
    benchmark:
        f"{BENCH}/figures/conductivity_map_T{{T}}.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    params:
        targets=FIGURE_TARGETS,
    script:
        "../scripts/figure_conductivity_map.py"


rule figure_diffusivity_map:
    input:
        transport=f"{TABLES}/transport.parquet",
    output:
        png=report(
            f"{FIGURES}/diffusivity_map_T{{T}}.png",
            caption="../report/diffusivity_map.rst",
            category="Composition maps",
            subcategory="T = {T} K",
            labels={"figure": "Na diffusivity map", "T": "{T} K"},
        ),
        pdf=f"{FIGURES}/diffusivity_map_T{{T}}.pdf",
    log:
        f"{LOGS}/figures/diffusivity_map_T{{T}}.log",
    benchmark:
        f"{BENCH}/figures/diffusivity_map_T{{T}}.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    params:
        targets=FIGURE_TARGETS,
    script:
        "../scripts/figure_diffusivity_map.py"
