"""Production in segments that extends itself until D is converged (docs/physics.md §4).

A production run is a chain of segments, each one Snakemake job (so that each fits a
cluster wall time). Segment k covers production steps ``(start, end]`` and continues
exactly from the end state of segment k - 1 (a LAMMPS restart file). The protocol keys:

- ``production_ps``: the length that is always run (the first
  ``production_ps / segment_ps`` segments are known before anything runs);
- ``segment_ps``: length of one segment (default: ``production_ps``, one segment);
- ``target_rel_error``: after ``production_ps``, keep adding segments until the 1 sigma
  relative error ``D_err / D`` of every species in ``converge_species`` is at most this
  (null: the run has the fixed length ``production_ps``);
- ``max_production_ps``: never run longer than this (default: ``production_ps``);
- ``converge_species``: the elements whose D must converge (default: the modifier).

D and its standard error are the whole-trajectory GLS Einstein fit of
:func:`glassflow.analysis.dynamics.transport.fit_einstein` (eq 4 on the all-origin MSD of eq 2), on
the lags the dynamics analysis uses, so a segment's verdict is the number the analysis
tables will report for that trajectory.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from glassflow.io.trajectory import Trajectory, TrajectoryError

if TYPE_CHECKING:
    # the analysis (scipy.stats, scipy.fft: about 1 s) is imported where D is computed, so
    # that the plan, the stop rule and the records load without it (`glassflow status`)
    from glassflow.analysis.dynamics.correlations import DynamicsSettings
    from glassflow.analysis.dynamics.transport import DiffusionFit, MSDCurve

FloatArray = npt.NDArray[np.float64]

#: stop reasons (the first words of ``stop_reason``)
CONVERGED = "converged"
MAX_REACHED = "max_production_ps reached"
FIXED_LENGTH = "fixed length"
POINT_ROUNDS = "set by the convergence rounds of its (composition, T)"
#: relative tolerance when comparing lengths in ps (they come from YAML floats)
_PS_TOL = 1e-9


@dataclass(frozen=True)
class SegmentPlan:
    """How a production run is cut into segments and when it stops (module doc).

    Lengths in ps. ``production_ps`` and ``max_production_ps`` are whole numbers of
    ``segment_ps`` (checked by :func:`segment_problems`). With ``point_rounds`` a run's
    length is not decided by its own D but by the convergence rounds of its
    (composition, T) (:mod:`glassflow.campaign.convergence`): its segments are those the
    rounds asked for, at most ``max_production_ps``.
    """

    production_ps: float
    segment_ps: float
    max_production_ps: float
    target_rel_error: float | None
    converge_species: tuple[str, ...]
    point_rounds: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SegmentPlan:
        """The plan of a validated config: :meth:`from_protocol`, or with convergence
        targets (``convergence.targets``) a plan whose segments the point's rounds set,
        up to the point's whole budget ``convergence.max_trajectory_ps`` for one run."""
        plan = cls.from_protocol(config["protocol"], config["system"]["modifier"])
        conv = config.get("convergence") or {}
        if not conv.get("targets"):
            return plan
        top = float(conv["max_trajectory_ps"])
        n = max(plan.n_fixed, math.floor(top / plan.segment_ps + _PS_TOL))
        return dataclasses.replace(
            plan, max_production_ps=n * plan.segment_ps, target_rel_error=None, point_rounds=True
        )

    @classmethod
    def from_protocol(cls, protocol: Mapping[str, Any], modifier: str) -> SegmentPlan:
        """The plan of a validated ``protocol`` block; nulls take their defaults."""
        prod = float(protocol["production_ps"])
        seg = protocol.get("segment_ps")
        top = protocol.get("max_production_ps")
        species = protocol.get("converge_species")
        target = protocol.get("target_rel_error")
        return cls(
            production_ps=prod,
            segment_ps=prod if seg is None else float(seg),
            max_production_ps=prod if top is None else float(top),
            target_rel_error=None if target is None else float(target),
            converge_species=(modifier,) if species is None else tuple(species),
        )

    @property
    def n_fixed(self) -> int:
        """Segments that always run (they cover ``production_ps``)."""
        return max(1, round(self.production_ps / self.segment_ps))

    @property
    def n_max(self) -> int:
        """Most segments a run can have: ``max_production_ps / segment_ps`` (with a
        target), else :attr:`n_fixed`."""
        if self.target_rel_error is None and not self.point_rounds:
            return self.n_fixed
        return max(self.n_fixed, round(self.max_production_ps / self.segment_ps))

    @property
    def segmented(self) -> bool:
        """False for today's single production job: no target and one segment."""
        return self.target_rel_error is not None or self.point_rounds or self.n_fixed > 1

    def bounds_ps(self, k: int) -> tuple[float, float]:
        """Production time (ps) at the start and end of segment ``k`` (1-based)."""
        if not 1 <= k <= self.n_max:
            raise ValueError(f"segment {k} is outside 1..{self.n_max} of this plan")
        return (k - 1) * self.segment_ps, k * self.segment_ps

    def bounds_steps(self, k: int, timestep_fs: float) -> tuple[int, int]:
        """Production steps at the start and end of segment ``k``."""
        a, b = self.bounds_ps(k)
        return round(a * 1000.0 / timestep_fs), round(b * 1000.0 / timestep_fs)


