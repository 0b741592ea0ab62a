"""Convergence targets on transport quantities per (composition, T): when a point stops,
and how it gets more trajectory when it does not (docs/physics.md §4, eq 4–5).

A *point* is one (composition, T) of a campaign. Its transport quantities are estimated
from all its replicas pooled (the ``*_pooled`` columns of the dynamics summary): ``D_<El>``
(Einstein D of an element) and ``sigma`` (collective conductivity, eq 5). A target is a
1σ relative error, e.g. ``{"D_Na": 0.05, "sigma": 0.15}``.

Both errors shrink as (total trajectory)^(-1/2) once the fit window is fixed: for D the
trajectory counts atoms too, but at fixed composition the atom count is fixed, so the
trajectory length summed over replicas is the variable; for σ there is one collective
displacement per cell, and only more time or more cells help. So a point that misses a
target by a factor r = err / target needs about ``T (r² − 1)`` more ps of trajectory,
with T the trajectory it has.

The law holds once the fit window is in the diffusive regime; from a short trajectory
the error falls faster than that (measured: σ's error at 60 ps of a 260-atom cell was
1.8, at 1920 ps 0.075, a factor 24 for 32 times the trajectory, where T^(−1/2) gives
5.7), so one extrapolation from the first round overshoots. A round therefore grows a
point's trajectory at most ``max_growth``-fold (default 4): the point is judged again
before it spends more.

It can get them two ways:

- **segments** (serial): every replica continues by whole segments (``segment_ps``), as
  a single run extends itself today; no equilibration is repeated, but a replica's
  segments run one after the other;
- **replicas** (parallel): new replicas start from the point's glasses with new
  velocity seeds; each pays its equilibration (``equilibration_ps`` + ramp) again, but
  they run side by side on the free slots (cores / GPUs over the threads of one run).

:func:`next_step` picks the one that is done first in wall time for the slots given,
within the budget (``max_trajectory_ps`` per point, ``max_replicas``), and says why it
stops otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: quantity names a target may use: D of an element, or the collective conductivity
QUANTITY_PATTERN = re.compile(r"^(D_[A-Z][a-z]?|sigma)$")
MODES = ("auto", "segments", "replicas")

#: stop reasons (first words of ``stop_reason``)
TARGETS_MET = "targets met"
BUDGET_SPENT = "budget spent"
NO_TARGETS = "no targets"


@dataclass(frozen=True)
class ConvergencePlan:
    """Targets and budget of every point of a campaign (module doc).

    Lengths in ps. ``run_ps``: length of one new replica's production (and of the
    segments' unit when ``segment_ps`` is None); ``overhead_ps``: MD a new replica runs
    before its production (equilibration and ramp); ``max_growth``: the factor one round
    may grow a point's trajectory by at most (> 1; inf: straight to what the law asks).
    """

    targets: Mapping[str, float]
    max_trajectory_ps: float
    max_replicas: int
    mode: str
    run_ps: float
    segment_ps: float
    overhead_ps: float
    max_growth: float = math.inf


@dataclass(frozen=True)
class PointState:
    """What a point has: ``n_replicas`` runs of ``run_ps_each`` ps of production."""

    n_replicas: int
    run_ps_each: float

    @property
    def trajectory_ps(self) -> float:
        return self.n_replicas * self.run_ps_each


@dataclass(frozen=True)
class Decision:
    """The next step of a point: ``action`` is ``stop``, ``segments`` (each replica gets
    ``n`` more segments) or ``replicas`` (``n`` new replicas); ``wall_ps`` is the
    wall time of the step in ps of one run's MD (the slots given), ``reason`` says why."""

    action: str
    n: int
    added_ps: float
    wall_ps: float
    reason: str


