# Shared by all the workflow's .smk files: the expanded campaign, path patterns, wildcard
# constraints and input/params functions. No rules here.
import json
import math
import os
import sys
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from glassflow.config.schema import ConfigError, load_schema
from glassflow.config.grid import build_campaign, derive_seed, replica_label
from glassflow.config.grid import composition_run_at
from glassflow.campaign.adaptive_rounds import adaptive_from_config, adaptive_m_of_label
from glassflow.md.lammps import Engine, force_field_context, slurm_resources
from glassflow.md.packing import GLASS_GROUP as PACK_GLASS_GROUP
from glassflow.md.packing import RUN_GROUP as PACK_RUN_GROUP
from glassflow.md.packing import GPUS_PER_RUN_ENV, RUNS_PER_GPU_ENV
from glassflow.md.packing import PackComponents, Packs, pack_from_config
from glassflow.md.potential import required_pair_styles
from glassflow.md.preflight import preflight_settings
from glassflow.analysis.table_names import (
    DYNAMICS_TABLES,
    SOFTNESS_TABLES,
    STRUCTURE_TABLES,
)
from glassflow.config.rule_params import (
    analysis_settings,
    canonical,
    cell_settings,
    engine_physics,
    melt_quench_protocol,
    physics_config,
    potential_settings,
    production_protocol,
)
from glassflow.md.segments import SegmentPlan, segments_to_run
from glassflow.campaign.tables import config_hash
from glassflow.campaign.convergence import (
    glass_replica,
    initial_layout,
    layout_of_round,
    plan_from_config,
    velocity_seed_needed,
    walk_rounds,
)

SCHEMA_FILE = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
try:
    # validated=True: the Snakefile validated config (its digest marks it)
    CAMPAIGN = build_campaign(
        config, SCHEMA_FILE, root=Path(workflow.basedir), validated=True
    )
except ConfigError as err:
    raise WorkflowError(str(err)) from None

CFG = CAMPAIGN.config
R = str(CAMPAIGN.results)  # results/<campaign>
ENGINE = Engine.from_config(CFG["engine"])
ENGINE_KIND = CFG["engine"]["kind"]  # lammps, or ase (a machine-learned calculator)
MD_ENV = (
    "../../envs/mlip.yaml"
    if ENGINE_KIND == "ase"
    else f"../../envs/{CFG['engine']['conda_env']}.yaml"
)
ANALYSIS_ENV = "../../envs/analysis.yaml"
# The envs' post-deploy scripts (envs/*.post-deploy.sh) put this checkout's src/ on
# the new env's path; Snakemake runs them from the working directory, so they find
# the workflow through this variable.
# (set, not read: no envvars directive needed; update() keeps the linter quiet)
os.environ.update(GLASSFLOW_SOURCE=str(Path(workflow.basedir).resolve()))

# How MD jobs are laid out on Slurm (snakemake-executor-plugin-slurm resources: mpi,
# tasks, cpus_per_task, gpu, gpu_model, tasks_per_gpu; see docs/slurm.md) and the
# environment modules of the MD rules (--sdm env-modules).
MD_RESOURCES = slurm_resources(ENGINE)
MD_MODULES = list(ENGINE.modules)

# Packed MD (cluster.pack, glassflow.md.packing, docs/slurm.md): runs_per_job runs of
# one stage share a job group name (pack_run00000, ...), --group-components merges them
# into one job, --cores lets all of them run side by side, and the submit command
# (glassflow slurm-submit) shares GPUs between runs_per_gpu of them.
PACK = pack_from_config(CFG)
if PACK is not None:
    os.environ[RUNS_PER_GPU_ENV] = str(PACK.runs_per_gpu)
    os.environ[GPUS_PER_RUN_ENV] = str(ENGINE.gpus if ENGINE.uses_gpus else 1)
    _GLASS_PACKS = Packs(PACK_GLASS_GROUP, PACK.runs_per_job)
    _RUN_PACKS = Packs(PACK_RUN_GROUP, PACK.runs_per_job)


def glass_pack(wildcards):
    """Job group of a glass (cell build and melt-quench) with cluster.pack."""
    return _GLASS_PACKS.name((wildcards.comp, wildcards.rep))


def run_pack(wildcards):
    """Job group of a run (its production, or all its segments) with cluster.pack."""
    return _RUN_PACKS.name((wildcards.comp, wildcards.T, wildcards.rep))


