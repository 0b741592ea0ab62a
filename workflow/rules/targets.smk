# The default target's inputs: everything a campaign makes. Included last, after every
# rules file whose names it uses (paths, figure lists, comparison targets); `rule all`
# itself stays in the Snakefile (Snakemake takes the default target from there only).


def run_products():
    """Every run's trajectory and run.json, and every glass and its glass.json.

    Snakemake reruns a job only for outputs that something asks for. Listing these
    here means a trajectory that is missing (deleted, or lost to an interrupted forced
    rerun) is remade by a plain run, and the tables made from it follow (mtime).
    With allow_missing_runs, only the runs that finished are asked for.
    """
    runs = [
        f"{RUN_DIR}/production/{name}".format(comp=comp, T=T, rep=f"{rep:02d}")
        for comp, T, rep in CAMPAIGN.runs()
        for name in ("trajectory.gtrj", "run.json")
    ]
    glasses = [
        f"{GLASS_DIR}/{name}".format(comp=comp, rep=label)
        for comp in CAMPAIGN.compositions
        for label in REPLICA_LABELS
        for name in ("glass.data", "glass.json")
    ]
    return finished(runs) + finished(glasses)


def all_targets():
    comps = list(CAMPAIGN.compositions)
    return [
        *run_products(),
        *per_comp_T_tables(),
        f"{TABLES}/runs.parquet",
        f"{TABLES}/arrhenius.parquet",
        *expand(f"{FIGURES}/arrhenius_{{quantity}}.png", quantity=FIGURE_QUANTITIES),
        *expand(f"{FIGURES}/rigidity_threshold_x{{x}}.png", x=list(SERIES)),
        *expand(f"{FIGURES}/conductivity_map_T{{T}}.png", T=CAMPAIGN.temperatures_K),
        *expand(f"{FIGURES}/diffusivity_map_T{{T}}.png", T=CAMPAIGN.temperatures_K),
        *expand(f"{FIGURES}/prl_transport_x{{x}}.png", x=list(SERIES)),
        *expand(f"{FIGURES}/prl_activation_x{{x}}.png", x=list(SERIES)),
        f"{FIGURES}/constraint_diagnostic.png",
        *expand(f"{R}/{{comp}}/dynamics/summary.parquet", comp=comps),
        *expand(f"{R}/{{comp}}/structure/gr.png", comp=comps),
        # report.smk: thermo traces per composition, tables as HTML, comparison
        *expand(f"{R}/{{comp}}/thermo/{{name}}.png", comp=comps, name=THERMO_FIGURES),
        *expand(f"{TABLES}/{{table}}.html", table=REPORT_TABLES),
        *comparison_targets(),
        # adaptive.smk: the adaptive rounds' tables and figure, when enabled
        *adaptive_targets(),
        # crosscheck.smk: the force-field cross-check, when enabled
        *(
            [f"{TABLES}/forcefield_crosscheck_topology.parquet"]
            if CFG["crosscheck"]["enabled"]
            else []
        ),
    ]