def convergence_problems(
    conv: Mapping[str, Any],
    protocol: Mapping[str, Any],
    source: str,
    n_replicas: int = 1,
    species: Sequence[str] | None = None,
) -> list[str]:
    """Problems of a ``convergence`` block, each naming its key; [] when it is valid.

    Parameters
    ----------
    conv : mapping
        The block: ``targets`` (quantity -> 1σ relative error in (0, 1)),
        ``max_trajectory_ps``, ``max_replicas``, ``mode``, ``max_growth``.
    protocol : mapping
        The campaign's protocol (``production_ps``, ``segment_ps``) for the budget check.
    source : str
        Where the block comes from (file or ``config``), for the messages.
    n_replicas : int
        Replicas every point starts with (the campaign's ``replicas``): the budget
        must hold them plus one extension, and ``max_replicas`` at least them.
    species : sequence of str, optional
        The system's elements: a ``D_<El>`` target must name one of them.

    Returns
    -------
    list of str
    """
    out: list[str] = []
    targets = conv.get("targets") or {}
    if not isinstance(targets, Mapping):
        return [f"{source}: key 'convergence.targets': expected a mapping quantity -> error"]
    for q, err in targets.items():
        if not (isinstance(q, str) and QUANTITY_PATTERN.match(q)):
            out.append(
                f"{source}: key 'convergence.targets.{q}': unknown quantity; expected "
                "D_<element> (e.g. D_Na) or sigma"
            )
        elif species is not None and q.startswith("D_") and q[2:] not in species:
            out.append(
                f"{source}: key 'convergence.targets.{q}': {q[2:]} is not an element of "
                f"the system (expected D_ of one of {list(species)}, or sigma)"
            )
        if not (isinstance(err, int | float) and not isinstance(err, bool) and 0 < err < 1):
            out.append(
                f"{source}: key 'convergence.targets.{q}' = {err!r}: expected a 1 sigma "
                "relative error in (0, 1), e.g. 0.15"
            )
    mode = conv.get("mode", "auto")
    if mode not in MODES:
        out.append(f"{source}: key 'convergence.mode' = {mode!r}: expected one of {list(MODES)}")
    n_max = conv.get("max_replicas")
    if n_max is not None and not (isinstance(n_max, int) and n_max >= max(1, n_replicas)):
        out.append(
            f"{source}: key 'convergence.max_replicas' = {n_max!r}: expected an integer >= "
            f"the replicas every point starts with ({max(1, n_replicas)})"
        )
    growth = conv.get("max_growth")
    if growth is not None and not (
        isinstance(growth, int | float) and not isinstance(growth, bool) and growth > 1
    ):
        out.append(
            f"{source}: key 'convergence.max_growth' = {growth!r}: expected a factor > 1 "
            "(e.g. 4: a round at most quadruples a point's trajectory)"
        )
    budget = conv.get("max_trajectory_ps")
    one_round = float(protocol.get("segment_ps") or protocol["production_ps"])
    if budget is not None:
        if not (isinstance(budget, int | float) and budget > 0):
            out.append(
                f"{source}: key 'convergence.max_trajectory_ps' = {budget!r}: expected ps > 0"
            )
        elif targets and budget < n_replicas * float(protocol["production_ps"]) + one_round:
            out.append(
                f"{source}: key 'convergence.max_trajectory_ps' = {budget:g} ps leaves no "
                "room for one extension: expected at least replicas x production_ps + one "
                f"segment ({n_replicas} x {float(protocol['production_ps']):g} + "
                f"{one_round:g} ps)"
            )
    return out


def relative_errors(pooled: Mapping[str, tuple[float | None, float | None]]) -> dict[str, float]:
    """1σ relative errors of a point's pooled estimates.

    Parameters
    ----------
    pooled : mapping quantity -> (value, 1σ error)
        In any consistent unit; ``None`` or a non-positive value (no diffusive regime,
        no conductivity) gives an infinite error.

    Returns
    -------
    dict quantity -> float, dimensionless (inf when there is no estimate)
    """
    out = {}
    for q, (value, err) in pooled.items():
        ok = value is not None and err is not None and math.isfinite(value) and value > 0
        out[q] = float(err) / float(value) if ok and math.isfinite(err) else math.inf
    return out


