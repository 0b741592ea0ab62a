# Force-field cross-check (glassflow.campaign.forcefield_crosscheck): every quenched glass
# against a machine-learned potential through ASE, then one table and one figure.
# Target: `snakemake crosscheck` (or crosscheck.enabled: true for the default target).


rule forcefield_crosscheck:
    """Forces of both force fields on the glass, a machine-learned anneal, both topologies."""
    input:
        glass=f"{GLASS_DIR}/glass.data",
        glass_json=f"{GLASS_DIR}/glass.json",
    output:
        forces=f"{R}/crosscheck/{{comp}}/rep{{rep}}/forces.parquet",
        topology=f"{R}/crosscheck/{{comp}}/rep{{rep}}/topology.parquet",
        thermo=f"{R}/crosscheck/{{comp}}/rep{{rep}}/anneal_thermo.parquet",
        annealed=f"{R}/crosscheck/{{comp}}/rep{{rep}}/annealed.data",
        record=f"{R}/crosscheck/{{comp}}/rep{{rep}}/crosscheck.json",
    log:
        f"{LOGS}/forcefield_crosscheck/{{comp}}_rep{{rep}}.log",
    benchmark:
        f"{BENCH}/forcefield_crosscheck/{{comp}}_rep{{rep}}.tsv"
    conda:
        "../../envs/mlip.yaml"
    threads: 1
    resources:
        runtime=240,
        mem_mb=4000,
    params:
        force_field=force_field,
        crosscheck=CROSSCHECK,
        relax_T_K=CFG["protocol"]["relax_T_K"],
        structure=GLASS_ANALYSIS_SETTINGS,
        seed=lambda wc: derive_seed(CFG["seed"], wc.comp, int(wc.rep), "crosscheck"),
    script:
        "../scripts/forcefield_crosscheck.py"


rule crosscheck_tables:
    """The per-glass cross-checks in two tables and one figure."""
    input:
        forces=crosscheck_inputs("forces"),
        topology=crosscheck_inputs("topology"),
        records=crosscheck_inputs("record"),
    output:
        forces=f"{TABLES}/forcefield_crosscheck_forces.parquet",
        topology=f"{TABLES}/forcefield_crosscheck_topology.parquet",
        figure=report(
            f"{FIGURES}/forcefield_crosscheck.png",
            caption="../report/forcefield_crosscheck.rst",
            category="Force field",
        ),
        pdf=f"{FIGURES}/forcefield_crosscheck.pdf",
    log:
        f"{LOGS}/crosscheck_tables.log",
    benchmark:
        f"{BENCH}/crosscheck_tables.tsv"
    conda:
        ANALYSIS_ENV
    threads: 1
    resources:
        runtime=10,
        mem_mb=2000,
    script:
        "../scripts/crosscheck_tables.py"


rule crosscheck:
    """Target: the force-field cross-check of every glass of the campaign."""
    default_target: False
    input:
        rules.crosscheck_tables.output,
