# Shared by campaign.smk and report.smk: the composition series of the "against m at
# fixed x" figures, the campaigns to compare with (checked before any job runs), the
# tables and figures of the report, and the input/params functions of their rules.
from glassflow.campaign.compare import check_compare_dirs
from glassflow.campaign.series import fixed_x_series

# Rigidity-threshold and PRL figures: one per series (glassflow.campaign.series): the m values
# of one grid x, or an explicit m-series at fixed N and modifier count (the PRL's NS9),
# drawn at the x of its parent glass.
SERIES = fixed_x_series([cr.composition for cr in CAMPAIGN.compositions.values()])

try:
    COMPARE_WITH = check_compare_dirs(CFG["compare_with"], R)
except ValueError as err:
    raise WorkflowError(str(err)) from None

# Campaign tables rendered for the report (tables/<name>.parquet -> .html + .csv)
REPORT_TABLES = [
    "runs",
    "transport",
    "arrhenius",
    "structure",
    "topology",
    "constraint_diagnostic",
    "constraint_gap",
    "softness",
    "missing",
] + (["comparison_transport", "comparison_arrhenius"] if COMPARE_WITH else [])


THERMO_FIGURES = ["glass", "quench_energy", "production"]
REPLICA_LABELS = [f"{r:02d}" for r in CAMPAIGN.replicas]


def finished_thermo(paths):
    """thermo.parquet inputs; with allow_missing_runs only those that exist. The scripts
    read the glass.json / run.json beside each (written by the same job): declaring them
    too would add 10^4 DAG edges to a 10^4-run campaign for nothing."""
    return (
        [p for p in paths if Path(p).is_file()] if CFG["allow_missing_runs"] else paths
    )


def glass_thermo_inputs(wildcards):
    """thermo.parquet of every glass (replica) of a composition."""
    return finished_thermo(
        [
            f"{GLASS_DIR.format(comp=wildcards.comp, rep=r)}/thermo.parquet"
            for r in REPLICA_LABELS
        ]
    )


def production_thermo_inputs(wildcards):
    """thermo.parquet of every production run (T, replica) of a composition."""
    return finished_thermo(
        [
            f"{RUN_DIR.format(comp=wildcards.comp, T=T, rep=r)}/production/thermo.parquet"
            for T in CAMPAIGN.temperatures_K
            for r in REPLICA_LABELS
        ]
    )


def compared_tables(name):
    """tables/<name>.parquet of this campaign, then of each campaign of compare_with."""
    return [
        f"{TABLES}/{name}.parquet",
        *(f"{d}/tables/{name}.parquet" for d in COMPARE_WITH),
    ]


def comparison_targets():
    """Comparison tables and figures, when the config lists campaigns to compare with."""
    if not COMPARE_WITH:
        return []
    return [
        f"{TABLES}/comparison_transport.parquet",
        *expand(
            f"{FIGURES}/compare_arrhenius_{{quantity}}.png", quantity=FIGURE_QUANTITIES
        ),
    ]


def series_params(wildcards):
    """The series drawn at x = {x}: its x and the (x, m) of its compositions."""
    try:
        s = SERIES[wildcards.x]
    except KeyError:
        raise WorkflowError(
            f"x = {wildcards.x} names no composition series of campaign {CAMPAIGN.name!r} "
            f"(has {sorted(SERIES)})"
        ) from None
    return {"x": s.x, "kind": s.kind, "members": [list(p) for p in s.members]}
