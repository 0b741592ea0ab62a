"""Benchmark: glassflow MSD versus MDAnalysis ``EinsteinMSD(fft=True)`` (tidynamics inside).

Synthetic float32 random walk (default 3000 atoms x 5000 frames, already unwrapped, as
MDAnalysis requires) written as a ``.gtrj``. Each measurement runs in its own subprocess,
pinned to one CPU (``--pin``) with ``OMP/OPENBLAS/MKL_NUM_THREADS=1``, and reports wall
time, the tracemalloc peak (numpy buffers are traced) and ru_maxrss (resident set,
includes the interpreter and the page cache of the memory-mapped trajectory):

- ``ours``: :func:`glassflow.analysis.dynamics.correlations.species_msd` (MSD only,
  streamed over atom blocks, read from the file; every species, averaged over all atoms);
- ``mda``: MDAnalysis ``EinsteinMSD(u, select="all", msd_type="xyz", fft=True)`` as its
  documentation shows, on a MemoryReader universe built from the in-memory array
  (reading the array is excluded from the timing, building the universe is not);
- ``full``: :func:`glassflow.analysis.dynamics.correlations.analyse_trajectory` (MSD +
  r^4/alpha2 + block MSDs + Van Hove + collective charge MSD) — its peak memory is
  compared with the trajectory size (run once).

``ours`` and ``mda`` run ``--repeats`` times each, alternating; min / median / max are
printed with the load average before and after. The two MSDs are compared at every lag
glassflow stores (largest relative difference). The versions of MDAnalysis and
tidynamics are printed.

Usage: ``.venv/bin/python benchmarks/msd_speed.py [--atoms 3000] [--frames 5000] [--repeats 3]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


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


def run_mode(mode: str, path: str, pin: int | None = None, save: str | None = None) -> dict:
    from glassflow.io.trajectory import open_trajectory

    if pin is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {pin})

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
        msd_all = np.asarray(m.results.timeseries)
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
        msd_all = np.full(traj.n_frames, np.nan)
        msd_all[lag] = msd
    elif mode == "full":
        from glassflow.analysis.dynamics.correlations import DynamicsSettings, analyse_trajectory

        tracemalloc.start()
        t0 = time.perf_counter()
        rd = analyse_trajectory(traj, DynamicsSettings())
        out["alpha2_max_Na"] = rd.species["Na"].alpha2_max
    else:
        raise ValueError(mode)
    out["wall_s"] = time.perf_counter() - t0
    if save and mode in ("ours", "mda"):
        np.save(save, msd_all)
    out["tracemalloc_peak_MB"] = tracemalloc.get_traced_memory()[1] / 1e6
    out["maxrss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    return out


def load() -> str:
    return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def versions() -> dict:
    out = {}
    for pkg in ("glassflow", "MDAnalysis", "tidynamics", "numpy", "scipy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--atoms", type=int, default=3000)
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of ours and mda (>= 3)")
    ap.add_argument("--pin", type=int, default=0, help="CPU the measured processes run on")
    ap.add_argument("--mode", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--path", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--save", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.path, args.pin, args.save)))
        return
    if args.repeats < 3:
        raise SystemExit("--repeats must be at least 3")
    print("versions:", versions())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gtrj"
        make_trajectory(path, args.atoms, args.frames)
        size_mb = args.atoms * args.frames * 12 / 1e6
        print(
            f"trajectory: {args.atoms} atoms x {args.frames} frames, float32 positions "
            f"{size_mb:.1f} MB (file {path.stat().st_size / 1e6:.1f} MB)"
        )
        print(f"before: {load()}; each run alone, pinned to CPU {args.pin}, 1 thread")

        def run(mode: str) -> dict:
            cmd = [sys.executable, __file__, "--mode", mode, "--path", str(path)]
            cmd += ["--pin", str(args.pin), "--save", str(Path(tmp) / f"{mode}.npy")]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            return json.loads(out)

        res: dict[str, list[dict]] = {"ours": [], "mda": []}
        for _ in range(args.repeats):
            for mode in ("ours", "mda"):
                res[mode].append(run(mode))
        full = run("full")
        walls = {m: [r["wall_s"] for r in rs] for m, rs in res.items()}
        for mode in ("ours", "mda"):
            w = walls[mode]
            r = res[mode][0]
            print(
                f"{mode:5s} wall min {min(w):7.2f} s, median {np.median(w):7.2f} s, max "
                f"{max(w):7.2f} s  tracemalloc peak {r['tracemalloc_peak_MB']:8.1f} MB  "
                f"maxrss {r['maxrss_MB']:8.1f} MB"
            )
        print(
            f"full  wall {full['wall_s']:7.2f} s  tracemalloc peak "
            f"{full['tracemalloc_peak_MB']:8.1f} MB  maxrss {full['maxrss_MB']:8.1f} MB"
        )
        print(f"after: {load()}")
        o = np.load(Path(tmp) / "ours.npy")
        m = np.load(Path(tmp) / "mda.npy")
        lags = np.flatnonzero(np.isfinite(o))
        lags = lags[lags >= 1]
        rel = np.abs(o[lags] / m[lags] - 1)
        half = lags <= (args.frames - 1) // 2
        print(
            f"MSD agreement at the {lags.size} lags glassflow stores (1-{lags[-1]} frames): "
            f"largest |ours/MDAnalysis - 1| {rel.max():.1e} (lags up to half the run "
            f"{rel[half].max():.1e}); lag 10: {o[10]:.6f} vs {m[10]:.6f} A^2"
        )
        print(
            "speed-up (MDAnalysis / ours, MSD only): min/min "
            f"{min(walls['mda']) / min(walls['ours']):.1f}x, median/median "
            f"{np.median(walls['mda']) / np.median(walls['ours']):.1f}x"
        )
        r0, m0 = res["ours"][0], res["mda"][0]
        print(
            f"memory ratio (MDAnalysis / ours, tracemalloc peak): "
            f"{m0['tracemalloc_peak_MB'] / r0['tracemalloc_peak_MB']:.1f}x"
        )
        print(
            f"full analysis peak / trajectory size: "
            f"{full['tracemalloc_peak_MB'] / size_mb:.2f} (tracemalloc), "
            f"{full['maxrss_MB'] / size_mb:.2f} (maxrss)"
        )


if __name__ == "__main__":
    main()
