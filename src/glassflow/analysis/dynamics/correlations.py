"""Ion dynamics from unwrapped trajectories: MSD, non-Gaussian parameter, Van Hove, VACF.

Everything is averaged over all time origins and computed with zero-padded real FFTs
(Wiener-Khinchin), streaming over blocks of atoms so that at most ``chunk_atoms`` atoms'
full time series (plus their FFT buffers) are held in memory at once. Because MSD and
the fourth moment are linear in per-atom correlation sums, the power spectra of all
atoms of a block are summed *before* the inverse FFT: one inverse transform per block.

Units: positions Å, times ps, velocities Å/ps (``glassflow.io.trajectory``).
Equations refer to docs/physics.md §4 (and the seed numbering quoted there):

- MSD, eq 2: ``<r^2(t)> = <1/N sum_j |r_j(t) - r_j(0)|^2>`` over all origins;
- non-Gaussian parameter, eq 13: ``alpha2(t) = 3<r^4>/(5<r^2>^2) - 1``;
- self Van Hove, eq 11, with the Gaussian reference eq 12;
- collective charge displacement ``sum_i z_i (r_i(t) - r_i(0))`` (eq 5), centre-of-mass
  drift removed;
- VACF ``<v(0).v(t)>`` for Green-Kubo (eq 3).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft as sfft

from glassflow.analysis.dynamics.transport import FitSettings
from glassflow.analysis.settings import known_settings
from glassflow.io.trajectory import Trajectory, TrajectoryError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_WORKERS = max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DynamicsSettings:
    """Settings of the dynamics/transport analysis (``config: dynamics:`` block).

    Keys (type, default) and meaning:

    - ``n_lags`` (int, 60): number of log-spaced lag times of the MSD/alpha2 curves.
    - ``n_fit_lags`` (int, 100): evenly spaced lags up to the longest fitted lag, added
      to the log-spaced ones, on which the Einstein GLS fit is done (docs/transport.md).
    - ``max_lag_fraction`` (float, 0.5): longest fitted lag as a fraction of the run.
    - ``min_fit_time_ps`` (float, 1.0): earliest lag, ps, allowed in an Einstein fit
      (excludes the ballistic part).
    - ``slope_tolerance`` (float, 0.15): the fit starts where the local log-log slope of
      the MSD stays within this of 1; "not diffusive" needs the fitted log-log slope to
      be outside 1 +- slope_tolerance at ``ci_level``.
    - ``min_fit_span`` (float, 3.0): minimum ratio t_max/t_start of the fit window.
    - ``min_msd_A2`` (float, 1.0): cage threshold, Å^2: an MSD below it at the longest
      lag means caged, not diffusive.
    - ``ci_level`` (float, 0.95): confidence level of the transport intervals.
    - ``gk_window_ps`` (list[float, float], [2.0, 5.0]): Green-Kubo D is the mean of the
      running integral between these times, ps (clipped to the data).
    - ``gk_correlation_ps`` (float, 5.0): longest VACF lag computed, ps.
    - ``vanhove_lags_ps`` (list[float], [1.0, 10.0, 100.0]): lags of G_s(r, t), ps;
      lags beyond the trajectory are dropped.
    - ``vanhove_dr_A`` (float, 0.05): bin width of G_s(r, t), Å.
    - ``fast_slow_lag_ps`` (float, 100.0): displacement lag of the fast/slow partition,
      ps, clipped to the trajectory length (the used lag is reported).
    - ``fast_slow_fraction`` (float, 0.25): fraction of Na called fast (top) and slow
      (bottom).
    - ``fast_slow_rcut_A`` (float, 4.0): Na-S distance, Å, for "S near a Na".
    - ``si_s_cutoff_A`` (float, 2.8): Si-S distance, Å, for the Si coordination of S.
    - ``rdf_dr_A`` (float, 0.05): bin width of the fast/slow Na-Na g(r), Å.
    - ``mobile_species`` (str, "Na"): species of the fast/slow partition.
    - ``chunk_atoms`` (int, 256): atoms per streaming block (bounds memory).
    - ``n_blocks`` (int, 5): independent time blocks for the Green-Kubo standard error
      (the Einstein fits use the whole run, ``glassflow.analysis.dynamics.transport.fit_einstein``).
    """

    n_lags: int = 60
    n_fit_lags: int = 100
    max_lag_fraction: float = 0.5
    ci_level: float = 0.95
    min_fit_time_ps: float = 1.0
    slope_tolerance: float = 0.15
    min_fit_span: float = 3.0
    min_msd_A2: float = 1.0
    gk_window_ps: tuple[float, float] = (2.0, 5.0)
    gk_correlation_ps: float = 5.0
    vanhove_lags_ps: tuple[float, ...] = (1.0, 10.0, 100.0)
    vanhove_dr_A: float = 0.05
    fast_slow_lag_ps: float = 100.0
    fast_slow_fraction: float = 0.25
    fast_slow_rcut_A: float = 4.0
    si_s_cutoff_A: float = 2.8
    rdf_dr_A: float = 0.05
    mobile_species: str = "Na"
    chunk_atoms: int = 256
    n_blocks: int = 5

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DynamicsSettings:
        """Build from a config mapping; unknown keys raise ``ValueError`` naming them."""
        data = known_settings(cls, data, "dynamics")
        s = cls(**data)
        if len(s.gk_window_ps) != 2 or s.gk_window_ps[0] >= s.gk_window_ps[1]:
            raise ValueError(f"gk_window_ps must be [start, end] with start < end: {data}")
        if s.n_blocks < 2:
            raise ValueError("n_blocks must be >= 2 (standard errors need several blocks)")
        if not 0.0 < s.fast_slow_fraction <= 0.5:
            raise ValueError("fast_slow_fraction must be in (0, 0.5]")
        if s.chunk_atoms < 1 or s.n_lags < 2:
            raise ValueError("chunk_atoms must be >= 1 and n_lags >= 2")
        if s.n_fit_lags < 10:
            raise ValueError(f"analysis.dynamics.n_fit_lags: {s.n_fit_lags} is not >= 10")
        s.fit_settings()  # range checks of the fit keys, naming the key
        return s

    def fit_settings(self) -> FitSettings:
        """The Einstein-fit subset (``glassflow.analysis.dynamics.transport.FitSettings``)."""
        return FitSettings(
            min_fit_time_ps=self.min_fit_time_ps,
            slope_tolerance=self.slope_tolerance,
            min_fit_span=self.min_fit_span,
            min_msd_A2=self.min_msd_A2,
            max_lag_fraction=self.max_lag_fraction,
            ci_level=self.ci_level,
        )


# --------------------------------------------------------------------------------------
# lag grids
# --------------------------------------------------------------------------------------
def frame_interval_ps(times_ps: npt.ArrayLike) -> float:
    """Uniform frame spacing, ps; raises ``ValueError`` if frames are not equally spaced."""
    t = np.asarray(times_ps, dtype=np.float64)
    if t.size < 2:
        raise ValueError("need at least two frames")
    d = np.diff(t)
    dt = float(np.median(d))
    if dt <= 0 or np.max(np.abs(d - dt)) > 1e-6 * max(dt, 1e-12) + 1e-9:
        raise ValueError("frames are not equally spaced in time; FFT correlations need that")
    return dt


def lag_grid(max_lag: int, n_lags: int) -> IntArray:
    """About ``n_lags`` unique log-spaced integer lags in [1, max_lag] (frames)."""
    if max_lag < 1:
        return np.zeros(0, dtype=np.int64)
    g = np.unique(np.rint(np.geomspace(1, max_lag, n_lags)).astype(np.int64))
    return g[(g >= 1) & (g <= max_lag)]


def fit_lag_grid(n_frames: int, max_lag_fraction: float, n_fit_lags: int) -> IntArray:
    """About ``n_fit_lags`` evenly spaced lags in (0, max_lag_fraction (n_frames - 1)]."""
    max_lag = int(np.floor(max_lag_fraction * (n_frames - 1) + 1e-9))
    if max_lag < 1:
        return np.zeros(0, dtype=np.int64)
    g = np.unique(np.rint(np.linspace(0, max_lag, n_fit_lags + 1)[1:]).astype(np.int64))
    return g[g >= 1]


def analysis_lags(n_frames: int, settings: DynamicsSettings) -> IntArray:
    """Lags of the stored curves: log-spaced over the run ∪ evenly spaced fit lags."""
    return np.union1d(
        lag_grid(n_frames - 1, settings.n_lags),
        fit_lag_grid(n_frames, settings.max_lag_fraction, settings.n_fit_lags),
    ).astype(np.int64)


def block_bounds(n_frames: int, n_blocks: int) -> list[tuple[int, int]]:
    """``n_blocks`` contiguous, equal, non-overlapping frame ranges (remainder dropped)."""
    size = n_frames // n_blocks
    return [(b * size, (b + 1) * size) for b in range(n_blocks)] if size >= 2 else []


# --------------------------------------------------------------------------------------
# FFT correlation kernels (pure functions on arrays)
# --------------------------------------------------------------------------------------
def _nfft(n: int) -> int:
    return sfft.next_fast_len(2 * n, real=True)


def _rfft(a: FloatArray, nfft: int) -> npt.NDArray[np.complex128]:
    return sfft.rfft(a, n=nfft, axis=-1, workers=_WORKERS)


def _irfft(a: npt.NDArray[np.complex128], nfft: int, n: int) -> FloatArray:
    return sfft.irfft(a, n=nfft, axis=-1, workers=_WORKERS)[..., :n]


def _atom_spectrum(f: npt.NDArray[np.complex128], g: npt.NDArray[np.complex128]) -> FloatArray:
    """Re sum_atoms f g* over the atom axis (-2): (..., atoms, F) -> (..., F)."""
    return np.einsum("...af,...af->...f", f.real, g.real) + np.einsum(
        "...af,...af->...f", f.imag, g.imag
    )


def _power_sum(a: FloatArray, nfft: int) -> FloatArray:
    """Sum over all leading axes of |FFT(a)|^2 (a: (..., T))."""
    f = _rfft(a, nfft).reshape(-1, nfft // 2 + 1)
    return np.einsum("af,af->f", f.real, f.real) + np.einsum("af,af->f", f.imag, f.imag)


def _origin_counts(n: int) -> FloatArray:
    return np.arange(n, 0, -1, dtype=np.float64)


def _sq_origin_sums(q: FloatArray) -> FloatArray:
    """For each lag m: sum over atoms of sum_{k<T-m} (q(k) + q(k+m)); q: (..., atoms, T)."""
    n = q.shape[-1]
    qs = q.sum(axis=-2)
    c = np.concatenate((np.zeros((*qs.shape[:-1], 1)), np.cumsum(qs, axis=-1)), axis=-1)
    m = np.arange(n)
    return c[..., n - m] + c[..., n : n + 1] - c[..., m]


def _centred(p: FloatArray) -> FloatArray:
    """Subtract each atom's time-mean position (displacements are unchanged)."""
    return p - p.mean(axis=-1, keepdims=True)


