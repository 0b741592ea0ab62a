# Campaign level: tables, Arrhenius fits, the headline figures, the report.
from glassflow.tables import config_hash, git_commit

FIGURE_QUANTITIES = ["D_Na", "D_Si", "D_S", "sigmaT"]


def runs_for_tables():
    """Production runs to aggregate: all, or only finished ones with allow_missing_runs."""
    dirs = run_dirs()
    if CFG["allow_missing_runs"]:
        dirs = [d for d in dirs if Path(d + "/dynamics/summary.parquet").is_file()]
    return dirs


def glasses_for_tables():
    dirs = glass_dirs()
    if CFG["allow_missing_runs"]:
        dirs = [d for d in dirs if Path(d + "/structure/summary.parquet").is_file()]
    return dirs


def expected_runs():
    out = []
    for comp, T, rep in CAMPAIGN.runs():
        keys = run_keys(type("W", (), {"comp": comp, "rep": f"{rep:02d}", "T": T}))
        keys["log"] = f"{LOGS}/production/{comp}_T{T}_rep{rep:02d}.log"
        out.append(keys)
    return out


rule tables:
    input:
        run_jsons=lambda wc: [d + "/production/run.json" for d in runs_for_tables()],
        glass_jsons=lambda wc: [d + "/glass.json" for d in glasses_for_tables()],
        transport=lambda wc: [d + "/dynamics/summary.parquet" for d in runs_for_tables()],
        structure=lambda wc: [
            d + "/structure/summary.parquet" for d in glasses_for_tables() + runs_for_tables()
        ],
        topology=lambda wc: [
            d + "/structure/topology.parquet" for d in glasses_for_tables() + runs_for_tables()
        ],
    output:
        runs=report(TABLES + "/runs.parquet", category="Tables"),
        transport=report(TABLES + "/transport.parquet", category="Tables"),
        structure=report(TABLES + "/structure.parquet", category="Tables"),
        topology=report(TABLES + "/topology.parquet", category="Tables"),
        missing=TABLES + "/missing.parquet",
    params:
        expected=expected_runs(),
        config_hash=config_hash(CFG),
        git_commit=git_commit(workflow.basedir),
    log:
        LOGS + "/tables.log",
    conda:
        ANALYSIS_ENV
    localrule: True
    script:
        "../scripts/tables.py"


rule arrhenius:
    input:
        transport=TABLES + "/transport.parquet",
    output:
        arrhenius=report(TABLES + "/arrhenius.parquet", category="Tables"),
    log:
        LOGS + "/arrhenius.log",
    benchmark:
        BENCH + "/arrhenius.tsv"
    conda:
        ANALYSIS_ENV
    localrule: True
    script:
        "../scripts/arrhenius.py"


rule figure_arrhenius:
    input:
        transport=TABLES + "/transport.parquet",
        arrhenius=TABLES + "/arrhenius.parquet",
    output:
        png=report(
            FIGURES + "/arrhenius_{quantity}.png",
            category="Arrhenius",
            labels={"figure": "Arrhenius", "quantity": "{quantity}"},
        ),
        pdf=FIGURES + "/arrhenius_{quantity}.pdf",
    wildcard_constraints:
        quantity="|".join(FIGURE_QUANTITIES),
    log:
        LOGS + "/figures/arrhenius_{quantity}.log",
    conda:
        ANALYSIS_ENV
    localrule: True
    script:
        "../scripts/figure_arrhenius.py"


rule figure_rigidity_threshold:
    input:
        transport=TABLES + "/transport.parquet",
        arrhenius=TABLES + "/arrhenius.parquet",
        topology=TABLES + "/topology.parquet",
    output:
        png=report(
            FIGURES + "/rigidity_threshold_x{x}.png",
            category="Rigidity threshold",
            labels={"figure": "rigidity threshold", "x": "{x}"},
        ),
        pdf=FIGURES + "/rigidity_threshold_x{x}.pdf",
    log:
        LOGS + "/figures/rigidity_threshold_x{x}.log",
    conda:
        ANALYSIS_ENV
    localrule: True
    script:
        "../scripts/figure_rigidity_threshold.py"


rule figure_conductivity_map:
    input:
        transport=TABLES + "/transport.parquet",
    output:
        png=report(
            FIGURES + "/conductivity_map_T{T}.png",
            category="Conductivity map",
            subcategory="T = {T} K",
            labels={"figure": "conductivity map", "T": "{T} K"},
        ),
        pdf=FIGURES + "/conductivity_map_T{T}.pdf",
    log:
        LOGS + "/figures/conductivity_map_T{T}.log",
    conda:
        ANALYSIS_ENV
    localrule: True
    script:
        "../scripts/figure_conductivity_map.py"


def all_targets():
    comps = list(CAMPAIGN.compositions)
    return [
        TABLES + "/runs.parquet",
        TABLES + "/arrhenius.parquet",
        *expand(FIGURES + "/arrhenius_{quantity}.png", quantity=FIGURE_QUANTITIES),
        *expand(FIGURES + "/rigidity_threshold_x{x}.png", x=comp_x_values()),
        *expand(FIGURES + "/conductivity_map_T{T}.png", T=CAMPAIGN.temperatures_K),
        *expand(R + "/{comp}/dynamics/summary.parquet", comp=comps),
        *expand(R + "/{comp}/structure/gr.png", comp=comps),
    ]
