# What the report shows besides the headline figures: the thermodynamic traces of the
# MD runs (one job per composition, all replicas and temperatures in one figure, so a
# 10^4-run campaign adds two jobs per composition), the campaign tables as readable
# HTML pages (+ CSV), and the side-by-side comparison with other campaigns listed in
# the config key compare_with (e.g. the same grid under the other neutrality policy).


rule thermo_glass:
    input:
        thermo=glass_thermo_inputs,
    output:
        thermo=report(
            f"{R}/{{comp}}/thermo/glass.png",
            caption="../report/thermo.rst",
            category="Thermodynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "melt-quench traces"},
        ),
        quench=report(
            f"{R}/{{comp}}/thermo/quench_energy.png",
            caption="../report/quench_energy.rst",
            category="Thermodynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "quench E(T)"},
        ),
    log:
        f"{LOGS}/thermo_glass/{{comp}}.log",
    benchmark:
        f"{BENCH}/thermo_glass/{{comp}}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=10,
        mem_mb=1000,
    script:
        "../scripts/thermo_glass.py"


rule thermo_production:
    input:
        thermo=production_thermo_inputs,
    output:
        thermo=report(
            f"{R}/{{comp}}/thermo/production.png",
            caption="../report/thermo.rst",
            category="Thermodynamics",
            subcategory="{comp}",
            labels={"composition": "{comp}", "figure": "production traces"},
        ),
    log:
        f"{LOGS}/thermo_production/{{comp}}.log",
    benchmark:
        f"{BENCH}/thermo_production/{{comp}}.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=10,
        mem_mb=1000,
    script:
        "../scripts/thermo_production.py"


rule report_tables:
    input:
        table=f"{TABLES}/{{table}}.parquet",
    output:
        html=report(
            f"{TABLES}/{{table}}.html",
            caption="../report/tables.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
        csv=f"{TABLES}/{{table}}.csv",
    log:
        f"{LOGS}/report_tables/{{table}}.log",
    benchmark:
        f"{BENCH}/report_tables/{{table}}.tsv"
    wildcard_constraints:
        table="|".join(REPORT_TABLES),
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/report_table.py"


rule compare_campaigns:
    input:
        transport=compared_tables("transport"),
        arrhenius=compared_tables("arrhenius"),
        runs=compared_tables("runs"),
    output:
        transport=f"{TABLES}/comparison_transport.parquet",
        arrhenius=f"{TABLES}/comparison_arrhenius.parquet",
    log:
        f"{LOGS}/compare_campaigns.log",
    benchmark:
        f"{BENCH}/compare_campaigns.tsv"
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/compare_campaigns.py"


rule figure_compare_arrhenius:
    input:
        transport=compared_tables("transport"),
        arrhenius=f"{TABLES}/comparison_arrhenius.parquet",
    output:
        png=report(
            f"{FIGURES}/compare_arrhenius_{{quantity}}.png",
            caption="../report/compare_arrhenius.rst",
            category="Comparison of campaigns",
            labels={
                "figure": "Arrhenius, campaigns side by side",
                "quantity": "{quantity}",
            },
        ),
        pdf=f"{FIGURES}/compare_arrhenius_{{quantity}}.pdf",
    log:
        f"{LOGS}/figures/compare_arrhenius_{{quantity}}.log",
    benchmark:
        f"{BENCH}/figures/compare_arrhenius_{{quantity}}.tsv"
    wildcard_constraints:
        quantity="|".join(FIGURE_QUANTITIES),
    localrule: True
    conda:
        ANALYSIS_ENV
    script:
        "../scripts/figure_compare_arrhenius.py"