GLASS_GROUP = glass_pack if PACK else None
RUN_GROUP = run_pack if PACK else None


def _pack_groups():
    """--group-components of the packs = runs_per_job, and --cores at least the CPUs
    of one packed job (Snakemake splits a group whose jobs need more than --cores into
    rows run one after another). Snakemake hands the workflow its group settings only
    when it executes, after the Snakefile is read: set while the DAG is built."""
    given = workflow.group_settings.group_components
    if isinstance(given, PackComponents):
        return
    clash = sorted(g for g in given if g.startswith((PACK_GLASS_GROUP, PACK_RUN_GROUP)))
    if clash:
        raise WorkflowError(
            f"--group-components {clash[0]}={given[clash[0]]}: the pack groups are sized "
            f"by config key 'cluster.pack.runs_per_job' ({PACK.runs_per_job}); set that"
        )
    workflow.group_settings.group_components = PackComponents(given, PACK.runs_per_job)
    need = PACK.runs_per_job * ENGINE.mpi_ranks * ENGINE.threads
    cores = workflow.global_resources["_cores"].value
    if cores is not None and cores < need:
        workflow.register_resource("_cores", need)


def _packing_input(wildcards):
    return {"packing": packing_guard(wildcards)} if PACK is not None else {}


def packing_guard(wildcards):
    """No input. With cluster.pack: packs the MD groups (_pack_groups) and refuses an
    executor that cannot run packed jobs, while the DAG is built (the executor is
    known then, not when the Snakefile is read)."""
    if PACK is None or workflow.remote_exec:
        return []
    _pack_groups()
    if workflow.dryrun:
        return []
    name = getattr(workflow.executor_plugin, "name", None)
    if name != "cluster-generic":
        raise WorkflowError(
            f"config key 'cluster.pack' packs MD runs into Slurm allocations, but this "
            f"run uses the {name or 'local'} executor: run it with "
            "--profile profiles/slurm-pack (the cluster-generic executor and "
            "glassflow slurm-submit; the slurm plugin runs a group's jobs one after "
            "another), or remove cluster.pack"
        )
    return []


# Every MD job waits for the preflight (its output is an ancient() input: a rerun
# of the preflight reruns no MD job). Params: what the check depends on.
PREFLIGHT = f"{R}/preflight/{ENGINE_KIND}.json"
PREFLIGHT_SETTINGS = (
    canonical({"kind": "ase", "ase": CFG["engine"].get("ase", {})})
    if ENGINE_KIND == "ase"
    else canonical(preflight_settings(CFG["engine"]))
)
if ENGINE_KIND == "lammps" and not CAMPAIGN.potential.is_buckingham_table:
    PREFLIGHT_SETTINGS["pair_styles"] = canonical(
        asdict(required_pair_styles(CAMPAIGN.potential))
    )
# the MD jobs' GPU request (one task), so that it runs on the same kind of node
PREFLIGHT_RESOURCES = {
    k: v for k, v in MD_RESOURCES.items() if k in ("gpu", "gpu_model", "tasks_per_gpu")
}

# Rule params: only the keys a rule computes with, canonical (sorted keys, defaults
# filled, numbers typed by the schema), so cosmetic config edits rerun nothing. How
# LAMMPS is launched (engine.command, launcher, ranks, threads, GPUs, accelerator,
# conda_env) is not a param: scripts read it from the validated config. See
# docs/reruns.md and glassflow.config.rule_params.
SCHEMA = load_schema(SCHEMA_FILE)
ENGINE_PHYSICS = engine_physics(CFG, SCHEMA)
MELT_QUENCH_PROTOCOL = melt_quench_protocol(CFG, SCHEMA)
PRODUCTION_PROTOCOL = production_protocol(CFG, SCHEMA)
# Production in segments (glassflow.md.segments): without a target and with one segment
# the production rule runs LAMMPS itself, with today's params; otherwise it stitches
# the segments of checkpoint production_segment and its params hold the segment keys.
SEGMENTS = SegmentPlan.from_config(CFG)
# Convergence targets per (composition, T) (glassflow.campaign.convergence): None without
# targets; otherwise checkpoint point_round judges each round of a point's runs and the
# replica lists and segment counts below walk its verdicts.
CONVERGENCE = plan_from_config(CFG)
N_GLASSES = CFG["replicas"]  # glasses per composition; replicas beyond reuse them
SEGMENT_KEYS = (
    "converge_species",
    "max_production_ps",
    "segment_ps",
    "target_rel_error",
)
PRODUCTION_RUN_PROTOCOL = (
    canonical(
        dict(PRODUCTION_PROTOCOL, **{k: CFG["protocol"].get(k) for k in SEGMENT_KEYS}),
        SCHEMA["properties"]["protocol"],
    )
    if SEGMENTS.segmented
    else PRODUCTION_PROTOCOL
)
RUN_ANALYSIS_SETTINGS = analysis_settings(
    CFG, SCHEMA, ("dynamics", "structure", "softness")
)
GLASS_ANALYSIS_SETTINGS = analysis_settings(CFG, SCHEMA, ("structure",))["structure"]
DYNAMICS_SETTINGS = analysis_settings(CFG, SCHEMA, ("dynamics",))["dynamics"]
PHYSICS_HASH = config_hash(physics_config(CFG, SCHEMA))
# the force-field cross-check's settings (all of them physics), canonical
CROSSCHECK = canonical(
    {k: v for k, v in CFG["crosscheck"].items() if k != "enabled"},
    SCHEMA["properties"]["crosscheck"],
)

