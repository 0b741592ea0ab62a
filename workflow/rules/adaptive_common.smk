# Adaptive refinement along m (glassflow.campaign.adaptive_rounds), used when
# adaptive.enabled is set: the walk over the round records of checkpoint adaptive_round,
# the compositions and replicas it adds, and the input/params functions of its rules.
# Without adaptive.enabled every function here gives the config's grid unchanged.
from glassflow.campaign.adaptive_rounds import (
    initial_points,
    point_rounds,
    points_of_round,
    walk_records,
)

ADAPTIVE_DIR = f"{R}/adaptive"
ADAPTIVE_RECORD = f"{ADAPTIVE_DIR}/round{{round}}.json"
# with convergence targets: a point's pooled estimate after its own rounds (one job per
# point, so that the points' convergence rounds run side by side)
ADAPTIVE_POINT = f"{R}/{{comp}}/T{{T}}/convergence/adaptive_estimate.json"


def _read_adaptive_round(i):
    r = f"{i:02d}"
    path = ADAPTIVE_RECORD.format(round=r)
    return json.loads(
        Path(checkpoint_record(checkpoints.adaptive_round, path, round=r)).read_text()
    )


def adaptive_points0():
    """The initial grid, each composition with the campaign's replicas."""
    return initial_points(ADAPTIVE, CFG["replicas"])


def adaptive_walk():
    """(points, records) after every round; waits for checkpoint adaptive_round."""
    try:
        return walk_records(_read_adaptive_round, adaptive_points0())
    except ValueError as err:
        raise WorkflowError(str(err)) from None


def point_replicas(comp):
    """Replicas of a composition: the campaign's, or an adaptive point's (the core may
    add replicas when it chooses a measured m again without convergence targets)."""
    if ADAPTIVE is None or adaptive_m_of_label(ADAPTIVE, comp) is None:
        return CAMPAIGN.replicas
    point = adaptive_walk()[0].get(comp)
    return list(range(1, point.replicas + 1)) if point else CAMPAIGN.replicas


def campaign_comps():
    """The config's compositions, then the adaptive ones of every round."""
    comps = list(CAMPAIGN.compositions)
    if ADAPTIVE is not None:
        comps += [c for c in sorted(adaptive_walk()[0]) if c not in comps]
    return comps


def adaptive_records(wildcards=None):
    """Every adaptive round record (none without adaptive.enabled)."""
    if ADAPTIVE is None:
        return []
    return [
        ADAPTIVE_RECORD.format(round=f"{r['round']:02d}") for r in adaptive_walk()[1]
    ]


def adaptive_point_rounds(wildcards=None):
    """x, m and first round of every adaptive point (the tables' round column)."""
    if ADAPTIVE is None:
        return []
    return point_rounds(adaptive_walk()[0], ADAPTIVE.x)


def campaign_expected_runs(wildcards=None):
    """expected_runs() with the adaptive points' runs in place of the grid's."""
    if ADAPTIVE is None:
        return expected_runs()
    points = adaptive_walk()[0]
    out = [e for e in expected_runs() if e["comp"] not in points]
    for comp, p in sorted(points.items()):
        for T in CAMPAIGN.temperatures_K:
            for rep in range(1, p.replicas + 1):
                keys = run_keys_of(comp, T, rep)
                keys["log"] = f"{LOGS}/production/{comp}_T{T}_rep{rep:02d}.log"
                out.append(keys)
    return out


def _round_groups(index):
    """The points round {index} judges and, per (composition, judged T), its files."""
    try:
        points = points_of_round(_read_adaptive_round, adaptive_points0(), index)
    except ValueError as err:
        raise WorkflowError(str(err)) from None
    groups = []
    for comp, p in sorted(points.items()):
        for T in ADAPTIVE.temperatures_K:
            g = {"comp": comp, "T_K": int(T)}
            if CONVERGENCE is None:
                g["trajectories"] = [
                    f"{RUN_DIR}/production/trajectory.gtrj".format(
                        comp=comp, T=T, rep=f"{r:02d}"
                    )
                    for r in range(1, p.replicas + 1)
                ]
            else:  # the point's pooled estimate after its convergence rounds
                g["estimate"] = ADAPTIVE_POINT.format(comp=comp, T=T)
            groups.append(g)
    return points, groups


def adaptive_round_inputs(wildcards):
    """Earlier round records and the runs (or convergence records) of every point."""
    index = int(wildcards.round)
    _, groups = _round_groups(index)
    return {
        "previous": [ADAPTIVE_RECORD.format(round=f"{i:02d}") for i in range(index)],
        "points": [
            f for g in groups for f in g.get("trajectories", [g.get("estimate")])
        ],
    }


def adaptive_round_groups(wildcards):
    """Params of round {round}: the points it judges (label -> replicas) and the files
    of each (composition, T)."""
    points, groups = _round_groups(int(wildcards.round))
    return {"points": [asdict(p) for _, p in sorted(points.items())], "groups": groups}


def adaptive_targets():
    """The adaptive tables and figure, when adaptive.enabled is set."""
    if ADAPTIVE is None:
        return []
    return [
        *expand(
            f"{ADAPTIVE_DIR}/{{name}}.parquet", name=["points", "rounds", "posterior"]
        ),
        f"{FIGURES}/adaptive.png",
    ]