def needed_trajectory_ps(rel_err: float, target: float, trajectory_ps: float) -> float:
    """More trajectory (ps, summed over replicas) for ``rel_err`` to reach ``target``:
    T ((err / target)² − 1), from err ∝ T^(−1/2); 0 when met, inf without an estimate."""
    if rel_err <= target:
        return 0.0
    if not math.isfinite(rel_err):
        return math.inf
    return trajectory_ps * ((rel_err / target) ** 2 - 1.0)


def growth_room_ps(trajectory_ps: float, max_growth: float) -> float:
    """Most trajectory one round may add to a point that has ``trajectory_ps``.

    Parameters
    ----------
    trajectory_ps : float
        The point's production so far, summed over its replicas, ps.
    max_growth : float
        Largest factor of growth per round, > 1 (inf: no limit).

    Returns
    -------
    float
        ``(max_growth - 1) * trajectory_ps``, ps.
    """
    return math.inf if math.isinf(max_growth) else (max_growth - 1.0) * trajectory_ps


def _segments_step(
    need: float, state: PointState, plan: ConvergencePlan, room: float, slots: int
) -> Decision | None:
    per_round = state.n_replicas * plan.segment_ps
    k = math.ceil(min(need, room) / per_round - 1e-9) if math.isfinite(need) else 1
    k = min(k, math.floor(room / per_round + 1e-9))
    if k < 1:
        return None
    waves = math.ceil(state.n_replicas / slots)
    return Decision("segments", k, k * per_round, waves * k * plan.segment_ps, "")


def _replicas_step(
    need: float, state: PointState, plan: ConvergencePlan, room: float, slots: int
) -> Decision | None:
    r = math.ceil(min(need, room) / plan.run_ps - 1e-9) if math.isfinite(need) else slots
    r = min(r, math.floor(room / plan.run_ps + 1e-9), plan.max_replicas - state.n_replicas)
    if r < 1:
        return None
    waves = math.ceil(r / slots)
    return Decision("replicas", r, r * plan.run_ps, waves * (plan.run_ps + plan.overhead_ps), "")


def next_step(
    errors: Mapping[str, float], state: PointState, plan: ConvergencePlan, slots: int
) -> Decision:
    """What a point does next (module doc).

    Parameters
    ----------
    errors : mapping quantity -> 1σ relative error (:func:`relative_errors`)
    state : PointState
        Replicas and production length per replica so far, ps.
    plan : ConvergencePlan
    slots : int
        Runs that can go at once (cores or GPUs over the threads or GPUs of one run), ≥ 1.

    Returns
    -------
    Decision
        ``stop`` with ``targets met`` or ``budget spent (...)``; otherwise the step that
        finishes first in wall time (ties go to new replicas: independent glasses and
        seeds also sample the disorder), trimmed to the budget.
    """
    if not plan.targets:
        return Decision("stop", 0, 0.0, 0.0, NO_TARGETS)
    missed = {q: e for q, e in errors.items() if q in plan.targets and e > plan.targets[q]}
    missed.update({q: math.inf for q in plan.targets if q not in errors})
    if not missed:
        return Decision("stop", 0, 0.0, 0.0, TARGETS_MET)
    need = max(
        needed_trajectory_ps(e, plan.targets[q], state.trajectory_ps) for q, e in missed.items()
    )
    room = plan.max_trajectory_ps - state.trajectory_ps
    step = min(need, growth_room_ps(state.trajectory_ps, plan.max_growth))
    worst = ", ".join(
        f"{q} {e:.0%} > {plan.targets[q]:.0%}" if math.isfinite(e) else f"{q}: no estimate"
        for q, e in sorted(missed.items())
    )
    options = []
    if plan.mode in ("auto", "segments"):
        options.append(_segments_step(step, state, plan, room, max(1, slots)))
    if plan.mode in ("auto", "replicas"):
        options.append(_replicas_step(step, state, plan, room, max(1, slots)))
    options = [o for o in options if o is not None]
    if not options:
        limit = (
            f"max_replicas {plan.max_replicas}"
            if plan.mode == "replicas" and room >= plan.run_ps
            else f"max_trajectory_ps {plan.max_trajectory_ps:g}"
        )
        return Decision("stop", 0, 0.0, 0.0, f"{BUDGET_SPENT} ({limit}); missed: {worst}")
    # per ps of trajectory gained, the step that takes the least wall time; replicas first on ties
    best = min(options, key=lambda o: (o.wall_ps / o.added_ps, o.action != "replicas"))
    return Decision(
        best.action,
        best.n,
        best.added_ps,
        best.wall_ps,
        f"missed: {worst}; needs about {need:.0f} ps more"
        + (
            f" (this round at most {step:.0f}: max_growth {plan.max_growth:g})"
            if step < need
            else ""
        )
        if math.isfinite(need)
        else f"missed: {worst}",
    )


