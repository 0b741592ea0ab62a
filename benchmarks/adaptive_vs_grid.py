"""Runs needed to locate a maximum (or a jump) of sigma(m): adaptive refinement vs a grid.

Synthetic landscapes y(m) = log10 sigma (decades) over m in [2, 4.5] (seeded RNG):

- ``maximum``: ``a + h exp(-u^2 / (2 w^2))`` with ``u = (exp(k (m - m*)) - 1) / k``, a
  smooth bump skewed by the warp u (narrower on the side k points to; u ~ m - m* near
  m*) with m* ~ U[2, 4.5], h ~ U[1, 2.5] decades, w ~ U[0.25, 0.6], k ~ U[-1, 1] per
  unit m: the true position is m*. (Flatter bumps, curvature h / w^2 below ~2
  decades per unit m^2, need a few hundred runs by any method: at m* +- 0.1 the slope
  is 0.1 h / w^2, and a slope has to be measured to half that with runs of 0.13-0.3
  decades; ``--h`` and ``--w`` change the ranges.)
- ``jump``: ``a + h / (1 + exp(-(m - c) / w)) + t (m - 3.25)`` with c ~ U[2.25, 4.25],
  h ~ U[1, 2], w ~ U[0.03, 0.12], t ~ U[-0.3, 0.3] decades per unit m; the true
  position is where dy/dm is largest on a 0.001 lattice (close to c).

One run is one measurement of one composition: y(m) + N(0, e^2), with the one-run
error e ~ U[0.13, 0.3] decades per landscape (the collective sigma of a 600-atom, 60 ps
run has a 1 sigma relative error of 30-100 %); a composition measured by k runs enters
the GP with the mean of its runs and the error e / sqrt(k), which the fit is told.

All methods use the same GP (``fit_gp(..., along_m_only=True)``) and the same
posterior of the position (:func:`glassflow.campaign.adaptive.posterior_location`,
1000 paths on a 0.01 lattice). A landscape is *located* when the 95 % interval of the
position has half-width <= 0.1 (``--halfwidth``) *and* contains the true position.

- adaptive: :func:`glassflow.campaign.adaptive.plan_round` in rounds from the initial
  grid (5 compositions, 1 run each; 4 runs per round; min_step 0.05) until its stop rule
  says "goal reached" (half-width <= 0.1, measurements within 0.2 on both sides of the
  interval, its median not on a bound), or the budget of ``--max-runs`` runs is spent
  (a failure). Runs: all runs made.
- grid, one design: the same n compositions x k replicas on every landscape (a campaign
  that fixes its grid beforehand). Designs (n in 5..61, k in 1..10) are tried in order
  of cost n k, each with fresh noise, until the fraction of landscapes located is at
  least the adaptive one: "the same accuracy on the same landscapes". Runs: n k.
- grid, sequential: the same stop rule as adaptive on nested regular grids: from the
  initial grid (5 x 1), each step either halves the spacing (new midpoints, k runs
  each) or adds one run to every composition, whichever adds fewer runs (halving on a
  tie), until the stop rule says "goal reached" or ``--grid-cap`` runs would be passed.
  Runs: all runs made. This isolates where runs go from when the campaign stops.

Printed: per landscape the runs of adaptive and of the sequential grid, their
half-widths and whether they located it, and whether the one grid design located it;
per set the median runs, the ratios adaptive / grid and the located fractions.

Usage::

    .venv/bin/python benchmarks/adaptive_vs_grid.py               # 20 + 20 landscapes
    .venv/bin/python benchmarks/adaptive_vs_grid.py --quick       # 6 + 6
    .venv/bin/python benchmarks/adaptive_vs_grid.py --n 40 --seed 1 --json out.json

Runtime (one core of a shared 2-core machine): the default 3.2 minutes (adaptive 45 s,
sequential grid 10 s, the one-design search 2.3 min), ``--quick`` 36 s, ``--n 40
--seed 1`` 4.9 minutes. Threads: BLAS is limited to ``GLASSFLOW_BENCH_THREADS``
(default 1).

Measured (runs: median / mean; located fraction):

=================  ==================  ====================  ==================
set                adaptive            one grid, same acc.   sequential grid
=================  ==================  ====================  ==================
maximum, seed 0    29 / 45.0, 90 %     21x10 = 210, 90 %     33 / --, 65 %
jump, seed 0       33 / 51.4, 100 %    61x6 = 366*, 95 %     65 / --, 95 %
maximum, 40, s. 1  17 / 26.9, 88 %     9x8 = 72, 90 %        25 / --, 85 %
jump, 40, s. 1     45 / 51.4, 95 %     51x4 = 204, 98 %      65 / --, 95 %
=================  ==================  ====================  ==================

(* capped: no design up to 400 runs located all 20; 90 % took 31x5 = 155.) The
one-design grid must locate the hardest landscapes of the set too, so its cost grows
with their number and spread (the first 6 of seed 0: 60 runs; all 20: 210), while
the adaptive campaign pays per landscape. The sequential grid stops by the same rule
as adaptive and shows what placement alone buys: 0.51-0.88 of its median runs, at
an equal or higher located fraction.
"""