# Path patterns ------------------------------------------------------------------
GLASS_DIR = f"{R}/{{comp}}/rep{{rep}}/glass"
RUN_DIR = f"{R}/{{comp}}/T{{T}}/rep{{rep}}"
SEG_DIR = f"{RUN_DIR}/production/segments/{{seg}}"  # one production segment
TABLES = f"{R}/tables"
FIGURES = f"{R}/figures"
LOGS = f"{R}/logs"
BENCH = f"{R}/benchmarks"


# Wide enough for every value the schema accepts: labels come from
# composition_label (x in [0, 1), any m >= 2), T{T_K:d} and f"{replica:02d}".
# rep is \d{2,} spelled \d\d+: Snakemake's wildcard parser cannot read "{2,}".
wildcard_constraints:
    comp=r"x\d\.\d{2}_m\d+\.\d{2}",
    T=r"\d+",
    rep=r"\d\d+",
    x=r"\d\.\d{2}",
    seg=r"[1-9]\d*",
    round=r"\d\d+",


def comp_run(wildcards):
    """The CompositionRun of a wildcard set; clear error for unknown labels."""
    return composition_run(wildcards.comp)


def run_keys_of(comp, T, rep):
    """Keys of one run (composition label, T in K, replica number), as written into
    run.json and every table."""
    composition = composition_run(comp).composition
    keys = {
        "campaign": CAMPAIGN.name,
        "comp": comp,
        "x": float(composition.x_requested),
        "m": float(composition.m_requested),
        "T_K": float(T),
        "replica": int(rep),
    }
    if velocity_seed_needed(int(rep), N_GLASSES):  # a replica added by the rounds
        keys["glass_replica"] = glass_replica(int(rep), N_GLASSES)
        # new Maxwell-Boltzmann velocities: it shares its glass with an earlier replica
        keys["velocity_seed"] = derive_seed(
            CFG["seed"], "velocities", comp, T, int(rep)
        )
    return keys


def run_keys(wildcards, T_K=None):
    """run_keys_of the job's wildcards (T_K instead of {T} for the glass stages)."""
    comp_run(wildcards)  # a clear error for a composition outside the campaign
    return run_keys_of(
        wildcards.comp, T_K if T_K is not None else wildcards.T, wildcards.rep
    )


def cell_params(wildcards):
    """Everything build_cell needs: counts, charges, masses, box, seed (canonical)."""
    cr = comp_run(wildcards)
    comp = cr.composition
    return cell_settings(
        {
            "label": comp.label,
            "replica": int(wildcards.rep),
            "seed": CAMPAIGN.seed(comp.label, int(wildcards.rep)),
            "species": list(comp.species),
            "counts": comp.counts,
            "charges": cr.charges_used,
            "masses": {el: CAMPAIGN.potential.masses[el] for el in comp.species},
            "box_A": cr.box_A,
            "min_distance_A": CFG["cell"]["min_distance_A"],
            "x_requested": comp.x_requested,
            "m_requested": comp.m_requested,
            "x_achieved": comp.x_achieved,
            "m_achieved": comp.m_achieved,
            "density_g_cm3": cr.density_g_cm3,
            "net_charge_e": cr.net_charge_e,
            "potential_charges": {
                el: CAMPAIGN.potential.charges[el] for el in comp.species
            },
            "neutrality": CFG["system"]["neutrality"],
            "potential": CAMPAIGN.potential.name,
        }
    )