@dataclass(frozen=True)
class Segment:
    """One production segment: production steps ``start_step`` to ``end_step``.

    The first segment (``index`` 1) starts from a data file (the glass or the melt),
    ramps to T and equilibrates, then runs production steps ``0 .. end_step``; its
    trajectory holds step 0. Segment k >= 2 starts from the end state of segment
    k - 1 (``start_file``: for LAMMPS its restart file, read with ``read_restart``, so
    positions, velocities, the timestep count and the Nose-Hoover thermostat state
    continue) and holds the frames after ``start_step`` (step ``start_step`` is the last
    frame of segment k - 1, not repeated).
    """

    index: int
    start_step: int
    end_step: int
    start_file: Path

    def __post_init__(self) -> None:
        if self.index < 1 or not 0 <= self.start_step < self.end_step:
            raise ValueError(f"not a production segment: {self}")
        if (self.index == 1) != (self.start_step == 0):
            raise ValueError(f"only the first segment starts at step 0: {self}")

    @classmethod
    def whole_run(cls, protocol: Mapping[str, Any], start_file: str | Path) -> Segment:
        """The single segment of an unsegmented run: all of ``protocol.production_ps``.

        Parameters
        ----------
        protocol
            The run's protocol (``production_ps``, ``timestep_fs``).
        start_file
            The glass or melt data file the run starts from.

        Returns
        -------
        Segment
            Segment 1, production steps ``0 .. production_ps / timestep_fs``.
        """
        end = round(protocol["production_ps"] * 1000.0 / protocol["timestep_fs"])
        return cls(1, 0, end, Path(start_file))


def segment_steps(segment: Segment, protocol: Mapping[str, Any]) -> npt.NDArray[np.int64]:
    """Steps of the frames a segment stores (step 0 only in the first segment).

    Parameters
    ----------
    segment
        The segment.
    protocol
        The run's protocol (``timestep_fs``, ``dump_interval_fs``).

    Returns
    -------
    numpy.ndarray
        The steps, int64, ascending.
    """
    every = round(protocol["dump_interval_fs"] / protocol["timestep_fs"])
    first = 0 if segment.index == 1 else segment.start_step + every
    return np.arange(first, segment.end_step + 1, every, dtype=np.int64)


def _whole(value: float, unit: float) -> bool:
    """True when ``value`` is a whole, positive number of ``unit`` (to 1e-9)."""
    n = value / unit
    return n >= 1 - _PS_TOL and abs(n - round(n)) <= _PS_TOL * max(1.0, abs(n))