from __future__ import annotations

import os

THREADS = os.environ.setdefault("GLASSFLOW_BENCH_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = THREADS

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, replace  # noqa: E402

import numpy as np  # noqa: E402

from glassflow.campaign.adaptive import (  # noqa: E402
    GOAL_REACHED,
    AdaptiveSettings,
    LocationPosterior,
    fit_along_m,
    initial_grid,
    plan_round,
    posterior_location,
    stop_reason,
)

BOUNDS = (2.0, 4.5)
#: height (decades) and width ranges of the bumps (``--h``, ``--w``)
H_RANGE, W_RANGE = (1.0, 2.5), (0.25, 0.6)
GRID_N = (5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 21, 26, 31, 41, 51, 61)
GRID_K = (1, 2, 3, 4, 5, 6, 8, 10)
#: noise streams (third entry of the SeedSequence)
ADAPTIVE, SEQUENTIAL, ONE_DESIGN = 1, 2, 3

Runs = dict[float, list[float]]


@dataclass(frozen=True)
class Landscape:
    """A synthetic y(m) (decades), a bump or a step; ``truth`` is its position.

    ``w2`` is the bump's skew k (per unit m), or the step's tilt (decades per m).
    """

    kind: str
    a: float
    h: float
    c: float
    w: float
    w2: float
    error: float  # one-run 1 sigma error, decades
    truth: float

    def __call__(self, m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=float)
        if self.kind == "maximum":
            k = self.w2 if abs(self.w2) > 1e-9 else 1e-9
            u = np.expm1(k * (m - self.c)) / k / self.w
            return self.a + self.h * np.exp(-0.5 * u * u)
        step = 1.0 / (1.0 + np.exp(-(m - self.c) / self.w))
        return self.a + self.h * step + self.w2 * (m - 3.25)


def _steepest(f: Landscape) -> float:
    grid = np.linspace(*BOUNDS, 2501)
    return float(0.5 * (grid[1:] + grid[:-1])[np.argmax(np.diff(f(grid)))])


def make_landscapes(kind: str, n: int, seed: int) -> list[Landscape]:
    """``n`` landscapes of one kind (module docstring), seeded."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0 if kind == "maximum" else 1]))
    out = []
    for _ in range(n):
        a, error = rng.uniform(-4.0, -2.0), rng.uniform(0.13, 0.3)
        if kind == "maximum":
            c, h = rng.uniform(*BOUNDS), rng.uniform(*H_RANGE)
            w, k = rng.uniform(*W_RANGE), rng.uniform(-1.0, 1.0)
            out.append(Landscape(kind, a, h, c, w, k, error, c))
        else:
            c, h = rng.uniform(2.25, 4.25), rng.uniform(1.0, 2.0)
            w, t = rng.uniform(0.03, 0.12), rng.uniform(-0.3, 0.3)
            f = Landscape(kind, a, h, c, w, t, error, 0.0)
            out.append(replace(f, truth=_steepest(f)))
    return out


def _measure(f: Landscape, m: np.ndarray, runs: Runs, rng: np.random.Generator) -> None:
    """One run at each m (repeats are replicas), appended to ``runs``."""
    for v, y in zip(m, f(m) + rng.normal(0.0, f.error, len(m)), strict=True):
        runs.setdefault(float(v), []).append(float(y))


def _pooled(runs: Runs, error: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(m, mean y, error / sqrt(k), k) per composition."""
    m = np.array(sorted(runs))
    k = np.array([len(runs[v]) for v in m])
    y = np.array([np.mean(runs[v]) for v in m])
    return m, y, error / np.sqrt(k), k


@dataclass(frozen=True)
class Outcome:
    """What one method needed on one landscape; ``located``: narrow and holds the truth."""

    runs: int
    halfwidth: float
    lo: float
    hi: float
    located: bool
    note: str


def _outcome(runs: int, loc: LocationPosterior, f: Landscape, target: float, note: str):
    ok = loc.halfwidth <= target and loc.contains(f.truth)
    return Outcome(int(runs), loc.halfwidth, loc.lo, loc.hi, bool(ok), note)


def _rng(seed: int, i: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, i, stream, *more]))