# Per-composition params, computed once per composition and process: every MD job of
# a composition has the same ones, and building them (the pair lines, the SHA-256 of
# table or model files, canonical) costs more than the rest of the job's params. They
# depend on the config and the potential files only, which a run does not change.
# The same object goes to every job of the composition: nothing mutates params.
@lru_cache(maxsize=None)
def _force_field_of(comp):
    cr = composition_run(comp)
    return canonical(
        force_field_context(
            CAMPAIGN.potential,
            cr.composition.species,
            cr.charges_used,
            ENGINE_PHYSICS,
            CFG["protocol"],
        )
    )


@lru_cache(maxsize=None)
def _analysis_potential_of(comp):
    return potential_settings(
        CAMPAIGN.potential, composition_run(comp).composition.species
    )


def force_field(wildcards):
    """Template context shared by every LAMMPS input of a composition."""
    comp_run(wildcards)  # a clear error for a composition outside the campaign
    return _force_field_of(wildcards.comp)


def analysis_potential(wildcards):
    """The potential as the analyses use it (charges, masses, pairs), not its path."""
    comp_run(wildcards)
    return _analysis_potential_of(wildcards.comp)


def glass_of_run(wildcards):
    """The glass directory a run starts from: its own replica's, or for a replica the
    convergence rounds added, glass ((rep - 1) mod replicas) + 1."""
    g = glass_replica(int(wildcards.rep), N_GLASSES)
    return GLASS_DIR.format(comp=wildcards.comp, rep=f"{g:02d}")


def production_start(wildcards):
    """Reheat the relaxed glass (Sorensen 2023) or cool the melt (the PRL)."""
    name = (
        "glass.data" if CFG["protocol"]["production_start"] == "reheat" else "melt.data"
    )
    return f"{glass_of_run(wildcards)}/{name}"


def md_threads():
    return ENGINE.mpi_ranks * ENGINE.threads


def md_gpus():
    return MD_RESOURCES["gpu"]


def production_group():
    """Packed with the other runs when it runs MD, alone when it stitches segments."""
    return None if SEGMENTS.segmented else RUN_GROUP


def production_threads():
    return 1 if SEGMENTS.segmented else md_threads()


# the production rule stitches segments on one core when the run is segmented
PRODUCTION_RESOURCES = {} if SEGMENTS.segmented else MD_RESOURCES


def segment_number(wildcards):
    """The segment index of a wildcard set; clear error outside the plan."""
    k = int(wildcards.seg)
    if k > SEGMENTS.n_max:
        raise WorkflowError(
            f"production segment {k} is beyond this campaign's plan: at most "
            f"{SEGMENTS.n_max} segments of {SEGMENTS.segment_ps:g} ps "
            "(protocol.max_production_ps / protocol.segment_ps)"
        )
    return k


@lru_cache(maxsize=None)
def _segment_protocol_of(k):
    start, end = SEGMENTS.bounds_ps(k)
    p = {key: v for key, v in PRODUCTION_PROTOCOL.items() if key != "production_ps"}
    return canonical(dict(p, segment_start_ps=float(start), segment_end_ps=float(end)))


def segment_protocol(wildcards):
    """Params of a segment: the production physics without the run length, and the
    segment's start and end (ps of production). The same for segment k of every run:
    built once per k (the same object for each; nothing mutates params)."""
    return _segment_protocol_of(segment_number(wildcards))


def segment_path(wildcards, k, name):
    return f"{SEG_DIR}/{name}".format(
        comp=wildcards.comp, T=wildcards.T, rep=wildcards.rep, seg=k
    )


def segment_inputs(wildcards):
    """Segment 1 starts from the glass (or melt); segment k from segment k-1's end
    state, and its D estimate needs the frames of every earlier segment."""
    k = segment_number(wildcards)
    common = {
        "glass_json": f"{glass_of_run(wildcards)}/glass.json",
        "preflight": ancient(PREFLIGHT),
        **_packing_input(wildcards),
    }
    if k == 1:
        return dict(common, start=production_start(wildcards), previous_frames=[])
    return dict(
        common,
        restart=segment_path(wildcards, k - 1, "end.restart"),
        previous_record=segment_path(wildcards, k - 1, "segment.json"),
        previous_frames=[
            segment_path(wildcards, j, "frames.gtrj") for j in range(1, k)
        ],
    )


