"""Benchmark: partial g(r) of 3000 atoms x 1000 frames (NS density, L = 41.277 Å).

Synthetic frames: a jittered simple-cubic lattice (spacing L/14.4, Gaussian jitter 0.35 Å)
with 1000 Na, 500 Si, 1500 S at random sites; each frame is re-jittered. r_max = 10 Å,
dr = 0.02 Å. Prints wall time, process CPU time (all threads), the load average (other
jobs on a shared machine inflate the wall time) and peak memory (process peak RSS; with
``--trace`` also tracemalloc's peak of the numpy/scipy allocations, which slows the run).

Run: ``.venv/bin/python benchmarks/structure_speed.py [--frames 1000] [--workers 2]``.
Target: under 30 s on the 2-core project machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import numpy as np

from glassflow.analysis.structure.pair_correlation import pair_distribution

L_A = 41.277
COUNTS = {"Na": 1000, "Si": 500, "S": 1500}


def synthetic_frames(n_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 3000, 3) float32 positions, Å, and species indices."""
    rng = np.random.default_rng(seed)
    n = sum(COUNTS.values())
    m = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = grid[rng.choice(grid.shape[0], n, replace=False)] * (L_A / m)
    types = rng.permutation(np.repeat(np.arange(3), list(COUNTS.values())))
    frames = np.empty((n_frames, n, 3), dtype=np.float32)
    for f in range(n_frames):
        frames[f] = sites + rng.normal(0.0, 0.35, sites.shape)
    return frames, types


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--trace", action="store_true", help="tracemalloc peak (slower)")
    args = ap.parse_args()
    frames, types = synthetic_frames(args.frames)
    print(f"{args.frames} frames x {frames.shape[1]} atoms, box {L_A} Å, r_max 10 Å, dr 0.02 Å")
    if args.trace:
        tracemalloc.start()
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    pdist = pair_distribution(frames, types, tuple(COUNTS), [L_A] * 3, 10.0, 0.02, args.workers)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    load1 = os.getloadavg()[0]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"g(r) wall time: {wall:.1f} s ({1000 * wall / args.frames:.1f} ms/frame, "
        f"workers={args.workers}); CPU time {cpu:.1f} s; "
        f"load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"process peak RSS {rss_mb:.0f} MiB (includes the {frames.nbytes / 2**20:.0f} MiB "
        "input array)"
    )
    if args.trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"tracemalloc peak during g(r): {peak / 2**20:.0f} MiB")
    print(
        f"check: Si-S running CN at 3 Å = {pdist.running_cn('Si', 'S')[149]:.2f}, "
        f"g(10 Å) mean = {pdist.g[:, :, -50:].mean():.3f}"
    )
    per_1000 = wall * 1000 / args.frames
    verdict = "PASS" if per_1000 < 30 else "SLOWER THAN"
    print(f"{verdict} the 30 s target (wall time scaled to 1000 frames: {per_1000:.1f} s)")


if __name__ == "__main__":
    main()