def segment_problems(protocol: Mapping[str, Any], species: Sequence[str]) -> list[str]:
    """Config errors of the segment keys of a validated ``protocol`` block.

    ``species`` are the system's elements (modifier, former, anion). Checked: a segment
    is a whole number of dump and restart intervals (so segments end on a stored frame
    and on a restart step, where LAMMPS rebuilds neighbour lists as a fresh start
    does); ``production_ps`` and ``max_production_ps`` are whole numbers of segments;
    ``max_production_ps >= production_ps``, and above it only with a target;
    ``converge_species`` are elements of the system.
    """
    p = protocol
    out: list[str] = []
    prod = float(p["production_ps"])
    seg = prod if p.get("segment_ps") is None else float(p["segment_ps"])
    top = prod if p.get("max_production_ps") is None else float(p["max_production_ps"])
    target = p.get("target_rel_error")
    if p.get("segment_ps") is not None or target is not None:
        for key in ("dump_interval_fs", "restart_interval_fs"):
            if not _whole(seg * 1000.0, float(p[key])):
                out.append(
                    f"config key 'protocol.segment_ps': {seg:g} ps is not a whole number of "
                    f"protocol.{key} ({p[key]:g} fs); each segment must end on a "
                    f"{'stored frame' if key.startswith('dump') else 'restart step'}"
                )
        if seg * 1000.0 < 2 * float(p["dump_interval_fs"]):
            out.append(
                f"config key 'protocol.segment_ps': {seg:g} ps holds fewer than two frames "
                f"(dump_interval_fs = {p['dump_interval_fs']:g})"
            )
    if not _whole(prod, seg):
        out.append(
            f"config key 'protocol.production_ps': {prod:g} ps is not a whole number of "
            f"protocol.segment_ps ({seg:g} ps)"
        )
    if top < prod * (1 - _PS_TOL):
        out.append(
            f"config key 'protocol.max_production_ps': {top:g} ps is shorter than "
            f"protocol.production_ps ({prod:g} ps); expected >= production_ps"
        )
    elif p.get("max_production_ps") is not None and not _whole(top, seg):
        out.append(
            f"config key 'protocol.max_production_ps': {top:g} ps is not a whole number of "
            f"protocol.segment_ps ({seg:g} ps)"
        )
    elif target is None and top > prod * (1 + _PS_TOL):
        out.append(
            f"config key 'protocol.max_production_ps': {top:g} ps > production_ps "
            f"({prod:g} ps) has no effect without protocol.target_rel_error; set a target "
            "or drop max_production_ps"
        )
    for el in p.get("converge_species") or ():
        if el not in species:
            out.append(
                f"config key 'protocol.converge_species': {el!r} is not an element of the "
                f"system (expected some of {list(species)})"
            )
    return out


# --------------------------------------------------------------------------------------
# the stop rule
# --------------------------------------------------------------------------------------
def relative_error(d: float | None, d_err: float | None) -> float | None:
    """1 sigma relative error ``D_err / D``; None without a positive, finite D and error."""
    if d is None or d_err is None:
        return None
    if not (math.isfinite(d) and math.isfinite(d_err)) or d <= 0 or d_err < 0:
        return None
    return d_err / d


@dataclass(frozen=True)
class StopDecision:
    """Whether a run stops after a segment, and the reason (for run.json and the log)."""

    stop: bool
    reason: str


def _rel_text(rel_errors: Mapping[str, float | None], species: Sequence[str]) -> str:
    parts = []
    for el in species:
        r = rel_errors.get(el)
        parts.append(f"D_{el} {r:.2f}" if r is not None else f"D_{el} not diffusive")
    return ", ".join(parts)


def stop_decision(
    total_ps: float, rel_errors: Mapping[str, float | None], plan: SegmentPlan
) -> StopDecision:
    """Stop rule after a segment that brings production to ``total_ps``.

    ``rel_errors``: 1 sigma relative error of D per element (None: no D, e.g. not
    diffusive). In order:

    1. shorter than ``production_ps``: go on (``production_ps`` always runs);
    2. no target: stop, ``fixed length``;
    3. every species of ``converge_species`` has ``rel_error <= target``: stop,
       ``converged: rel. error of D_Na 0.08 <= 0.1``;
    4. ``total_ps >= max_production_ps``: stop, ``max_production_ps reached (...)``;
    5. otherwise go on, saying which species is not converged.
    """
    if total_ps < plan.production_ps * (1 - _PS_TOL):
        return StopDecision(False, f"{total_ps:g} of production_ps {plan.production_ps:g} ps done")
    target = plan.target_rel_error
    if target is None:
        return StopDecision(True, FIXED_LENGTH)
    species = plan.converge_species
    values = [rel_errors.get(el) for el in species]
    text = _rel_text(rel_errors, species)
    if all(r is not None and r <= target for r in values):
        return StopDecision(True, f"{CONVERGED}: rel. error of {text} <= {target:g}")
    if total_ps >= plan.max_production_ps * (1 - _PS_TOL):
        return StopDecision(True, f"{MAX_REACHED} ({text}; target {target:g})")
    return StopDecision(False, f"not converged: rel. error of {text}; target {target:g}")


# --------------------------------------------------------------------------------------
# D +- error of one species from a trajectory held in one or more files
# --------------------------------------------------------------------------------------
def _check_same_system(trajectories: Sequence[Trajectory]) -> None:
    first = trajectories[0]
    for t in trajectories[1:]:
        same = (
            t.species == first.species
            and np.array_equal(t.types, first.types)
            and t.timestep_fs == first.timestep_fs
        )
        if not same:
            raise TrajectoryError(
                f"{t.path}: not a continuation of {first.path} (species, atom types or "
                "timestep differ)"
            )