def checkpoint_record(checkpoint, path, **wildcards):
    """``path``, the record checkpoint ``checkpoint`` writes for ``wildcards``, once it
    exists; until then Snakemake's incomplete-checkpoint exception (wait for the job).

    Snakemake re-evaluates a job's input after a checkpoint the job depends on
    directly. Jobs created while the DAG is being updated can sit one rule further
    down (adaptive round -> point estimate -> convergence round of a point added by an
    earlier round): when a rerun finds such a record already on disk, Snakemake would
    leave the job's input "to be determined" and run it on the rounds known so far. A
    record is written atomically as its job ends, so a record on disk is the
    checkpoint's verdict and is read from disk; only a missing one waits.
    """
    try:
        return checkpoint.get(**wildcards).output.record
    except IncompleteCheckpointException:
        if os.path.exists(path):
            return path
        raise


def production_segments(wildcards):
    """Segments of a run: the ones that cover production_ps, then (with a target) one
    more for each segment whose verdict is 'not converged', up to max_production_ps.

    The verdicts are read from checkpoint production_segment: a dry run lists the
    segments known in advance and leaves the rest to checkpoint evaluation. With
    convergence targets the point's rounds set the count (point_layout).
    """
    if CONVERGENCE is not None:
        layout = point_layout(wildcards.comp, wildcards.T)
        rep = int(wildcards.rep)
        if rep not in layout:
            raise WorkflowError(
                f"replica {rep} of {wildcards.comp} T{wildcards.T} is not one of the "
                f"point's runs {sorted(layout)} (set by its convergence rounds)"
            )
        return list(range(1, layout[rep] + 1))

    def read_record(k):
        path = checkpoint_record(
            checkpoints.production_segment,
            segment_path(wildcards, k, "segment.json"),
            comp=wildcards.comp,
            T=wildcards.T,
            rep=wildcards.rep,
            seg=str(k),
        )
        return json.loads(Path(path).read_text())

    return segments_to_run(read_record, SEGMENTS)


def production_inputs(wildcards):
    """Unsegmented: the start structure. Segmented: every segment's files, in order."""
    glass_json = f"{glass_of_run(wildcards)}/glass.json"
    if not SEGMENTS.segmented:
        return {
            "start": production_start(wildcards),
            "glass_json": glass_json,
            "preflight": ancient(PREFLIGHT),
            **_packing_input(wildcards),
        }
    segs = production_segments(wildcards)
    return {
        "glass_json": glass_json,
        **{
            f"segment_{kind}": [segment_path(wildcards, k, name) for k in segs]
            for kind, name in (
                ("frames", "frames.gtrj"),
                ("thermo", "thermo.parquet"),
                ("records", "segment.json"),
            )
        },
    }


# Convergence rounds of a point ------------------------------------------------------
ROUND_RECORD = f"{R}/{{comp}}/T{{T}}/convergence/round{{round}}.json"


def point_keys(wildcards):
    """Keys of a point (campaign, comp, x, m, T_K), as in its round records."""
    keys = run_keys_of(wildcards.comp, wildcards.T, 1)
    del keys["replica"]
    return keys


@lru_cache(maxsize=4096)
def _json_of(path, mtime_ns, size):
    return json.loads(Path(path).read_text())


def round_record(path):
    """A round record of checkpoint point_round, parsed once per version of the file
    (a rerun of the round rewrites it: new mtime, and the next read sees the new one).
    Every run of a point walks the point's rounds, so each record is read once per run
    and input function otherwise. Bounded: the points of the runs being planned."""
    st = os.stat(path)
    return _json_of(str(path), st.st_mtime_ns, st.st_size)


def _read_round(comp, T):
    def read(i):
        r = f"{i:02d}"
        path = ROUND_RECORD.format(comp=comp, T=T, round=r)
        return round_record(
            checkpoint_record(checkpoints.point_round, path, comp=comp, T=T, round=r)
        )

    return read


# the runs of every point without convergence targets (callers only read it)
FIXED_LAYOUT = {r: SEGMENTS.n_fixed for r in CAMPAIGN.replicas}