# --------------------------------------------------------------------------------------
# the rounds of one point, as the workflow runs them
# --------------------------------------------------------------------------------------
#: a point's runs: replica number -> production segments it has
Layout = dict[int, int]


def plan_from_config(config: Mapping[str, Any]) -> ConvergencePlan | None:
    """The :class:`ConvergencePlan` of a validated config; None without targets.

    ``run_ps`` is ``protocol.production_ps`` (what a new replica runs), ``segment_ps``
    the protocol's segment (default ``production_ps``), ``overhead_ps`` the
    equilibration a new replica pays before production (its ramp depends on T and is
    left out: it is the same for every T of a reheat and small next to production).
    """
    conv = config.get("convergence") or {}
    targets = dict(conv.get("targets") or {})
    if not targets:
        return None
    p = config["protocol"]
    prod = float(p["production_ps"])
    return ConvergencePlan(
        targets={str(q): float(e) for q, e in targets.items()},
        max_trajectory_ps=float(conv["max_trajectory_ps"]),
        max_replicas=int(conv["max_replicas"]),
        mode=str(conv.get("mode", "auto")),
        run_ps=prod,
        segment_ps=prod if p.get("segment_ps") is None else float(p["segment_ps"]),
        overhead_ps=float(p["equilibration_ps"]),
        max_growth=float(conv.get("max_growth") or math.inf),
    )


def initial_layout(n_replicas: int, n_segments: int) -> Layout:
    """Round 0 of every point: replicas 1..n, each with the segments of production_ps."""
    return {r: n_segments for r in range(1, n_replicas + 1)}


def glass_replica(replica: int, n_glasses: int) -> int:
    """The glass a run starts from: replica r of a point reheats glass ((r - 1) mod n) + 1,
    so replicas beyond the campaign's ``replicas`` reuse its glasses in turn (with new
    velocities, :func:`velocity_seed_needed`)."""
    if replica < 1 or n_glasses < 1:
        raise ValueError(f"replica {replica} / {n_glasses} glasses: both must be >= 1")
    return (replica - 1) % n_glasses + 1


def velocity_seed_needed(replica: int, n_glasses: int) -> bool:
    """True for a replica that shares its glass with an earlier one: it draws new
    Maxwell-Boltzmann velocities, so its trajectory is not a copy."""
    return replica > n_glasses


def layout_state(layout: Mapping[int, int], segment_ps: float) -> PointState:
    """The :class:`PointState` of a layout: replicas and their mean production, ps."""
    n = len(layout)
    total = sum(layout.values()) * segment_ps
    return PointState(n, total / n if n else 0.0)


