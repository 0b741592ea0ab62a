"""glassflow against peer codes on the same data and settings (benchmarks/ has the full runs).

- the all-origin MSD against MDAnalysis ``EinsteinMSD`` (FFT path when tidynamics is
  installed, its windowed path otherwise);
- partial g(r) against MDAnalysis ``InterRDF`` (like pairs: MDAnalysis divides by
  ``N_a (N_a - 1)`` pairs, glassflow by ``N_a^2``);
- the MSD kinisi fits (``DiffusionAnalyzer.from_ase`` with a ``dt`` grid) against ours,
  when kinisi is installed (``bench`` extra).
"""

from __future__ import annotations

import numpy as np
import pytest

from glassflow.analysis.dynamics.correlations import displacement_moment_sums
from glassflow.analysis.structure.pair_correlation import pair_distribution


def _walk(n_frames: int = 300, n_atoms: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=0.3, size=(n_frames, n_atoms, 3))
    return np.cumsum(steps, axis=0) + rng.uniform(0, 12.0, size=(n_atoms, 3))


def _our_msd(x: np.ndarray) -> np.ndarray:
    r2, _ = displacement_moment_sums(np.transpose(x, (1, 2, 0)), fourth=False)
    return r2 / x.shape[1]


def test_msd_matches_mdanalysis_einstein_msd():
    mda = pytest.importorskip("MDAnalysis")
    from MDAnalysis.analysis.msd import EinsteinMSD
    from MDAnalysis.coordinates.memory import MemoryReader

    x = _walk()
    u = mda.Universe.empty(x.shape[1], trajectory=False)
    u.load_new(x, format=MemoryReader, order="fac")
    # the FFT path needs tidynamics (bench extra); the windowed path is the same MSD
    try:
        import tidynamics  # noqa: F401

        fft = True
    except ImportError:
        fft = False
    m = EinsteinMSD(u, select="all", msd_type="xyz", fft=fft)
    m.run()
    ours = _our_msd(x)
    peer = np.asarray(m.results.timeseries)
    # MDAnalysis' MemoryReader keeps float32 positions
    np.testing.assert_allclose(ours[1:], peer[1:], rtol=1e-6)


def test_partial_gr_matches_mdanalysis_interrdf():
    mda = pytest.importorskip("MDAnalysis")
    from MDAnalysis.analysis.rdf import InterRDF
    from MDAnalysis.coordinates.memory import MemoryReader

    rng = np.random.default_rng(1)
    box = np.array([14.0, 14.0, 14.0])
    pos = rng.random((3, 120, 3)) * box
    types = np.repeat([0, 1], [45, 75])
    ours = pair_distribution(pos, types, ("A", "B"), box, 6.0, 0.1, workers=1)
    u = mda.Universe.empty(pos.shape[1], trajectory=False)
    dims = np.tile(np.r_[box, 90.0, 90.0, 90.0], (pos.shape[0], 1))
    u.load_new(pos.astype(np.float32), format=MemoryReader, order="fac", dimensions=dims)
    for a, b in ((0, 0), (0, 1), (1, 1)):
        ga, gb = u.atoms[types == a], u.atoms[types == b]
        kw = {"exclusion_block": (1, 1)} if a == b else {}
        rdf = InterRDF(ga, gb, nbins=60, range=(0.0, 6.0), **kw)
        rdf.run()
        factor = len(ga) / (len(ga) - 1) if a == b else 1.0
        np.testing.assert_allclose(rdf.results.bins, ours.r_A, atol=1e-9)
        np.testing.assert_allclose(ours.g[a, b] * factor, rdf.results.rdf, atol=1e-5)


def test_msd_matches_kinisi_on_a_dt_grid():
    pytest.importorskip("kinisi")
    sc = pytest.importorskip("scipp")
    from ase import Atoms
    from kinisi.analyze import DiffusionAnalyzer

    x = _walk(n_frames=200, n_atoms=16)
    dt = 0.05
    box = np.array([40.0, 40.0, 40.0])
    frames = [Atoms(symbols=["Na"] * x.shape[1], positions=p, cell=box, pbc=True) for p in x]
    grid = np.arange(5, 100, 5)
    a = DiffusionAnalyzer.from_ase(
        frames,
        specie="Na",
        time_step=sc.scalar(dt, unit="ps"),
        step_skip=sc.scalar(1, unit=sc.units.dimensionless),
        # kinisi truncates interval/time_step to an int: keep it just above the integer
        dt=sc.array(dims=["time interval"], values=grid * dt * (1 + 1e-12), unit="ps"),
        progress=False,
    )
    assert np.array_equal(a.trajectory.dt_index.values, grid)
    ours = _our_msd(x)[grid]
    n = x.shape[0]
    # kinisi's MSD at lag m also holds one displacement of m - 1 frames from the first
    # frame, x(m - 1) - x(0), per atom: exactly that, and within 1 % of ours
    extra = np.array([np.sum((x[m - 1] - x[0]) ** 2, axis=-1).mean() for m in grid])
    expect = (ours * (n - grid) + extra) / (n - grid + 1)
    np.testing.assert_allclose(np.asarray(a.msd.values), expect, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(a.msd.values), ours, rtol=1e-2)