def displacement_moment_sums(
    p: npt.ArrayLike, *, fourth: bool = True
) -> tuple[FloatArray, FloatArray | None]:
    """All-origins displacement moments, summed over atoms, for every lag 0..T-1.

    ``p``: positions shaped (atoms, 3, T) (unwrapped, Å), or (..., atoms, 3, T) for
    independent batches (e.g. synthetic seeds; the leading axes are kept). Returns
    ``(r2, r4)`` where ``r2[..., m] = sum_atoms mean_origins |r(k+m) - r(k)|^2`` (Å^2)
    and ``r4`` likewise with the fourth power (Å^4; ``None`` unless ``fourth``). Divide
    by the number of atoms for eq 2 / eq 13 averages. The fourth moment uses the exact expansion
    ``|u-w|^4 = |u|^4 + |w|^4 + 4(u.w)^2 + 2|u|^2|w|^2 - 4(|u|^2 + |w|^2)(u.w)``, every
    term an FFT (cross-)correlation; trajectories are centred per atom first to keep the
    cancellation small.
    """
    p = _centred(np.asarray(p, dtype=np.float64))
    n = p.shape[-1]
    nfft = _nfft(n)
    counts = _origin_counts(n)
    q = np.einsum("...dt,...dt->...t", p, p)
    lead = p.shape[:-3]
    spec_p = np.zeros((*lead, nfft // 2 + 1), dtype=np.float64)
    cross = np.zeros_like(spec_p) if fourth else None
    for d in range(3):  # one Cartesian component at a time bounds the FFT buffers
        f = _rfft(p[..., d, :], nfft)
        spec_p += _atom_spectrum(f, f)
        if fourth:
            g = _rfft(q * p[..., d, :], nfft)
            cross += _atom_spectrum(g, f)
            del g
        del f
    r2 = (_sq_origin_sums(q) - 2.0 * _irfft(spec_p.astype(np.complex128), nfft, n)) / counts
    r2[..., 0] = 0.0
    if not fourth:
        return r2, None

    def power(a: FloatArray) -> FloatArray:
        f = _rfft(a, nfft)
        return _atom_spectrum(f, f)

    spec4 = 2.0 * power(q) - 8.0 * cross
    for a in range(3):
        for b in range(a, 3):
            w = 4.0 if a == b else 8.0
            spec4 += w * power(p[..., a, :] * p[..., b, :])
    r4 = (_sq_origin_sums(q * q) + _irfft(spec4.astype(np.complex128), nfft, n)) / counts
    r4[..., 0] = 0.0
    return r2, r4


def msd_fft(positions: npt.ArrayLike) -> FloatArray:
    """Atom-averaged, all-origins MSD (eq 2), Å^2, for lags 0..T-1; positions (T, N, 3)."""
    pos = np.asarray(positions)
    r2, _ = displacement_moment_sums(np.transpose(pos, (1, 2, 0)), fourth=False)
    return r2 / pos.shape[1]


def msd_direct(positions: npt.ArrayLike, lags: npt.ArrayLike) -> FloatArray:
    """Brute-force all-origins MSD at ``lags`` (reference for tests), Å^2."""
    pos = np.asarray(positions, dtype=np.float64)
    out = []
    for m in np.asarray(lags, dtype=int):
        d = pos[m:] - pos[: pos.shape[0] - m]
        out.append(np.mean(np.sum(d * d, axis=-1)))
    return np.asarray(out)


def msd_single_origin(positions: npt.ArrayLike) -> FloatArray:
    """MSD from frame 0 only (what LAMMPS ``compute msd`` reports), Å^2, per frame."""
    pos = np.asarray(positions, dtype=np.float64)
    d = pos - pos[0]
    return np.mean(np.sum(d * d, axis=-1), axis=-1)


def autocorrelation_sum(v: npt.ArrayLike) -> FloatArray:
    """All-origins <v(k).v(k+m)> summed over atoms, lags 0..T-1; ``v`` (atoms, 3, T)."""
    v = np.asarray(v, dtype=np.float64)
    n = v.shape[-1]
    nfft = _nfft(n)
    spec = np.zeros(nfft // 2 + 1)
    for d in range(3):
        spec += _power_sum(v[:, d], nfft)
    return _irfft(spec.astype(np.complex128), nfft, n) / _origin_counts(n)


def vacf_fft(velocities: npt.ArrayLike) -> FloatArray:
    """Atom-averaged all-origins VACF <v(0).v(t)>, (Å/ps)^2; velocities (T, N, 3)."""
    v = np.asarray(velocities)
    return autocorrelation_sum(np.transpose(v, (1, 2, 0))) / v.shape[1]


def non_gaussian_parameter(r2: npt.ArrayLike, r4: npt.ArrayLike) -> FloatArray:
    """alpha2 = 3<r^4>/(5<r^2>^2) - 1 (physics.md §4, eq 13); NaN where <r^2> = 0."""
    r2 = np.asarray(r2, dtype=np.float64)
    r4 = np.asarray(r4, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 3.0 * r4 / (5.0 * r2 * r2) - 1.0
    return np.where(r2 > 0, a, np.nan)


def tau_star(t_ps: npt.ArrayLike, alpha2: npt.ArrayLike) -> tuple[float, float]:
    """Time ``tau*`` (ps) of the maximum of alpha2 and the maximum alpha2(tau*) (eq 13)."""
    a = np.asarray(alpha2, dtype=np.float64)
    if not np.any(np.isfinite(a)):
        return float("nan"), float("nan")
    i = int(np.nanargmax(a))
    return float(np.asarray(t_ps)[i]), float(a[i])


def gaussian_van_hove(r_A: npt.ArrayLike, msd_A2: float) -> FloatArray:
    """Gaussian self Van Hove (eq 12) with 4Dt = 2<r^2>/3: G_s(r), Å^-3."""
    r = np.asarray(r_A, dtype=np.float64)
    if not msd_A2 > 0:
        return np.full_like(r, np.nan)
    a = 3.0 / (2.0 * msd_A2)
    return (a / np.pi) ** 1.5 * np.exp(-a * r * r)


def van_hove_from_counts(counts: npt.ArrayLike, dr_A: float) -> tuple[FloatArray, FloatArray]:
    """Bin centres (Å) and G_s(r) (Å^-3, eq 11) from a displacement histogram.

    Normalised so that ``sum 4 pi r^2 G_s dr = 1`` with exact shell volumes.
    """
    c = np.asarray(counts, dtype=np.float64)
    edges = np.arange(c.size + 1) * dr_A
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    total = c.sum()
    g = c / (total * shell) if total > 0 else np.zeros_like(c)
    return 0.5 * (edges[1:] + edges[:-1]), g


def pool_curves(values: Sequence[npt.ArrayLike], weights: Sequence[npt.ArrayLike]) -> FloatArray:
    """Weighted mean of curves on a common grid (replica pooling: weights atoms*origins).

    NaN values are ignored (weight 0); points with no weight are NaN.
    """
    v = np.asarray([np.asarray(x, dtype=np.float64) for x in values])
    w = np.asarray([np.broadcast_to(np.asarray(x, dtype=np.float64), v.shape[1:]) for x in weights])
    w = np.where(np.isfinite(v), w, 0.0)
    num = np.sum(np.where(w > 0, v, 0.0) * w, axis=0)
    den = np.sum(w, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


# --------------------------------------------------------------------------------------
# streaming analysis of one trajectory
# --------------------------------------------------------------------------------------
@dataclass
class SpeciesDynamics:
    """Per-species curves of one run (lags in frames, times ps, moments averaged over
    atoms and origins)."""

    species: str
    n_atoms: int
    charge_e: float
    lags: IntArray
    t_ps: FloatArray
    msd_A2: FloatArray
    r4_A4: FloatArray
    alpha2: FloatArray
    n_origins: FloatArray
    vanhove_t_ps: FloatArray
    vanhove_r_A: FloatArray
    vanhove_Gs: FloatArray  # (n_vh_lags, n_bins), Å^-3
    vanhove_msd_A2: FloatArray  # <r^2> at each Van Hove lag
    vacf_t_ps: FloatArray | None = None
    vacf_A2_ps2: FloatArray | None = None
    block_vacf_A2_ps2: FloatArray | None = None  # (n_blocks, len)
    tau_star_ps: float = float("nan")
    alpha2_max: float = float("nan")


@dataclass
class RunDynamics:
    """All curves of one run."""

    dt_ps: float
    n_frames: int
    volume_A3: float
    species: dict[str, SpeciesDynamics]
    charge_lags: IntArray
    charge_t_ps: FloatArray
    charge_msd_e2A2: FloatArray
    block_length_ps: float
    n_blocks: int
    extras: dict[str, Any] = field(default_factory=dict)


class _Hist:
    """Growable integer histogram of distances (bin width ``dr``)."""

    def __init__(self, dr: float):
        self.dr = dr
        self.counts = np.zeros(0, dtype=np.int64)

    def add(self, d: FloatArray) -> None:
        idx = (d.ravel() / self.dr).astype(np.int64)
        c = np.bincount(idx)
        if c.size > self.counts.size:
            self.counts = np.pad(self.counts, (0, c.size - self.counts.size))
        self.counts[: c.size] += c


def _block_positions(traj: Trajectory, atoms: npt.NDArray[np.intp]) -> FloatArray:
    """(atoms, 3, T) float64 positions of an atom block."""
    return np.ascontiguousarray(np.transpose(traj.positions(atoms=atoms), (1, 2, 0)), np.float64)


def species_msd(traj: Trajectory, species: str, n_lags: int = 60, chunk_atoms: int = 256):
    """MSD only (eq 2), streamed over atom blocks: returns ``(t_ps, msd_A2)`` on log lags."""
    dt = frame_interval_ps(traj.times_ps)
    idx = traj.indices_of(species)
    n = traj.n_frames
    acc = np.zeros(n)
    for s in range(0, idx.size, chunk_atoms):
        r2, _ = displacement_moment_sums(
            _block_positions(traj, idx[s : s + chunk_atoms]), fourth=False
        )
        acc += r2
    lags = lag_grid(n - 1, n_lags)
    return lags * dt, acc[lags] / idx.size


def analyse_trajectory(traj: Trajectory, settings: DynamicsSettings | None = None) -> RunDynamics:
    """Stream over atom blocks of every species and compute all dynamics curves.

    Memory: one block of ``chunk_atoms`` atoms' positions (float64, atoms x 3 x T) plus
    its FFT buffers (a few times that), plus O(T) accumulators — independent of N.
    """
    s = settings or DynamicsSettings()
    n = traj.n_frames
    if n < 4:
        raise TrajectoryError(f"{traj.path}: only {n} frames; dynamics needs at least 4")
    dt = frame_interval_ps(traj.times_ps)
    box = traj.box_A
    volume = float(np.prod(box))
    lags = analysis_lags(n, s)
    blocks = block_bounds(n, s.n_blocks)  # Green-Kubo errors only
    blen = blocks[0][1] - blocks[0][0] if blocks else 0
    vh_lags = np.unique(
        [int(round(t / dt)) for t in s.vanhove_lags_ps if 1 <= round(t / dt) <= n - 1]
    ).astype(np.int64)
    n_vacf = min(n, int(round(s.gk_correlation_ps / dt)) + 1)
    n_vacf_blk = min(blen, n_vacf)
    masses = traj.masses
    charges = traj.charges
    m_tot = float(masses.sum())
    q_tot = float(charges.sum())
    jsum = np.zeros((3, n))  # sum_i z_i r_i(t) (centred)
    msum = np.zeros((3, n))  # sum_i m_i r_i(t) (centred)
    out: dict[str, SpeciesDynamics] = {}
    for sp in traj.species:
        idx = traj.indices_of(sp)
        if idx.size == 0:
            continue
        r2 = np.zeros(n)
        r4 = np.zeros(n)
        hists = [_Hist(s.vanhove_dr_A) for _ in vh_lags]
        vac = np.zeros(n_vacf) if traj.has_velocities else None
        vac_blk = np.zeros((len(blocks), max(n_vacf_blk, 0))) if traj.has_velocities else None
        for start in range(0, idx.size, s.chunk_atoms):
            atoms = idx[start : start + s.chunk_atoms]
            p = _block_positions(traj, atoms)
            jsum += np.einsum("a,adt->dt", charges[atoms], p)
            msum += np.einsum("a,adt->dt", masses[atoms], p)
            a2, a4 = displacement_moment_sums(p)
            r2 += a2
            r4 += a4
            for h, m in zip(hists, vh_lags, strict=True):
                d = p[..., m:] - p[..., : n - m]
                h.add(np.sqrt(np.einsum("adt,adt->at", d, d)))
                del d
            del p
            if vac is not None:
                v = np.ascontiguousarray(
                    np.transpose(traj.velocities(atoms=atoms), (1, 2, 0)), np.float64
                )
                vac += autocorrelation_sum(v)[:n_vacf]
                for b, (b0, b1) in enumerate(blocks):
                    vac_blk[b] += autocorrelation_sum(v[..., b0:b1])[:n_vacf_blk]
                del v
        na = idx.size
        msd = r2[lags] / na
        m4 = r4[lags] / na
        alpha = non_gaussian_parameter(msd, m4)
        # tau* only where statistics are sound: lags up to half the run
        ok = lags <= max(1, (n - 1) // 2)
        ts, amax = tau_star(lags[ok] * dt, alpha[ok])
        nbins = max([h.counts.size for h in hists], default=0)
        gs = np.zeros((len(hists), nbins))
        r_centres = np.zeros(nbins)
        for i, h in enumerate(hists):
            c = np.pad(h.counts, (0, nbins - h.counts.size))
            r_centres, gs[i] = van_hove_from_counts(c, s.vanhove_dr_A)
        out[sp] = SpeciesDynamics(
            species=sp,
            n_atoms=na,
            charge_e=float(np.mean(charges[idx])),
            lags=lags,
            t_ps=lags * dt,
            msd_A2=msd,
            r4_A4=m4,
            alpha2=alpha,
            n_origins=(n - lags).astype(np.float64),
            vanhove_t_ps=vh_lags * dt,
            vanhove_r_A=r_centres,
            vanhove_Gs=gs,
            vanhove_msd_A2=r2[vh_lags] / na,
            vacf_t_ps=None if vac is None else np.arange(n_vacf) * dt,
            vacf_A2_ps2=None if vac is None else vac / na,
            block_vacf_A2_ps2=None if vac_blk is None else vac_blk / na,
            tau_star_ps=ts,
            alpha2_max=amax,
        )
    # collective charge displacement with the centre-of-mass drift removed (eq 5)
    j = jsum - q_tot * msum / m_tot
    jj = j[None]
    c_full = displacement_moment_sums(jj, fourth=False)[0]
    return RunDynamics(
        dt_ps=dt,
        n_frames=n,
        volume_A3=volume,
        species=out,
        charge_lags=lags,
        charge_t_ps=lags * dt,
        charge_msd_e2A2=c_full[lags],
        block_length_ps=blen * dt,
        n_blocks=len(blocks),
    )