def run_adaptive(f: Landscape, settings: AdaptiveSettings, seed: int, i: int) -> Outcome:
    """Rounds of :func:`plan_round` from the initial grid until it stops."""
    rng, runs = _rng(seed, i, ADAPTIVE), {}
    todo = initial_grid(settings)
    for round_index in range(10_000):
        _measure(f, todo, runs, rng)
        m, y, se, k = _pooled(runs, f.error)
        plan = plan_round(m, y, se, settings, seed + 1000 * i, round_index, n_runs=k)
        if plan.stop:
            assert plan.location is not None
            goal = plan.stop.startswith(GOAL_REACHED)
            out = _outcome(plan.runs_spent, plan.location, f, settings.target_halfwidth, "")
            return replace(out, located=out.located and goal, note="" if goal else "budget")
        todo = plan.points
    raise RuntimeError("no stop")  # pragma: no cover


def run_sequential_grid(f: Landscape, settings: AdaptiveSettings, seed: int, i: int, cap: int):
    """Nested regular grids (module docstring) with the adaptive stop rule."""
    rng, runs = _rng(seed, i, SEQUENTIAL), {}
    m_grid, k = initial_grid(settings), 1
    _measure(f, m_grid, runs, rng)
    for step in range(10_000):
        m, y, se, kk = _pooled(runs, f.error)
        loc = posterior_location(
            fit_along_m(m, y, se), settings, seed=seed + 1000 * i, round_index=step
        )
        spent = int(kk.sum())
        note = f"{m_grid.size}x{k}"
        reason = stop_reason(replace(settings, max_runs=cap), spent, loc, m=m)
        if reason and reason.startswith(GOAL_REACHED):
            return _outcome(spent, loc, f, settings.target_halfwidth, note)
        refine = (m_grid.size - 1) * k <= m_grid.size
        new = 0.5 * (m_grid[1:] + m_grid[:-1]) if refine else m_grid
        if spent + new.size * (k if refine else 1) > cap:
            return replace(
                _outcome(spent, loc, f, settings.target_halfwidth, note + " cap"), located=False
            )
        _measure(f, np.repeat(new, k if refine else 1), runs, rng)
        m_grid, k = (np.sort(np.concatenate([m_grid, new])), k) if refine else (m_grid, k + 1)
    raise RuntimeError("no stop")  # pragma: no cover


def grid_designs(cap: int) -> list[tuple[int, int]]:
    """(n compositions, k replicas) with n k <= cap, by cost then by n."""
    designs = [(n, k) for n in GRID_N for k in GRID_K if n * k <= cap]
    return sorted(designs, key=lambda d: (d[0] * d[1], d[0]))


