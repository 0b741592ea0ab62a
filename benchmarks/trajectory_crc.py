"""Benchmark: cost of checking frame checksums while the analyses read a trajectory.

Writes a synthetic ``.gtrj`` (default 3000 atoms x 2000 frames, with velocities: about
144 MB of coordinates) and times an MSD-like first pass over it, as the dynamics
analysis does: for every block of ``--chunk-atoms`` atoms, read the positions of all
frames and compute the all-origins MSD by FFT (docs/physics.md §4, eq 2), then read the
velocities of the same atoms and sum v^2. The pass is timed

- ``off``: ``open_trajectory(path, verify="off")``, no checksum checked;
- ``stream``: ``open_trajectory(path)`` (the default the analyses use): the first read
  checks the CRC32 of every frame it touches, straight from the memory map;

and, separately, ``verify_all``: ``open_trajectory(path, verify="all")`` alone (the
up-front check of every frame, no analysis). Modes alternate over ``--repeats`` rounds
with the page cache warm for all of them (the file was just written); the medians of
wall and CPU time (CPU time is less disturbed by other processes on a shared machine)
and the ratios stream/off are printed.

Usage: ``.venv/bin/python benchmarks/trajectory_crc.py [--atoms 3000] [--frames 2000]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def make_trajectory(path: Path, n_atoms: int, n_frames: int, block: int = 250) -> None:
    """Random walk of Na and S atoms in a 40 Å box, positions and velocities (float32)."""
    from glassflow.io.trajectory import TrajectoryHeader, TrajectoryWriter

    rng = np.random.default_rng(0)
    types = np.zeros(n_atoms, dtype=np.int32)
    types[n_atoms // 3 :] = 1
    header = TrajectoryHeader(
        species=("Na", "S"),
        types=types,
        charges=np.where(types == 0, 1.0, -0.5),
        masses=np.where(types == 0, 22.99, 32.06),
        timestep_fs=1.0,
        has_velocities=True,
    )
    pos = rng.uniform(0, 40, size=(n_atoms, 3))
    with TrajectoryWriter(path, header) as w:
        for start in range(0, n_frames, block):
            n = min(block, n_frames - start)
            steps = rng.normal(scale=0.1, size=(n, n_atoms, 3))
            frames = pos + np.cumsum(steps, axis=0)
            pos = frames[-1]
            t = (start + np.arange(n)) * 0.01
            w.write(
                np.rint(t * 1000).astype(np.int64),
                t,
                [40.0] * 3,
                frames.astype(np.float32),
                (steps / 0.01).astype(np.float32),
            )


def msd_like_pass(path: Path, verify: str, chunk_atoms: int) -> tuple[float, float]:
    """Open ``path`` and run the MSD + velocity pass; returns (wall, CPU) time, s."""
    from glassflow.analysis.dynamics.correlations import displacement_moment_sums
    from glassflow.io.trajectory import open_trajectory

    t0, c0 = time.perf_counter(), time.process_time()
    traj = open_trajectory(path, verify=verify)
    r2 = np.zeros(traj.n_frames)
    v2 = 0.0
    for s in range(0, traj.n_atoms, chunk_atoms):
        atoms = np.arange(s, min(s + chunk_atoms, traj.n_atoms))
        p = np.transpose(traj.positions(atoms=atoms), (1, 2, 0)).astype(np.float64)
        r2 += displacement_moment_sums(p, fourth=False)[0]
        v2 += float(np.sum(np.square(traj.velocities(atoms=atoms), dtype=np.float64)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if verify == "stream" and not traj.fully_verified:
        raise RuntimeError("stream mode left frames unchecked")
    if not np.isfinite(r2).all() or not np.isfinite(v2):
        raise RuntimeError("non-finite result")
    return wall, cpu


def verify_all(path: Path) -> tuple[float, float]:
    from glassflow.io.trajectory import open_trajectory

    t0, c0 = time.perf_counter(), time.process_time()
    open_trajectory(path, verify="all")
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--atoms", type=int, default=3000)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--chunk-atoms", type=int, default=256, help="as DynamicsSettings")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where to write the trajectory (temp dir)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench.gtrj"
        t0 = time.perf_counter()
        make_trajectory(path, args.atoms, args.frames)
        size_mb = path.stat().st_size / 1e6
        print(
            f"trajectory: {args.atoms} atoms x {args.frames} frames with velocities, "
            f"{size_mb:.1f} MB, written in {time.perf_counter() - t0:.1f} s"
        )
        msd_like_pass(path, "off", args.chunk_atoms)  # warm-up: imports, page cache
        runs: dict[str, list[tuple[float, float]]] = {"off": [], "stream": [], "verify_all": []}
        for _ in range(args.repeats):
            for mode in ("off", "stream"):
                runs[mode].append(msd_like_pass(path, mode, args.chunk_atoms))
            runs["verify_all"].append(verify_all(path))
    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    print(f"{'mode':<12} {'wall s':>8} {'CPU s':>8}   (medians of {args.repeats}; all wall times)")
    for k, v in runs.items():
        print(f"{k:<12} {wall[k]:8.3f} {cpu[k]:8.3f}   " + " ".join(f"{w:.3f}" for w, _ in v))
    print(
        "read+MSD pass, stream-verified / unverified: "
        f"wall {wall['stream'] / wall['off']:.3f}, CPU {cpu['stream'] / cpu['off']:.3f}"
    )
    print(
        f"up-front verification of every frame: {wall['verify_all']:.3f} s wall "
        f"({size_mb / wall['verify_all']:.0f} MB/s)"
    )


if __name__ == "__main__":
    main()
