# Runtime and memory requests of the jobs (Slurm resources), from the protocol's real
# stages and the measured speed of the MD (glassflow.md.cost; docs/slurm.md, "How long
# an MD job asks to run"). Included right after common.smk. No rules here.
from glassflow.md.cost import (
    CPU_ATOM_STEPS_PER_S,
    block_mem_mb,
    md_speed,
    melt_quench_stages,
    production_stages,
    runtime_minutes,
    total_steps,
)
from glassflow.md.cost import trajectory_mem_mb as trajectory_mem_mb_of

# Atom-steps per second of one MD job as launched: engine.atom_steps_per_s, else the
# median over this campaign's finished glass.json / run.json launched the same way,
# else a constant per core (CPU) or per GPU job.
MD_SPEED = md_speed(CFG["engine"], CAMPAIGN.results)


def md_minutes(n_atoms, n_steps, attempt):
    """Requested runtime (min): estimate at MD_SPEED x2 safety, x attempt, >= 10 min."""
    return runtime_minutes(n_atoms, n_steps, MD_SPEED.atom_steps_per_s, attempt)


def melt_quench_runtime(wildcards, attempt):
    """Minimise, melt, every quench stage of protocol.quench, relax."""
    n = comp_run(wildcards).composition.n_atoms
    return md_minutes(n, total_steps(melt_quench_stages(CFG["protocol"])), attempt)


def production_runtime(wildcards, attempt):
    """Ramp from the start temperature to {T}, equilibration, production_ps."""
    if SEGMENTS.segmented:  # stitching the segments' files
        return 10 * attempt
    n = comp_run(wildcards).composition.n_atoms
    stages = production_stages(CFG["protocol"], float(wildcards.T))
    return md_minutes(n, total_steps(stages), attempt)


def segment_runtime(wildcards, attempt):
    """MD of one segment (the first one also ramps to {T} and equilibrates)."""
    first = segment_number(wildcards) == 1
    stages = production_stages(
        CFG["protocol"], float(wildcards.T), SEGMENTS.segment_ps, first=first
    )
    n = comp_run(wildcards).composition.n_atoms
    return md_minutes(n, total_steps(stages), attempt)


def segment_mem_mb(wildcards, attempt):
    """Memory of the D estimate: one block of atoms over every frame so far."""
    return block_mem_mb(
        SEGMENTS.bounds_ps(segment_number(wildcards))[1],
        CFG["protocol"]["dump_interval_fs"],
        DYNAMICS_SETTINGS.get("chunk_atoms", 256),
        attempt,
    )


def trajectory_mem_mb(wildcards, attempt):
    """Analysis memory: twice the longest trajectory a run can have (frames x atoms x
    bytes; a segmented run may be extended) plus 500 MB, at least 1 GB."""
    p = CFG["protocol"]
    return trajectory_mem_mb_of(
        SEGMENTS.n_max * SEGMENTS.segment_ps,
        p["dump_interval_fs"],
        comp_run(wildcards).composition.n_atoms,
        bool(p["dump_velocities"]),
        attempt,
    )