def trajectory_times_ps(trajectories: Sequence[Trajectory]) -> FloatArray:
    """Frame times (ps) of consecutive trajectory files, in order."""
    return np.concatenate([np.asarray(t.times_ps, dtype=np.float64) for t in trajectories])


def species_msd_curve(
    trajectories: Sequence[Trajectory], species: str, settings: DynamicsSettings
) -> MSDCurve:
    """All-origin MSD (eq 2, Å^2) of ``species`` over consecutive trajectory files.

    The files hold consecutive, non-overlapping frames of one run (the segments of a
    production run); they are read as one trajectory, one block of ``chunk_atoms``
    atoms at a time. The lags are those of the dynamics analysis
    (:func:`glassflow.analysis.dynamics.correlations.analysis_lags`), so the fit below is
    the analysis' fit.
    """
    from glassflow.analysis.dynamics.correlations import (
        analysis_lags,
        displacement_moment_sums,
        frame_interval_ps,
    )
    from glassflow.analysis.dynamics.transport import MSDCurve

    if not trajectories:
        raise ValueError("species_msd_curve needs at least one trajectory")
    _check_same_system(trajectories)
    dt = frame_interval_ps(trajectory_times_ps(trajectories))
    n = sum(t.n_frames for t in trajectories)
    idx = trajectories[0].indices_of(species)
    acc = np.zeros(n)
    for s in range(0, idx.size, settings.chunk_atoms):
        atoms = idx[s : s + settings.chunk_atoms]
        pos = np.concatenate([t.positions(atoms=atoms) for t in trajectories], axis=0)
        r2, _ = displacement_moment_sums(
            np.ascontiguousarray(np.transpose(pos, (1, 2, 0)), np.float64), fourth=False
        )
        acc += r2
    lags = analysis_lags(n, settings)
    return MSDCurve(lags, acc[lags] / idx.size, float(idx.size), n, dt)


def charge_msd_curve(trajectories: Sequence[Trajectory], settings: DynamicsSettings) -> MSDCurve:
    """Collective charge MSD ``<|sum_i z_i dr_i(t)|^2>`` (eq 5, e^2 Å^2) over consecutive
    trajectory files, centre-of-mass drift removed, on the dynamics analysis' lags.

    The same quantity as the ``charge_msd_e2A2`` curve of
    :func:`glassflow.analysis.dynamics.correlations.analyse_trajectory` for the stitched
    run; ``n_particles`` is 1 (one collective displacement per cell).

    Parameters
    ----------
    trajectories : sequence of Trajectory
        Consecutive, non-overlapping frames of one run, in order.
    settings : DynamicsSettings
        ``chunk_atoms`` and the lag grid.

    Returns
    -------
    MSDCurve
        Lags in frames, MSD in e^2 Å^2.
    """
    from glassflow.analysis.dynamics.correlations import (
        analysis_lags,
        displacement_moment_sums,
        frame_interval_ps,
    )
    from glassflow.analysis.dynamics.transport import MSDCurve

    if not trajectories:
        raise ValueError("charge_msd_curve needs at least one trajectory")
    _check_same_system(trajectories)
    first = trajectories[0]
    dt = frame_interval_ps(trajectory_times_ps(trajectories))
    n = sum(t.n_frames for t in trajectories)
    charges, masses = first.charges, first.masses
    jsum = np.zeros((3, n))
    msum = np.zeros((3, n))
    every = np.arange(charges.size)
    for s in range(0, every.size, settings.chunk_atoms):
        atoms = every[s : s + settings.chunk_atoms]
        pos = np.concatenate([t.positions(atoms=atoms) for t in trajectories], axis=0)
        pos = np.ascontiguousarray(np.transpose(pos, (1, 2, 0)), np.float64)  # (atoms, 3, T)
        jsum += np.einsum("a,adt->dt", charges[atoms], pos)
        msum += np.einsum("a,adt->dt", masses[atoms], pos)
    j = jsum - float(charges.sum()) * msum / float(masses.sum())
    c_full = displacement_moment_sums(np.ascontiguousarray(j[None]), fourth=False)[0]
    lags = analysis_lags(n, settings)
    return MSDCurve(lags, c_full[lags], 1.0, n, dt)