def one_design(
    f: Landscape, settings: AdaptiveSettings, n: int, k: int, seed: int, i: int, d: int
) -> Outcome:
    """A regular grid of n compositions, k runs each, on one landscape."""
    m = np.linspace(*settings.bounds, n)
    y = f(m) + _rng(seed, i, ONE_DESIGN, d).normal(0.0, f.error, (k, n)).mean(axis=0)
    fit = fit_along_m(m, y, np.full(n, f.error / np.sqrt(k)))
    loc = posterior_location(fit, settings, seed=seed + 1000 * i, round_index=d)
    return _outcome(n * k, loc, f, settings.target_halfwidth, f"{n}x{k}")


def grid_for_all(
    fs: list[Landscape], settings: AdaptiveSettings, seed: int, cap: int, target: float
) -> tuple[list[Outcome], list[tuple[str, int, float]]]:
    """The cheapest one design that locates at least the fraction ``target`` of ``fs``.

    Also returns every design tried as (name, runs, fraction located). Without such a
    design up to ``cap`` runs, the last one tried, its note ending in "cap".
    """
    outs: list[Outcome] = []
    tried: list[tuple[str, int, float]] = []
    for d, (n, k) in enumerate(grid_designs(cap)):
        outs = [one_design(f, settings, n, k, seed, i, d) for i, f in enumerate(fs)]
        tried.append((f"{n}x{k}", n * k, float(np.mean([o.located for o in outs]))))
        if tried[-1][2] >= target:
            return outs, tried
    return [replace(o, note=o.note + " cap") for o in outs], tried


def first_reaching(tried: list[tuple[str, int, float]], levels=(0.5, 0.75, 0.9)) -> str:
    """The cheapest design tried that located each fraction in ``levels``."""
    parts = []
    for level in levels:
        hit = next((t for t in tried if t[2] >= level - 1e-12), None)
        parts.append(f"{level:.0%}: " + (f"{hit[0]} = {hit[1]} runs" if hit else "none"))
    return ", ".join(parts)


def _row(i: int, f: Landscape, a: Outcome, s: Outcome, g: Outcome) -> str:
    def part(o: Outcome) -> str:
        return f"{o.runs:4d} {o.halfwidth:5.3f} {'ok' if o.located else 'NO'} {o.note:9s}"

    return (
        f"{i:3d} {f.truth:6.3f} {f.h:4.2f} {f.w:5.3f} {f.error:5.3f} | {part(a)} | "
        f"{part(s)} | {g.halfwidth:5.3f} {'ok' if g.located else 'NO'}"
    )


def _summary(kind: str, ad: list[Outcome], sq: list[Outcome], one: list[Outcome]) -> dict:
    ra = np.array([o.runs for o in ad], dtype=float)
    rs = np.array([o.runs for o in sq], dtype=float)
    return {
        "kind": kind,
        "n": len(ad),
        "adaptive_median_runs": float(np.median(ra)),
        "adaptive_mean_runs": float(np.mean(ra)),
        "adaptive_located": float(np.mean([o.located for o in ad])),
        "adaptive_goal_reached": float(np.mean([o.note != "budget" for o in ad])),
        "one_design": one[0].note,
        "one_design_runs": one[0].runs,
        "one_design_located": float(np.mean([o.located for o in one])),
        "one_design_reached": not one[0].note.endswith("cap"),
        "sequential_median_runs": float(np.median(rs)),
        "sequential_located": float(np.mean([o.located for o in sq])),
        "ratio_adaptive_median_to_one_design": float(np.median(ra) / one[0].runs),
        "ratio_adaptive_mean_to_one_design": float(np.mean(ra) / one[0].runs),
        "ratio_medians_adaptive_to_sequential": float(np.median(ra) / np.median(rs)),
        "median_ratio_adaptive_to_sequential": float(np.median(ra / rs)),
    }


