"""Adaptive refinement as the workflow runs it: config block, round records, replay, tables.

The core (:mod:`glassflow.campaign.adaptive`) fits the GP along m and chooses the next
runs; this module wraps it for the workflow's ``adaptive_round`` checkpoint:

* :func:`adaptive_problems` / :func:`adaptive_from_config`: the ``adaptive:`` config
  block (x, temperatures, quantity, seed and the core's :class:`AdaptiveSettings`),
  every problem naming its key.
* :class:`AdaptivePoint`, :func:`initial_points`, :func:`walk_records`,
  :func:`points_of_round`: the compositions of the campaign after each round, replayed
  from the round records (``results/<campaign>/adaptive/roundNN.json``). A record holds
  the points it judged, the data, the posterior, the chosen m and the stop reason, so a
  rerun reads it instead of recomputing: same config + results -> same rounds.
* :func:`decide_round`: one round (fit per judged temperature, stop rule, choice of the
  next runs, mapping of the choice onto new compositions or extra replicas).
* :func:`points_table`, :func:`rounds_table`, :func:`posterior_table`,
  :func:`add_round_column`: the adaptive tables and the ``round`` column of the campaign
  tables.

Units: m dimensionless; values in S/cm (sigma) or cm^2/s (D); y = log10 of the value
(decades) with 1 sigma errors in decades; T in K. A *run* is one replica of one
composition at one temperature; a composition's runs are pooled into one estimate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from glassflow.campaign.adaptive import (
    AdaptiveSettings,
    initial_grid,
    m_lattice,
    plan_round,
    settings_from_mapping,
    settings_problems,
)
from glassflow.md.composition import composition_label

#: keys of the ``adaptive`` block that are not :class:`AdaptiveSettings` fields
CAMPAIGN_KEYS = ("enabled", "x", "temperatures_K", "quantity", "seed", "new_compositions_only")
QUANTITY_PATTERN = re.compile(r"^(sigma|D_[A-Z][a-z]?)$")
#: m of the composition family: from SiS2 (m = 2) up; labels carry m at two decimals
M_LIMITS = (2.0, math.inf)
LABEL_STEP = 0.01
#: stop reason of a round whose choices were all existing m with convergence targets on
NO_NEW_POINT = "no new composition"


@dataclass(frozen=True)
class AdaptiveCampaign:
    """The ``adaptive`` block of a config, validated.

    Attributes
    ----------
    x : float
        Modifier fraction of every adaptive composition.
    temperatures_K : tuple of int
        Temperatures the goal is judged at (a subset of the campaign's), in the order
        they choose the next runs.
    quantity : str
        ``sigma`` or ``D_<element>``.
    seed : int
        Seed of the core's random streams (with the round index).
    settings : AdaptiveSettings
        Bounds, steps, budget and goal of the core.
    new_compositions_only : bool
        Never choose a measured m again (no extra replicas); always so with
        convergence targets, which decide a point's replicas themselves.
    """

    x: float
    temperatures_K: tuple[int, ...]
    quantity: str
    seed: int
    settings: AdaptiveSettings
    new_compositions_only: bool = False


def _settings_block(block: Mapping[str, Any]) -> dict[str, Any]:
    known = {f.name for f in fields(AdaptiveSettings)}
    return {k: v for k, v in block.items() if k in known or k not in CAMPAIGN_KEYS}


def _on_label_grid(v: float) -> bool:
    return abs(v / LABEL_STEP - round(v / LABEL_STEP)) < 1e-6


def adaptive_problems(cfg: Mapping[str, Any], source: str = "config") -> list[str]:
    """Problems of the ``adaptive`` block of a validated config, each naming its key.

    Parameters
    ----------
    cfg : mapping
        The config after schema validation (``temperatures_K``, ``system``,
        ``replicas``, ``adaptive``).
    source : str
        Where the config comes from, for the messages.

    Returns
    -------
    list of str
        Empty when the block is valid or ``adaptive.enabled`` is false.
    """
    block = dict(cfg.get("adaptive") or {})
    if not block.get("enabled"):
        return []
    out: list[str] = []
    x = block.get("x")
    if not (isinstance(x, int | float) and not isinstance(x, bool) and 0.0 <= x < 1.0):
        out.append(f"{source}: key 'adaptive.x' = {x!r}: expected a number in [0, 1)")
    temps = [int(t) for t in cfg.get("temperatures_K", [])]
    chosen = block.get("temperatures_K") or temps
    outside = [t for t in chosen if int(t) not in temps]
    if outside:
        out.append(
            f"{source}: key 'adaptive.temperatures_K' = {list(chosen)}: {outside} not in "
            f"temperatures_K {temps} (adaptive compositions run at the campaign's temperatures)"
        )
    q = block.get("quantity", "sigma")
    sysc = cfg.get("system", {})
    species = [sysc.get("modifier"), sysc.get("former"), sysc.get("anion")]
    if not (isinstance(q, str) and QUANTITY_PATTERN.match(q)) or (
        q != "sigma" and q[2:] not in species
    ):
        out.append(
            f"{source}: key 'adaptive.quantity' = {q!r}: expected sigma or D_<element> of {species}"
        )
    seed = block.get("seed", 0)
    if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
        out.append(f"{source}: key 'adaptive.seed' = {seed!r}: expected an integer >= 0")
    core = _settings_block(block)
    problems = settings_problems(core, M_LIMITS, source, "adaptive")
    out += problems
    if not problems:
        s = settings_from_mapping(core, M_LIMITS, source, "adaptive", check=False)
        labels = {
            "bounds": [*s.bounds],
            "resolution": [s.resolution],
            "min_step": [s.min_step],
        }
        for key, values in labels.items():
            if not all(_on_label_grid(v) for v in values):
                out.append(
                    f"{source}: key 'adaptive.{key}' = {block.get(key, values)!r}: expected "
                    f"multiples of {LABEL_STEP:g} (composition labels carry m at two decimals)"
                )
        reps = int(cfg.get("replicas", 1))
        if reps > 1 and s.max_runs < s.n_initial * reps + s.runs_per_round:
            out.append(
                f"{source}: key 'adaptive.max_runs' = {s.max_runs}: leaves no room for one "
                f"round: the initial grid takes n_initial x replicas = {s.n_initial * reps} "
                f"runs, a round {s.runs_per_round} more"
            )
    return out


def adaptive_from_config(cfg: Mapping[str, Any]) -> AdaptiveCampaign | None:
    """The :class:`AdaptiveCampaign` of a config; None when ``adaptive.enabled`` is false.

    Parameters
    ----------
    cfg : mapping
        A validated config whose ``adaptive`` block passed :func:`adaptive_problems`.

    Returns
    -------
    AdaptiveCampaign or None
    """
    block = dict(cfg.get("adaptive") or {})
    if not block.get("enabled"):
        return None
    temps = tuple(int(t) for t in (block.get("temperatures_K") or cfg["temperatures_K"]))
    core = _settings_block(block)
    return AdaptiveCampaign(
        x=float(block["x"]),
        temperatures_K=temps,
        quantity=str(block.get("quantity", "sigma")),
        seed=int(block.get("seed", 0)),
        settings=settings_from_mapping(core, M_LIMITS, check=False),
        new_compositions_only=bool(block.get("new_compositions_only", False)),
    )


# --------------------------------------------------------------------------- points


@dataclass(frozen=True)
class AdaptivePoint:
    """One adaptive composition: its label, m, the first round that judges it, its runs.

    ``replicas`` is the number of runs (replicas) per temperature; without convergence
    targets extra replicas are added when the core chooses the m again.
    """

    comp: str
    m: float
    round: int
    replicas: int


Points = dict[str, AdaptivePoint]


def label_of(ad: AdaptiveCampaign, m: float) -> str:
    """Composition label of m at the campaign's x, e.g. ``x0.10_m3.25``."""
    return composition_label(ad.x, m)


_LABEL = re.compile(r"^x(\d\.\d{2})_m(\d+\.\d{2})$")


def adaptive_m_of_label(ad: AdaptiveCampaign | None, label: str) -> float | None:
    """m of a composition label at the campaign's x inside ``bounds``; None otherwise.

    Parameters
    ----------
    ad : AdaptiveCampaign or None
    label : str
        E.g. ``x0.10_m3.25``.

    Returns
    -------
    float or None
        m (two decimals, as the label) when the label is an adaptive composition.
    """
    hit = _LABEL.match(label)
    if ad is None or hit is None or hit.group(1) != f"{ad.x:.2f}":
        return None
    m = float(hit.group(2))
    lo, hi = ad.settings.bounds
    return m if lo - 1e-9 <= m <= hi + 1e-9 else None


def initial_points(ad: AdaptiveCampaign, replicas: int) -> Points:
    """The coarse grid of round 0 (:func:`~glassflow.campaign.adaptive.initial_grid`).

    Parameters
    ----------
    ad : AdaptiveCampaign
    replicas : int
        The campaign's replicas: the runs of each initial composition.

    Returns
    -------
    dict label -> AdaptivePoint
    """
    return {
        label_of(ad, m): AdaptivePoint(label_of(ad, m), float(m), 0, int(replicas))
        for m in initial_grid(ad.settings)
    }


def points_json(points: Points) -> dict[str, int]:
    """The runs of each point as a record stores them: label -> replicas."""
    return {c: p.replicas for c, p in sorted(points.items())}


def apply_record(points: Points, record: Mapping[str, Any]) -> Points:
    """The points after a round: its new compositions and extra replicas added.

    Parameters
    ----------
    points : dict label -> AdaptivePoint
        The points the round judged.
    record : mapping
        The round's record (:func:`decide_round`).

    Returns
    -------
    dict label -> AdaptivePoint
        New compositions get ``round = record["round"] + 1``.
    """
    out = dict(points)
    nxt = int(record["round"]) + 1
    for a in record["added"]:
        out[a["comp"]] = AdaptivePoint(a["comp"], float(a["m"]), nxt, int(a["replicas"]))
    for comp, n in record["extra_replicas"].items():
        out[comp] = replace(out[comp], replicas=out[comp].replicas + int(n))
    return out


def _check_record(record: Mapping[str, Any], points: Points, index: int) -> None:
    if int(record["round"]) != index or dict(record["points"]) != points_json(points):
        raise ValueError(
            f"adaptive round {index}: its record judged {dict(record['points'])}, not the "
            f"points {points_json(points)} that the earlier rounds give: the record is stale "
            "(the config's adaptive block or replicas changed); delete the adaptive/ "
            "records from this round on to redo them"
        )


def walk_records(
    read_round: Callable[[int], Mapping[str, Any]], points0: Points
) -> tuple[Points, list[Mapping[str, Any]]]:
    """Every point of the campaign and every round record, replayed in order.

    Parameters
    ----------
    read_round : callable
        ``read_round(i)`` returns round i's record; in the workflow it asks checkpoint
        ``adaptive_round``, which stops the walk until that round has run.
    points0 : dict label -> AdaptivePoint
        :func:`initial_points`.

    Returns
    -------
    points : dict label -> AdaptivePoint
        The points after the last round (the one that stopped).
    records : list of dict
        The records, round 0 first.

    Raises
    ------
    ValueError
        When a record does not hold the points the earlier records give (stale).
    """
    points, records = dict(points0), []
    i = 0
    while True:
        record = read_round(i)
        _check_record(record, points, i)
        records.append(record)
        if record["stop"]:
            return points, records
        points = apply_record(points, record)
        i += 1


def points_of_round(
    read_round: Callable[[int], Mapping[str, Any]], points0: Points, index: int
) -> Points:
    """The points round ``index`` judges: the records of rounds 0..index-1 applied.

    Raises
    ------
    ValueError
        When an earlier round stopped the campaign, or a record is stale.
    """
    points = dict(points0)
    for i in range(index):
        record = read_round(i)
        _check_record(record, points, i)
        if record["stop"]:
            raise ValueError(
                f"adaptive round {index} is not needed: the campaign stopped after round {i}"
            )
        points = apply_record(points, record)
    return points


# --------------------------------------------------------------------------- one round


def log_value(value: float | None, error: float | None) -> tuple[float, float] | None:
    """log10 of a positive estimate and its 1 sigma error in decades; None without one.

    Parameters
    ----------
    value, error : float or None
        Estimate (S/cm or cm^2/s) and its 1 sigma error, same unit.

    Returns
    -------
    (y, y_se) or None
        ``y = log10(value)``, ``y_se = error / (value ln 10)``.
    """
    if value is None or error is None:
        return None
    v, e = float(value), float(error)
    if not (math.isfinite(v) and v > 0 and math.isfinite(e) and e >= 0):
        return None
    return math.log10(v), e / (v * math.log(10.0))


def map_choice(
    chosen: Sequence[float], points: Points, ad: AdaptiveCampaign, allow_replicas: bool
) -> tuple[list[dict[str, Any]], dict[str, int], list[float]]:
    """New compositions and extra replicas for the m values the core chose.

    Parameters
    ----------
    chosen : sequence of float
        The core's m values, one per run (may repeat, may equal a measured m).
    points : dict label -> AdaptivePoint
        The measured compositions.
    ad : AdaptiveCampaign
    allow_replicas : bool
        False with convergence targets (they decide a point's replicas): a choice of an
        existing m is dropped.

    Returns
    -------
    added : list of dict
        ``{"comp", "m", "replicas"}`` per new composition (runs = times chosen), in
        order of first choice.
    extra : dict label -> int
        Extra replicas of measured compositions.
    dropped : list of float
        m values not run (existing m with ``allow_replicas`` False, or repeats of a new m).
    """
    added: dict[str, dict[str, Any]] = {}
    extra: dict[str, int] = {}
    dropped: list[float] = []
    for m in chosen:
        label = label_of(ad, float(m))
        if label in points:
            if allow_replicas:
                extra[label] = extra.get(label, 0) + 1
            else:
                dropped.append(float(m))
        elif label in added:
            if allow_replicas:
                added[label]["replicas"] += 1
            else:
                dropped.append(float(m))
        else:
            added[label] = {"comp": label, "m": round(float(m), 10), "replicas": 1}
    return list(added.values()), extra, dropped


def _posterior(fit: Any, settings: AdaptiveSettings) -> dict[str, list[float]]:
    grid = m_lattice(settings)
    mean, std = fit.predict(grid, np.full_like(grid, fit.x[0]))
    return {"m": grid.tolist(), "mean": mean.tolist(), "std": std.tolist()}


def _judge(
    rows: Sequence[Mapping[str, Any]], ad: AdaptiveCampaign, index: int, replicas: bool
) -> dict[str, Any]:
    """Fit, location, stop and choice at one temperature from its data rows."""
    used = [r for r in rows if r["used"]]
    if len({round(r["m"], 9) for r in used}) < 3:
        raise ValueError(
            f"adaptive round {index}: {len(used)} compositions have a positive "
            f"{ad.quantity} estimate, 3 are needed to fit the GP along m "
            f"(no estimate: {[r['comp'] for r in rows if not r['used']]})"
        )
    plan = plan_round(
        [r["m"] for r in used],
        [r["y"] for r in used],
        [r["y_se"] for r in used],
        ad.settings,
        ad.seed,
        index,
        [r["n_runs"] for r in used],
        replicas=replicas,
        avoid=[r["m"] for r in rows if not r["used"]],  # measured, without an estimate
        other_runs=sum(int(r["n_runs"]) for r in rows if not r["used"]),
    )
    loc = plan.location
    return {
        "data": list(rows),
        "posterior": _posterior(plan.fit, ad.settings),
        "location": None
        if loc is None
        else {"median": loc.median, "lo": loc.lo, "hi": loc.hi, "halfwidth": loc.halfwidth},
        "max_std": float(plan.max_std),
        "runs_spent": int(plan.runs_spent),
        "stop": plan.stop,
        "chosen_m": [float(v) for v in plan.points],
    }


def data_rows(
    points: Points, estimates: Mapping[str, tuple[float | None, float | None, int]]
) -> list[dict[str, Any]]:
    """The data of one temperature, one row per point (sorted by m).

    Parameters
    ----------
    points : dict label -> AdaptivePoint
    estimates : mapping label -> (value, 1 sigma error, runs pooled)
        The point's pooled estimate (S/cm or cm^2/s); value None without one.

    Returns
    -------
    list of dict
        ``comp, m, round, n_runs, value, error, y, y_se, used``.
    """
    rows = []
    for comp, p in sorted(points.items(), key=lambda kv: kv[1].m):
        value, error, n = estimates[comp]
        ly = log_value(value, error)
        rows.append(
            {
                "comp": comp,
                "m": p.m,
                "round": p.round,
                "n_runs": int(n),
                "value": value,
                "error": error,
                "y": None if ly is None else ly[0],
                "y_se": None if ly is None else ly[1],
                "used": ly is not None,
            }
        )
    return rows


def decide_round(
    index: int,
    points: Points,
    estimates: Mapping[int, Mapping[str, tuple[float | None, float | None, int]]],
    ad: AdaptiveCampaign,
    allow_replicas: bool,
    keys: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One adaptive round: the record with the fits, the stop reason and the next runs.

    Every judged temperature gets its GP, posterior and stop test; the campaign stops
    when all have stopped. The next runs are the choice of the first temperature (in
    ``ad.temperatures_K`` order) that has not.

    Parameters
    ----------
    index : int
        The round, 0-based.
    points : dict label -> AdaptivePoint
        The compositions this round judges (:func:`points_of_round`).
    estimates : mapping T_K -> mapping label -> (value, error, runs)
        Pooled estimate of every point at every judged temperature.
    ad : AdaptiveCampaign
    allow_replicas : bool
        False: the core chooses new compositions only (convergence targets on, or
        ``new_compositions_only``); see :func:`map_choice`.
    keys : mapping, optional
        Extra keys stored first (campaign name).

    Returns
    -------
    dict
        ``round, x, quantity, goal, seed, settings, points, temperatures`` (per T: data,
        posterior on the m lattice, location, max_std, stop, chosen_m), ``decided_at_K``,
        ``runs_spent``, ``chosen_m``, ``added``, ``extra_replicas``, ``dropped_m``,
        ``stop`` (None while the campaign goes on).
    """
    per_t = {
        int(t): _judge(data_rows(points, estimates[int(t)]), ad, index, allow_replicas)
        for t in ad.temperatures_K
    }
    going = [t for t in ad.temperatures_K if not per_t[int(t)]["stop"]]
    decided = int(going[0]) if going else None
    chosen = per_t[decided]["chosen_m"] if decided is not None else []
    added, extra, dropped = map_choice(chosen, points, ad, allow_replicas)
    if decided is None:
        stop = "; ".join(f"T = {t} K: {per_t[int(t)]['stop']}" for t in ad.temperatures_K)
    elif not added and not extra:
        stop = (
            f"{NO_NEW_POINT}: no m at least min_step from the measured ones is left "
            f"(choice {chosen}), and extra replicas are not allowed"
        )
    else:
        stop = None
    return {
        **dict(keys or {}),
        "round": int(index),
        "x": ad.x,
        "quantity": ad.quantity,
        "goal": ad.settings.goal,
        "seed": ad.seed,
        "settings": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(ad.settings).items()
        },
        "points": points_json(points),
        "temperatures": {str(t): v for t, v in per_t.items()},
        "decided_at_K": decided,
        "runs_spent": max(v["runs_spent"] for v in per_t.values()),
        "chosen_m": list(chosen),
        "added": added,
        "extra_replicas": extra,
        "dropped_m": dropped,
        "stop": stop,
    }


def point_estimate(
    group: Mapping[str, Any], quantity: str, dynamics: Mapping[str, Any] | None
) -> tuple[float | None, float | None, int]:
    """Pooled estimate of one (composition, T) from its files.

    Parameters
    ----------
    group : mapping
        ``T_K`` and one of ``trajectories`` (one production trajectory per replica:
        pooled here with the estimators of the dynamics tables,
        :func:`glassflow.campaign.convergence.point_transport`), ``records`` (the
        point's convergence round records: the last one's pooled estimate) or
        ``estimate`` (a JSON file of :func:`write_point_estimate`).
    quantity : str
        ``sigma`` or ``D_<element>``.
    dynamics : mapping, optional
        ``analysis.dynamics`` settings.

    Returns
    -------
    (value, 1 sigma error, runs)
        S/cm or cm^2/s; value None without an estimate.
    """
    import json
    from pathlib import Path

    from glassflow.campaign.convergence import point_transport

    if group.get("estimate"):
        doc = json.loads(Path(group["estimate"]).read_text())
        return doc["value"], doc["error"], int(doc["n_runs"])
    if group.get("records"):
        records = group["records"]
        if isinstance(records, str):
            raise TypeError(f"records must be a list of round records, not the path {records}")
        last = json.loads(Path(records[-1]).read_text())
        action = last.get("decision", {}).get("action")
        if action != "stop":
            raise ValueError(
                f"{records[-1]}: the point's convergence rounds are not complete (the last "
                f"round asks for {action!r}, not 'stop'); its pooled estimate would be early"
            )
        value, error = last["estimates"].get(quantity, [None, None])
        return value, error, int(last["n_replicas"])
    trajs = list(group["trajectories"])
    est = point_transport([[t] for t in trajs], float(group["T_K"]), dynamics)
    value, error = est.get(quantity, (None, None))
    return value, error, len(trajs)


def write_point_estimate(
    records: Sequence[str], quantity: str, keys: Mapping[str, Any], out: str
) -> dict[str, Any]:
    """The pooled estimate of a point after its convergence rounds, as a small JSON file.

    Parameters
    ----------
    records : sequence of str
        The point's convergence round records, in order.
    quantity : str
        ``sigma`` or ``D_<element>``.
    keys : mapping
        The point's keys (comp, T_K ...), stored first.
    out : str
        Path written (atomically).

    Returns
    -------
    dict
        ``keys, quantity, value, error, n_runs`` (S/cm or cm^2/s; value None without
        an estimate).
    """
    from glassflow.io.atomic import write_json_atomic

    value, error, n = point_estimate({"records": list(records)}, quantity, None)
    doc = {**dict(keys), "quantity": quantity, "value": value, "error": error, "n_runs": n}
    write_json_atomic(out, doc)
    return doc


def judge_adaptive_round(
    groups: Sequence[Mapping[str, Any]],
    index: int,
    points: Points,
    ad: AdaptiveCampaign,
    allow_replicas: bool,
    dynamics: Mapping[str, Any] | None,
    keys: Mapping[str, Any],
    record_out: str,
) -> dict[str, Any]:
    """One round of the ``adaptive_round`` checkpoint: estimate, decide, write the record.

    Parameters
    ----------
    groups : sequence of mapping
        One per (composition, judged T): ``comp``, ``T_K`` and its files
        (:func:`point_estimate`).
    index : int
        The round.
    points : dict label -> AdaptivePoint
        The points it judges.
    ad : AdaptiveCampaign
    allow_replicas : bool
        See :func:`map_choice`.
    dynamics : mapping, optional
        ``analysis.dynamics`` settings.
    keys : mapping
        Stored first in the record (campaign).
    record_out : str
        Path of the record (written atomically).

    Returns
    -------
    dict
        The record (:func:`decide_round`).
    """
    import logging

    from glassflow.io.atomic import write_json_atomic

    log = logging.getLogger(__name__)
    estimates: dict[int, dict[str, tuple[float | None, float | None, int]]] = {}
    for g in groups:
        est = point_estimate(g, ad.quantity, dynamics)
        estimates.setdefault(int(g["T_K"]), {})[str(g["comp"])] = est
        log.info("%s T=%s K: %s = %s +- %s (%d runs)", g["comp"], g["T_K"], ad.quantity, *est)
    record = decide_round(index, points, estimates, ad, allow_replicas, keys)
    for t, v in record["temperatures"].items():
        log.info("T=%s K: location %s, largest std %.3g dec", t, v["location"], v["max_std"])
    log.info(
        "adaptive round %d: chosen m %s -> new %s, extra replicas %s, dropped %s; stop: %s",
        index,
        record["chosen_m"],
        [a["comp"] for a in record["added"]],
        record["extra_replicas"],
        record["dropped_m"],
        record["stop"],
    )
    write_json_atomic(record_out, record)
    return record


# --------------------------------------------------------------------------- tables


def points_table(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (composition, T) with the data the last round judged.

    Returns
    -------
    DataFrame
        ``T_K, comp, x, m, round, n_runs, value, error, y, y_se, used`` (value and error
        in the quantity's unit, y in decades).
    """
    if not records:
        return pd.DataFrame()
    last = records[-1]
    rows = [
        {"T_K": int(t), "x": float(last["x"]), "quantity": last["quantity"], **row}
        for t, v in last["temperatures"].items()
        for row in v["data"]
    ]
    return pd.DataFrame(rows).sort_values(["T_K", "m"], kind="stable").reset_index(drop=True)


def rounds_table(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (round, judged T): location, interval, largest std, choice, stop.

    Returns
    -------
    DataFrame
        ``round, T_K, n_points, runs_spent, location_m, lo_m, hi_m, halfwidth_m,
        max_std_dec, stop_T, decided_at_K, chosen_m, added, extra_replicas, dropped_m,
        stop`` (lists as text).
    """
    rows = []
    for r in records:
        for t, v in r["temperatures"].items():
            loc = v["location"] or {}
            rows.append(
                {
                    "round": int(r["round"]),
                    "T_K": int(t),
                    "n_points": len(v["data"]),
                    "runs_spent": int(v["runs_spent"]),
                    "location_m": loc.get("median", np.nan),
                    "lo_m": loc.get("lo", np.nan),
                    "hi_m": loc.get("hi", np.nan),
                    "halfwidth_m": loc.get("halfwidth", np.nan),
                    "max_std_dec": float(v["max_std"]),
                    "stop_T": v["stop"] or "",
                    "decided_at_K": r["decided_at_K"] if r["decided_at_K"] is not None else -1,
                    "chosen_m": " ".join(f"{m:g}" for m in r["chosen_m"]),
                    "added": " ".join(a["comp"] for a in r["added"]),
                    "extra_replicas": " ".join(
                        f"{c}+{n}" for c, n in sorted(r["extra_replicas"].items())
                    ),
                    "dropped_m": " ".join(f"{m:g}" for m in r["dropped_m"]),
                    "stop": r["stop"] or "",
                }
            )
    return pd.DataFrame(rows)


def posterior_table(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The posterior of every round and T on the m lattice (long format).

    Returns
    -------
    DataFrame
        ``round, T_K, m, mean_dec, std_dec`` (latent log10 of the quantity, decades).
    """
    frames = [
        pd.DataFrame(
            {
                "round": int(r["round"]),
                "T_K": int(t),
                "m": v["posterior"]["m"],
                "mean_dec": v["posterior"]["mean"],
                "std_dec": v["posterior"]["std"],
            }
        )
        for r in records
        for t, v in r["temperatures"].items()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def point_rounds(points: Points, x: float) -> list[dict[str, Any]]:
    """``{"x", "m", "round"}`` of every adaptive point (params of the tables rule)."""
    return [{"x": float(x), "m": p.m, "round": p.round} for p in points.values()]


def add_round_column(df: pd.DataFrame, rounds: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A campaign table with the column ``round`` (nullable Int64) of its adaptive points.

    Parameters
    ----------
    df : DataFrame
        A table with columns ``x`` and ``m`` (others unchanged); may be empty.
    rounds : sequence of mapping
        :func:`point_rounds`.

    Returns
    -------
    DataFrame
        ``round``: the first adaptive round that judged the composition (0: the initial
        grid); <NA> for compositions of the config's own grid.
    """
    out = df.copy()
    if not {"x", "m"} <= set(out.columns):
        return out
    lookup = {(round(float(r["x"]), 6), round(float(r["m"]), 6)): int(r["round"]) for r in rounds}
    keys = zip(out["x"].astype(float).round(6), out["m"].astype(float).round(6), strict=True)
    out["round"] = pd.array([lookup.get(k) for k in keys], dtype="Int64")
    return out