def species_diffusion(
    trajectories: Sequence[Trajectory], species: str, settings: DynamicsSettings | None = None
) -> DiffusionFit:
    """Einstein D ± standard error (Å^2/ps, eq 4) of ``species`` from one run.

    A thin wrapper: the MSD of :func:`species_msd_curve`, then
    :func:`glassflow.analysis.dynamics.transport.fit_einstein` with the analysis' fit settings.
    """
    from glassflow.analysis.dynamics.correlations import DynamicsSettings
    from glassflow.analysis.dynamics.transport import fit_einstein

    s = settings or DynamicsSettings()
    return fit_einstein([species_msd_curve(trajectories, species, s)], s.fit_settings())


def diffusion_record(fit: DiffusionFit) -> dict[str, Any]:
    """JSON-ready summary of a fit: D and its 1 sigma error (Å^2/ps), relative error."""
    d = fit.D if fit.diffusive else None
    err = fit.D_err if fit.diffusive else None
    return {
        "diffusive": bool(fit.diffusive),
        "reason": fit.reason,
        "D_A2_ps": d,
        "D_err_A2_ps": err,
        "rel_error": relative_error(d, err),
        "fit_t_min_ps": None if math.isnan(fit.t_start_ps) else fit.t_start_ps,
        "fit_t_max_ps": None if math.isnan(fit.t_end_ps) else fit.t_end_ps,
    }


# --------------------------------------------------------------------------------------
# segment records (segment.json) and the run's summary (run.json)
# --------------------------------------------------------------------------------------
def rel_errors_of(record: Mapping[str, Any]) -> dict[str, float | None]:
    """Relative error of D per element recorded in a segment.json."""
    return {el: d.get("rel_error") for el, d in record.get("diffusion", {}).items()}


def record_decision(record: Mapping[str, Any], plan: SegmentPlan) -> StopDecision:
    """The stop rule applied to a finished segment's record with the current ``plan``.

    The record keeps D and its error, not the decision: a changed target or maximum
    takes effect on the segments already run, without rerunning them.
    """
    if record["segment"] >= plan.n_max:
        decision = stop_decision(record["total_ps"], rel_errors_of(record), plan)
        if decision.stop:
            return decision
        return StopDecision(True, f"{MAX_REACHED} ({decision.reason})")
    return stop_decision(record["total_ps"], rel_errors_of(record), plan)


def segments_to_run(
    read_record: Callable[[int], Mapping[str, Any]], plan: SegmentPlan
) -> list[int]:
    """Segments 1..k of a run: the :attr:`SegmentPlan.n_fixed` ones, then (with a
    target) one more while the last segment's record says "go on".

    ``read_record(k)`` returns segment k's record (segment.json); in the workflow it
    asks checkpoint ``production_segment`` for it, which stops the walk, until that
    segment has run, by raising Snakemake's incomplete-checkpoint exception.
    """
    k = plan.n_fixed
    if plan.target_rel_error is not None:
        while not record_decision(read_record(k), plan).stop:
            k += 1
    return list(range(1, k + 1))


def run_summary(records: Sequence[Mapping[str, Any]], plan: SegmentPlan) -> dict[str, Any]:
    """run.json fields of a run made of ``records`` (segment.json documents, in order).

    ``n_segments``, ``total_production_ps``, ``stop_reason`` (the stop rule after the
    last segment), ``segment_end_ps`` and ``segment_rel_errors`` (per element, one value
    per segment, None where D was not diffusive).
    """
    if not records:
        raise ValueError("a production run has at least one segment")
    for i, r in enumerate(records, start=1):
        if r["segment"] != i:
            raise ValueError(f"segment records out of order: record {i} is segment {r['segment']}")
    elements = sorted({el for r in records for el in r.get("diffusion", {})})
    return {
        "n_segments": len(records),
        "total_production_ps": float(records[-1]["total_ps"]),
        "stop_reason": POINT_ROUNDS
        if plan.point_rounds
        else record_decision(records[-1], plan).reason,
        "segment_end_ps": [float(r["total_ps"]) for r in records],
        "segment_rel_errors": {el: [rel_errors_of(r).get(el) for r in records] for el in elements},
    }


def fixed_run_summary(production_ps: float) -> dict[str, Any]:
    """run.json fields of a single-job production run (no segments, no D estimate)."""
    return {
        "n_segments": 1,
        "total_production_ps": float(production_ps),
        "stop_reason": FIXED_LENGTH,
        "segment_end_ps": [float(production_ps)],
        "segment_rel_errors": {},
    }