def bench(kind: str, n: int, seed: int, max_runs: int, grid_cap: int, halfwidth: float):
    """All methods on ``n`` landscapes of one kind; prints a row per landscape."""
    settings = AdaptiveSettings(
        bounds=BOUNDS, goal=kind, max_runs=max_runs, target_halfwidth=halfwidth
    )
    fs = make_landscapes(kind, n, seed)
    t0 = time.perf_counter()
    ad = [run_adaptive(f, settings, seed, i) for i, f in enumerate(fs)]
    t1 = time.perf_counter()
    sq = [run_sequential_grid(f, settings, seed, i, grid_cap) for i, f in enumerate(fs)]
    t2 = time.perf_counter()
    target = float(np.mean([o.located for o in ad]))
    one, tried = grid_for_all(fs, settings, seed, grid_cap, target)
    t3 = time.perf_counter()
    print(f"\n{kind}: {n} landscapes, target half-width {halfwidth:g}")
    print(
        "  i  truth    h     w   err | adaptive: runs hw ok      | sequential grid: "
        f"runs hw ok    | one grid {one[0].note}: hw ok"
    )
    for i, f in enumerate(fs):
        print(_row(i, f, ad[i], sq[i], one[i]))
    s = _summary(kind, ad, sq, one)
    s["designs_tried"] = tried
    s["seconds"] = {"adaptive": t1 - t0, "sequential": t2 - t1, "one_design": t3 - t2}
    print(
        f"{kind}: adaptive median {s['adaptive_median_runs']:g} runs (mean "
        f"{s['adaptive_mean_runs']:.1f}), located {s['adaptive_located']:.0%}, goal reached "
        f"{s['adaptive_goal_reached']:.0%}\n"
        f"{kind}: one grid for all, same accuracy: {s['one_design']} = "
        f"{s['one_design_runs']} runs, located {s['one_design_located']:.0%}; ratio "
        f"adaptive/grid: median {s['ratio_adaptive_median_to_one_design']:.2f}, mean "
        f"{s['ratio_adaptive_mean_to_one_design']:.2f}"
        f"{'' if s['one_design_reached'] else ' (grid capped: upper bounds)'}\n"
        f"{kind}: one grid for all, cheapest design locating {first_reaching(tried)}\n"
        f"{kind}: sequential grid median {s['sequential_median_runs']:g} runs, located "
        f"{s['sequential_located']:.0%}; ratio of medians adaptive/sequential "
        f"{s['ratio_medians_adaptive_to_sequential']:.2f}, median of ratios "
        f"{s['median_ratio_adaptive_to_sequential']:.2f}\n"
        f"{kind}: seconds adaptive {t1 - t0:.0f}, sequential {t2 - t1:.0f}, "
        f"one design {t3 - t2:.0f}",
        flush=True,
    )
    rows = [
        {
            "landscape": asdict(f),
            "adaptive": asdict(a),
            "sequential": asdict(q),
            "one_design": asdict(g),
        }
        for f, a, q, g in zip(fs, ad, sq, one, strict=True)
    ]
    return rows, s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="landscapes per kind (default 20)")
    ap.add_argument("--quick", action="store_true", help="6 landscapes per kind")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default="maximum,jump")
    ap.add_argument("--halfwidth", type=float, default=0.1, help="target 95 %% half-width")
    ap.add_argument("--max-runs", type=int, default=200, help="adaptive budget")
    ap.add_argument("--grid-cap", type=int, default=400, help="costliest grid tried")
    ap.add_argument("--h", default="1,2.5", help="bump heights lo,hi (decades)")
    ap.add_argument("--w", default="0.25,0.6", help="bump widths lo,hi")
    ap.add_argument("--json", default=None, help="write rows and summaries here")
    args = ap.parse_args()
    global H_RANGE, W_RANGE
    H_RANGE = tuple(float(v) for v in args.h.split(","))
    W_RANGE = tuple(float(v) for v in args.w.split(","))
    n = 6 if args.quick else args.n
    t0 = time.perf_counter()
    result: dict = {"args": vars(args), "sets": {}}
    for kind in args.kinds.split(","):
        rows, summary = bench(kind, n, args.seed, args.max_runs, args.grid_cap, args.halfwidth)
        result["sets"][kind] = {"rows": rows, "summary": summary}
    result["wall_s"] = time.perf_counter() - t0
    print(f"\nwall time {result['wall_s']:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