def apply_decision(layout: Mapping[int, int], decision: Decision, n_fixed: int) -> Layout:
    """The layout after ``decision``: ``segments`` adds ``n`` segments to every replica;
    ``replicas`` adds ``n`` replicas numbered after the last, each with ``n_fixed``."""
    out = dict(layout)
    if decision.action == "segments":
        return {r: k + decision.n for r, k in out.items()}
    if decision.action == "replicas":
        top = max(out, default=0)
        out.update({top + i: n_fixed for i in range(1, decision.n + 1)})
        return out
    if decision.action == "stop":
        return out
    raise ValueError(f"unknown convergence action {decision.action!r}")


def decision_of_record(record: Mapping[str, Any], plan: ConvergencePlan) -> Decision:
    """What a point does after a finished round (its ``round.json`` record).

    The current ``plan`` decides whether the point stops (so a loosened target stops it,
    and a tightened one extends a point that had stopped); otherwise the step written
    in the record is taken as it was, so the runs already made stay the point's runs
    whatever the cores of a later invocation (``slots`` is recorded with the round).
    """
    state = layout_state(_layout(record), plan.segment_ps)
    errors = {
        q: (math.inf if e is None or e >= 1e300 else float(e)) for q, e in record["errors"].items()
    }
    now = next_step(errors, state, plan, int(record["slots"]))
    written = record.get("decision")
    if now.action == "stop" or not written or written["action"] == "stop":
        return now
    return Decision(
        written["action"],
        int(written["n"]),
        float(written["added_ps"]),
        float(written["wall_ps"]),
        str(written["reason"]),
    )


def _layout(record: Mapping[str, Any]) -> Layout:
    return {int(r): int(k) for r, k in record["layout"].items()}


def walk_rounds(
    read_round: Callable[[int], Mapping[str, Any]],
    layout0: Mapping[int, int],
    plan: ConvergencePlan,
    n_fixed: int,
) -> tuple[Layout, list[Decision]]:
    """The final layout of a point and the decision after each round.

    ``read_round(i)`` returns round i's record; in the workflow it asks checkpoint
    ``point_round``, which stops the walk (Snakemake's incomplete-checkpoint exception)
    until that round has run. Terminates: every step adds trajectory within the
    budget, and a spent budget stops.
    """
    layout = dict(layout0)
    decisions: list[Decision] = []
    i = 0
    while True:
        record = read_round(i)
        if _layout(record) != layout:
            raise ValueError(
                f"round {i} of {record.get('comp')} T={record.get('T_K')} holds the runs "
                f"{_layout(record)}, not {layout}: its record is stale; delete it to redo it"
            )
        d = decision_of_record(record, plan)
        decisions.append(d)
        if d.action == "stop":
            return layout, decisions
        layout = apply_decision(layout, d, n_fixed)
        i += 1