def _layout0():
    return initial_layout(N_GLASSES, SEGMENTS.n_fixed)


def point_layout(comp, T):
    """The runs of a point, replica -> segments: the campaign's replicas with the
    segments of production_ps, extended by every round of checkpoint point_round that
    missed a target. A dry run shows round 0 and leaves later rounds to the checkpoint.
    """
    if CONVERGENCE is None:  # point_replicas: adaptive_common.smk
        replicas = point_replicas(comp)
        if replicas is CAMPAIGN.replicas:
            return FIXED_LAYOUT
        return {r: SEGMENTS.n_fixed for r in replicas}
    try:
        layout, _ = walk_rounds(
            _read_round(comp, T), _layout0(), CONVERGENCE, SEGMENTS.n_fixed
        )
    except ValueError as err:
        raise WorkflowError(str(err)) from None
    return layout


def point_round_inputs(wildcards):
    """The segment frames of the runs round {round} judges, one named list per replica."""
    try:
        layout = layout_of_round(
            _read_round(wildcards.comp, wildcards.T),
            _layout0(),
            CONVERGENCE,
            SEGMENTS.n_fixed,
            int(wildcards.round),
        )
    except ValueError as err:
        raise WorkflowError(f"{wildcards.comp} T{wildcards.T}: {err}") from None
    return {
        f"frames_rep{r:02d}": [
            f"{SEG_DIR}/frames.gtrj".format(
                comp=wildcards.comp, T=wildcards.T, rep=f"{r:02d}", seg=k
            )
            for k in range(1, n + 1)
        ]
        for r, n in sorted(layout.items())
    }


def point_round_records(wildcards):
    """Every round record of a point (none without convergence targets)."""
    if CONVERGENCE is None:
        return []
    _, decisions = walk_rounds(
        _read_round(wildcards.comp, wildcards.T),
        _layout0(),
        CONVERGENCE,
        SEGMENTS.n_fixed,
    )
    return [
        ROUND_RECORD.format(comp=wildcards.comp, T=wildcards.T, round=f"{i:02d}")
        for i in range(len(decisions))
    ]


def point_runs(pattern):
    """Input function: ``pattern`` ({comp}, {T}, {rep}) for every run of the point."""

    def runs(wildcards):
        layout = point_layout(wildcards.comp, wildcards.T)
        return [
            pattern.format(comp=wildcards.comp, T=wildcards.T, rep=f"{r:02d}")
            for r in sorted(layout)
        ]

    return runs


