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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    before its production (equilibration and ramp).
    """

    targets: Mapping[str, float]
    max_trajectory_ps: float
    max_replicas: int
    mode: str
    run_ps: float
    segment_ps: float
    overhead_ps: float


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
    conv: Mapping[str, Any], protocol: Mapping[str, Any], source: str
) -> list[str]:
    """Problems of a ``convergence`` block, each naming its key; [] when it is valid.

    Parameters
    ----------
    conv : mapping
        The block: ``targets`` (quantity -> 1σ relative error in (0, 1)),
        ``max_trajectory_ps``, ``max_replicas``, ``mode``.
    protocol : mapping
        The campaign's protocol (``production_ps``, ``segment_ps``) for the budget check.
    source : str
        Where the block comes from (file or ``config``), for the messages.

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
        if not (isinstance(err, int | float) and not isinstance(err, bool) and 0 < err < 1):
            out.append(
                f"{source}: key 'convergence.targets.{q}' = {err!r}: expected a 1 sigma "
                "relative error in (0, 1), e.g. 0.15"
            )
    mode = conv.get("mode", "auto")
    if mode not in MODES:
        out.append(f"{source}: key 'convergence.mode' = {mode!r}: expected one of {list(MODES)}")
    n_max = conv.get("max_replicas")
    if n_max is not None and not (isinstance(n_max, int) and n_max >= 1):
        out.append(
            f"{source}: key 'convergence.max_replicas' = {n_max!r}: expected an integer >= 1"
        )
    budget = conv.get("max_trajectory_ps")
    one_round = float(protocol.get("segment_ps") or protocol["production_ps"])
    if budget is not None:
        if not (isinstance(budget, int | float) and budget > 0):
            out.append(
                f"{source}: key 'convergence.max_trajectory_ps' = {budget!r}: expected ps > 0"
            )
        elif targets and budget < float(protocol["production_ps"]) + one_round:
            out.append(
                f"{source}: key 'convergence.max_trajectory_ps' = {budget:g} ps leaves no "
                f"room for one extension: expected at least production_ps + one round "
                f"({float(protocol['production_ps']):g} + {one_round:g} ps)"
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
    worst = ", ".join(
        f"{q} {e:.0%} > {plan.targets[q]:.0%}" if math.isfinite(e) else f"{q}: no estimate"
        for q, e in sorted(missed.items())
    )
    options = []
    if plan.mode in ("auto", "segments"):
        options.append(_segments_step(need, state, plan, room, max(1, slots)))
    if plan.mode in ("auto", "replicas"):
        options.append(_replicas_step(need, state, plan, room, max(1, slots)))
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
        if math.isfinite(need)
        else f"missed: {worst}",
    )