def point_transport(
    replica_frames: Sequence[Sequence[str | Path]],
    temperature_K: float,
    dynamics: Mapping[str, Any] | None = None,
) -> dict[str, tuple[float | None, float | None]]:
    """Replica-pooled D of every element and collective σ of one point, with 1σ errors.

    The same estimators as the pooled columns of the dynamics summary (one GLS fit of
    all replicas' MSDs, eq 4; the stacked charge MSDs, eq 5; docs/transport.md), on the
    runs' segment files before they are stitched.

    Parameters
    ----------
    replica_frames : sequence of sequences of paths
        For each replica, its segments' frame files in order.
    temperature_K : float
        T of the point, K.
    dynamics : mapping, optional
        The ``analysis.dynamics`` settings (lags, fit window).

    Returns
    -------
    dict quantity -> (value, 1σ error)
        ``D_<El>`` in cm²/s and ``sigma`` in S/cm; ``(None, None)`` where there is no
        estimate (no diffusive regime).
    """
    from glassflow.analysis.dynamics.correlations import DynamicsSettings
    from glassflow.analysis.dynamics.transport import (
        a2ps_to_cm2s,
        conductivity_estimate,
        fit_einstein,
    )
    from glassflow.io.trajectory import open_trajectory
    from glassflow.md.segments import charge_msd_curve, species_msd_curve

    settings = DynamicsSettings.from_dict(dict(dynamics or {}))
    fs = settings.fit_settings()
    runs = [[open_trajectory(p) for p in files] for files in replica_frames]
    if not runs or any(not r for r in runs):
        raise ValueError("point_transport needs at least one segment file per replica")
    first = runs[0][0]

    def usable(c):  # the lags the pooled fit of the tables uses (lag 0 dropped)
        keep = c.lag_frames >= 1
        return type(c)(c.lag_frames[keep], c.msd[keep], c.n_particles, c.n_frames, c.dt_ps)

    out: dict[str, tuple[float | None, float | None]] = {}
    fits = {}
    for el in first.species:
        f = fit_einstein([usable(species_msd_curve(r, el, settings)) for r in runs], fs)
        fits[el] = f
        ok = f.diffusive and f.D is not None
        out[f"D_{el}"] = (
            (float(a2ps_to_cm2s(f.D)), float(a2ps_to_cm2s(f.D_err))) if ok else (None, None)
        )
    cond = conductivity_estimate(
        fits,
        {el: float(first.indices_of(el).size) for el in fits},
        {el: float(first.charges[first.indices_of(el)].mean()) for el in fits},
        [usable(charge_msd_curve(r, settings)) for r in runs],
        [float(np.prod(r[0].box_A)) for r in runs],
        float(temperature_K),
        fs,
    )
    out["sigma"] = (cond.sigma, cond.sigma_err)
    return out


def layout_of_round(
    read_round: Callable[[int], Mapping[str, Any]],
    layout0: Mapping[int, int],
    plan: ConvergencePlan,
    n_fixed: int,
    index: int,
) -> Layout:
    """The runs round ``index`` of a point judges: the initial layout with the steps of
    rounds 0..index-1 applied.

    Raises
    ------
    ValueError
        When an earlier round stopped the point (round ``index`` is not part of it).
    """
    layout = dict(layout0)
    for i in range(index):
        d = decision_of_record(read_round(i), plan)
        if d.action == "stop":
            raise ValueError(f"round {index} is not needed: the point stopped after round {i}")
        layout = apply_decision(layout, d, n_fixed)
    return layout


def round_record(
    keys: Mapping[str, Any],
    index: int,
    layout: Mapping[int, int],
    estimates: Mapping[str, tuple[float | None, float | None]],
    plan: ConvergencePlan,
    slots: int,
) -> dict[str, Any]:
    """The JSON record of one finished round of a point (``round.json``).

    Parameters
    ----------
    keys : mapping
        The point's keys (campaign, comp, x, m, T_K).
    index : int
        The round, 0-based.
    layout : mapping replica -> segments
        The runs this round judged.
    estimates : mapping quantity -> (value, 1σ error)
        :func:`point_transport` of those runs (cm²/s, S/cm).
    plan : ConvergencePlan
    slots : int
        Runs that go side by side, recorded so that the step is replayed, not redone.

    Returns
    -------
    dict
        ``layout``, ``trajectory_ps``, ``estimates``, ``errors`` (relative, every
        quantity; ``None`` for no estimate), ``targets``, ``slots`` and the step
        ``decision`` (action, n, added_ps, wall_ps, reason).
    """
    errors = relative_errors(estimates)
    state = layout_state(layout, plan.segment_ps)
    d = next_step(errors, state, plan, slots)
    return {
        **dict(keys),
        "round": int(index),
        "layout": {str(r): int(k) for r, k in sorted(layout.items())},
        "n_replicas": len(layout),
        "trajectory_ps": float(state.trajectory_ps),
        "estimates": {q: [v, e] for q, (v, e) in sorted(estimates.items())},
        # JSON has no inf: a missing estimate is written as a huge error
        "errors": {q: (e if math.isfinite(e) else 1e300) for q, e in sorted(errors.items())},
        "targets": dict(plan.targets),
        "slots": int(slots),
        "decision": {
            "action": d.action,
            "n": d.n,
            "added_ps": d.added_ps,
            "wall_ps": d.wall_ps,
            "reason": d.reason,
        },
    }