def convergence_slots():
    """Runs that go side by side (convergence.parallel_runs, else the cores given over
    one run's threads, or the job limit of a cluster executor)."""
    n = CFG["convergence"]["parallel_runs"]
    if n:
        return int(n)
    local = workflow.local_exec
    total = (workflow._cores if local else workflow.nodes) or 1
    return max(1, int(total) // (md_threads() if local else 1))


# Target lists -------------------------------------------------------------------
def comp_x_values():
    return sorted(
        {f"{cr.composition.x_requested:.2f}" for cr in CAMPAIGN.compositions.values()}
    )


# Bundled analyses ----------------------------------------------------------------
def per_replica(pattern):
    """``pattern`` with {rep} filled for every replica; {comp} and {T} stay wildcards."""
    return [pattern.replace("{rep}", f"{r:02d}") for r in CAMPAIGN.replicas]


RUN_TABLES = f"{R}/{{comp}}/T{{T}}/tables"  # analyses of all replicas of a (comp, T)
GLASS_TABLES = f"{R}/{{comp}}/tables"  # analyses of all glasses of a composition


def run_analysis_outputs():
    """Tables of all replicas of one (composition, T): dynamics, structure, softness."""
    out = {}
    for stage, names in (
        ("dynamics", DYNAMICS_TABLES),
        ("structure", STRUCTURE_TABLES),
        ("softness", SOFTNESS_TABLES),
    ):
        for name in names:
            out[f"{stage}_{name}"] = f"{RUN_TABLES}/{stage}_{name}.parquet"
    out["runs"] = f"{RUN_TABLES}/runs.parquet"
    return out


def glass_structure_outputs():
    """Structure tables of all glasses (replicas) of one composition."""
    return {
        f"structure_{name}": f"{GLASS_TABLES}/glass_structure_{name}.parquet"
        for name in STRUCTURE_TABLES
    }


def run_tables(table, comps=None, temperatures=None):
    """Combined per-(comp, T) tables, e.g. run_tables("dynamics_summary", ["x0.50_m2.00"])."""
    return [
        f"{RUN_TABLES}/{table}.parquet".format(comp=c, T=t)
        for c in (comps or CAMPAIGN.compositions)
        for t in (temperatures or CAMPAIGN.temperatures_K)
    ]


def glass_tables(table, comps=None):
    return [
        f"{GLASS_TABLES}/glass_{table}.parquet".format(comp=c)
        for c in (comps or CAMPAIGN.compositions)
    ]


def structure_tables_of(comp, name):
    return glass_tables(f"structure_{name}", [comp]) + run_tables(
        f"structure_{name}", [comp]
    )


# Campaign level ------------------------------------------------------------------
FIGURE_QUANTITIES = ["D_Na", "D_Si", "D_S", "sigmaT"]
# 1 sigma relative-error targets of the plotted quantities (glassflow.figures): the
# production stop rule's target for D of each converge species; none without a target
FIGURE_TARGETS = (
    {f"D_{el}": SEGMENTS.target_rel_error for el in SEGMENTS.converge_species}
    if SEGMENTS.target_rel_error is not None
    else {}
)
if CONVERGENCE is not None:  # sigma*T has the relative error of sigma
    FIGURE_TARGETS = {
        ("sigmaT" if q == "sigma" else q): e for q, e in CONVERGENCE.targets.items()
    }


def finished(paths):
    """With allow_missing_runs, only the outputs that exist (others are reported)."""
    return (
        [p for p in paths if Path(p).is_file()] if CFG["allow_missing_runs"] else paths
    )


def expected_runs():
    """run_keys_of every run of the campaign, with the path of its production log."""
    out = []
    for comp, T, rep in CAMPAIGN.runs():
        keys = run_keys_of(comp, T, rep)
        keys["log"] = f"{LOGS}/production/{comp}_T{T}_rep{rep:02d}.log"
        out.append(keys)
    return out


def per_comp_T_tables():
    """Every output of analyse_runs and analyse_glasses: tables a plain run restores."""
    run_outputs = [*run_analysis_outputs().values(), f"{RUN_TABLES}/softness.png"]
    return [
        *expand(
            run_outputs,
            comp=list(CAMPAIGN.compositions),
            T=CAMPAIGN.temperatures_K,
        ),
        *expand(
            list(glass_structure_outputs().values()), comp=list(CAMPAIGN.compositions)
        ),
    ]


def crosscheck_inputs(name):
    """One file per glass of the campaign from the force-field cross-check."""
    file = "crosscheck.json" if name == "record" else f"{name}.parquet"
    return [
        f"{R}/crosscheck/{comp}/rep{rep}/{file}"
        for comp in CAMPAIGN.compositions
        for rep in REPLICA_LABELS
    ]


# Adaptive refinement along m (adaptive_common.smk, adaptive.smk) -------------------------
# Compositions an adaptive round adds are not in the config's grid: composition_run
# builds them (same n_atoms, cell and charges as a grid point) for labels at adaptive.x
# inside adaptive.bounds.
ADAPTIVE = adaptive_from_config(CFG)  # None without adaptive.enabled
_ADAPTIVE_RUNS = {}


def composition_run(label):
    """The CompositionRun of a composition label: the config's grid, else (adaptive
    campaigns) a composition at adaptive.x inside adaptive.bounds."""
    if label in CAMPAIGN.compositions:
        return CAMPAIGN.compositions[label]
    if label in _ADAPTIVE_RUNS:
        return _ADAPTIVE_RUNS[label]
    m = adaptive_m_of_label(ADAPTIVE, label)
    if m is None:
        raise WorkflowError(
            f"composition {label!r} is not in campaign {CAMPAIGN.name!r} "
            f"(has {sorted(CAMPAIGN.compositions)}"
            + (
                f", and adaptive compositions at x = {ADAPTIVE.x:.2f} with m in "
                f"{list(ADAPTIVE.settings.bounds)})"
                if ADAPTIVE is not None
                else ")"
            )
        )
    try:
        _ADAPTIVE_RUNS[label] = composition_run_at(CAMPAIGN, ADAPTIVE.x, m)
    except ValueError as err:
        raise WorkflowError(str(err)) from None
    return _ADAPTIVE_RUNS[label]
