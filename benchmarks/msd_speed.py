"""Benchmark: glassflow MSD versus MDAnalysis ``EinsteinMSD(fft=True)``.

Synthetic float32 random walk (default 3000 atoms x 5000 frames) written as a ``.gtrj``.
Each measurement runs in its own subprocess and reports wall time, the tracemalloc peak
(numpy buffers are traced) and ru_maxrss (resident set, includes the interpreter and the
page cache of the memory-mapped trajectory):

- ``ours``: :func:`glassflow.analysis.dynamics.correlations.species_msd` (MSD only,
  streamed over atom blocks);
- ``mda``: MDAnalysis ``EinsteinMSD(select="all", fft=True)`` on a MemoryReader universe
  built from the in-memory array (array loading is excluded from the timing);
- ``full``: :func:`glassflow.analysis.dynamics.correlations.analyse_trajectory` (MSD +
  r^4/alpha2 + block MSDs + Van Hove + collective charge MSD) — its peak memory is
  compared with the trajectory size.

Usage: ``.venv/bin/python benchmarks/msd_speed.py [--atoms 3000] [--frames 5000]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def make_trajectory(path: Path, n_atoms: int, n_frames: int) -> None:
    from glassflow.io.trajectory import TrajectoryHeader, TrajectoryWriter

    rng = np.random.default_rng(0)
    types = np.zeros(n_atoms, dtype=np.int32)
    types[n_atoms // 3 :] = 1
    header = TrajectoryHeader(
        species=("Na", "S"),
        types=types,
        charges=np.where(types == 0, 1.0, -0.5),
        masses=np.ones(n_atoms),
        timestep_fs=1.0,
        has_velocities=False,
    )
    pos = rng.uniform(0, 40, size=(n_atoms, 3)).astype(np.float64)
    with TrajectoryWriter(path, header) as w:
        for start in range(0, n_frames, 500):
            n = min(500, n_frames - start)
            steps = rng.normal(scale=0.1, size=(n, n_atoms, 3))
            block = pos + np.cumsum(steps, axis=0)
            pos = block[-1]
            t = (start + np.arange(n)) * 0.1
            w.write(np.rint(t * 1000).astype(np.int64), t, [40.0] * 3, block.astype(np.float32))


def run_mode(mode: str, path: str) -> dict:
    from glassflow.io.trajectory import open_trajectory

    traj = open_trajectory(path)
    out: dict = {"mode": mode}
    if mode == "mda":
        import MDAnalysis as mda
        from MDAnalysis.analysis.msd import EinsteinMSD
        from MDAnalysis.coordinates.memory import MemoryReader

        arr = traj.positions()  # (frames, atoms, 3) float32, loaded before timing
        tracemalloc.start()
        t0 = time.perf_counter()
        u = mda.Universe.empty(traj.n_atoms, trajectory=False)
        u.load_new(arr, format=MemoryReader, order="fac")
        m = EinsteinMSD(u, select="all", msd_type="xyz", fft=True)
        m.run()
        out["msd_last"] = float(m.results.timeseries[-2])
        out["msd_10"] = float(m.results.timeseries[10])
    elif mode == "ours":
        from glassflow.analysis.dynamics.correlations import species_msd

        tracemalloc.start()
        t0 = time.perf_counter()
        # all atoms of every species, as MDAnalysis does with select="all"
        sums, n = 0.0, 0
        for sp in traj.species:
            t, msd = species_msd(traj, sp, n_lags=traj.n_frames, chunk_atoms=256)
            k = traj.indices_of(sp).size
            sums, n = sums + msd * k, n + k
        msd = sums / n
        lag = np.rint(t / (traj.times_ps[1] - traj.times_ps[0])).astype(int)
        out["msd_10"] = float(msd[lag == 10][0])
    elif mode == "full":
        from glassflow.analysis.dynamics.correlations import DynamicsSettings, analyse_trajectory

        tracemalloc.start()
        t0 = time.perf_counter()
        rd = analyse_trajectory(traj, DynamicsSettings())
        out["alpha2_max_Na"] = rd.species["Na"].alpha2_max
    else:
        raise ValueError(mode)
    out["wall_s"] = time.perf_counter() - t0
    out["tracemalloc_peak_MB"] = tracemalloc.get_traced_memory()[1] / 1e6
    out["maxrss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--atoms", type=int, default=3000)
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--mode", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--path", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.path)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gtrj"
        make_trajectory(path, args.atoms, args.frames)
        size_mb = args.atoms * args.frames * 12 / 1e6
        print(
            f"trajectory: {args.atoms} atoms x {args.frames} frames, float32 positions "
            f"{size_mb:.1f} MB (file {path.stat().st_size / 1e6:.1f} MB)"
        )
        res = {}
        for mode in ("ours", "mda", "full"):
            cmd = [sys.executable, __file__, "--mode", mode, "--path", str(path)]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            res[mode] = r
            print(
                f"{mode:5s} wall {r['wall_s']:8.2f} s  tracemalloc peak "
                f"{r['tracemalloc_peak_MB']:8.1f} MB  maxrss {r['maxrss_MB']:8.1f} MB"
            )
        o, m, f = res["ours"], res["mda"], res["full"]
        print(
            f"MSD agreement at lag 10: ours {o['msd_10']:.6f} vs MDAnalysis {m['msd_10']:.6f} A^2"
        )
        print(f"speed-up (MDAnalysis / ours, MSD only): {m['wall_s'] / o['wall_s']:.1f}x")
        print(
            f"memory ratio (MDAnalysis / ours, tracemalloc peak): "
            f"{m['tracemalloc_peak_MB'] / o['tracemalloc_peak_MB']:.1f}x"
        )
        print(
            f"full analysis peak / trajectory size: "
            f"{f['tracemalloc_peak_MB'] / size_mb:.2f} (tracemalloc), "
            f"{f['maxrss_MB'] / size_mb:.2f} (maxrss)"
        )


if __name__ == "__main__":
    main()