def point_columns(records: Sequence[Mapping[str, Any]], plan: ConvergencePlan) -> dict[str, Any]:
    """Runs-table columns of a point from its round records (in order): replicas,
    segments and trajectory it ended with, rounds, reached errors and targets per
    quantity, and the stop reason under the current ``plan``."""
    if not records:
        return {}
    last = records[-1]
    d = decision_of_record(last, plan)
    out: dict[str, Any] = {
        "point_rounds": len(records),
        "point_replicas": int(last["n_replicas"]),
        "point_segments": int(sum(last["layout"].values())),
        "point_trajectory_ps": float(last["trajectory_ps"]),
        "point_stop_reason": d.reason if d.action == "stop" else f"running: {d.reason}",
    }
    for q in sorted(plan.targets):
        e = last["errors"].get(q)
        out[f"rel_error_{q}"] = None if e is None or e >= 1e300 else float(e)
        out[f"target_{q}"] = float(plan.targets[q])
    return out


def judge_round(
    frames: Mapping[int, Sequence[str | Path]],
    keys: Mapping[str, Any],
    index: int,
    plan: ConvergencePlan | None,
    slots: int,
    dynamics: Mapping[str, Any] | None,
    record_out: str | Path,
) -> dict[str, Any]:
    """One round of a point: estimate, decide, write the record atomically.

    Parameters
    ----------
    frames : mapping replica -> segment frame files (in order)
        The runs the round judges; the layout is replica -> number of files.
    keys : mapping
        The point's keys (campaign, comp, x, m, T_K).
    index : int
        The round, 0-based.
    plan : ConvergencePlan
        The targets and budget (a config without targets has no rounds).
    slots : int
        Runs that go side by side.
    dynamics : mapping, optional
        The ``analysis.dynamics`` settings.
    record_out : path
        Where the record (:func:`round_record`) goes.

    Returns
    -------
    dict
        The record.
    """
    import logging

    from glassflow.io.atomic import write_json_atomic

    if plan is None:
        raise ValueError("a convergence round needs convergence.targets in the config")
    log = logging.getLogger(__name__)
    reps = sorted(frames)
    estimates = point_transport([frames[r] for r in reps], float(keys["T_K"]), dynamics)
    layout = {r: len(frames[r]) for r in reps}
    record = round_record(keys, index, layout, estimates, plan, slots)
    for q, (v, e) in sorted(estimates.items()):
        log.info("%s: %s", q, "no estimate" if v is None else f"{v:.4g} +- {e:.2g} ({e / v:.1%})")
    d = record["decision"]
    log.info(
        "round %d of %s T=%g (%d replicas, %.4g ps): %s %s (%s)",
        index,
        keys.get("comp"),
        float(keys["T_K"]),
        len(layout),
        record["trajectory_ps"],
        d["action"],
        d["n"] or "",
        d["reason"],
    )
    write_json_atomic(record_out, record)
    return record


def add_point_columns(
    runs: Any, round_files: Sequence[str | Path], plan: ConvergencePlan | None
) -> Any:
    """The runs table of one point with :func:`point_columns` on every row.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run of the point.
    round_files : sequence of paths
        The point's round records, in order (none: ``runs`` unchanged).
    plan : ConvergencePlan or None

    Returns
    -------
    pandas.DataFrame
    """
    import json

    if not round_files or plan is None:
        return runs
    records = [json.loads(Path(p).read_text()) for p in round_files]
    out = runs.copy()
    for k, v in point_columns(records, plan).items():
        out[k] = v
    return out
