"""Rigidity theory of x M2Y - (1-x) A Y_m networks (physics.md §6; Micoulaut, PRL 134, 036303).

Mean-field Phillips-Thorpe constraint counting (PRL eq 1), the isostatic threshold
m_c(x) / x_c(m), the building-block probabilities p2, p3, p4, and the parts of the
hopping model (PRL eq 2-4) that the Letter's text specifies completely.

All quantities here are dimensionless except energies, which may be given in any
unit as long as every energy argument of one call (including ``kT``) uses the same
one (the PRL's Fig. 1(d) uses units of k_B T).

Sign convention (eq 1): ``f > 0`` flexible (floppy modes present), ``f = 0``
isostatic, ``f < 0`` stressed rigid. At fixed x, f grows with m: the network is
flexible for ``m > m_c(x)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Regime = Literal["flexible", "isostatic", "stressed-rigid"]
REGIMES: tuple[str, str, str] = ("flexible", "isostatic", "stressed-rigid")

#: Building-block labels of the PRL: 4 = A Y_{4/2}, 3 = M A Y_{5/2}, 2 = Y_2 chain.
BLOCKS: tuple[int, int, int] = (2, 3, 4)

#: Absolute tolerance used when checking that probabilities lie in [0, 1].
PROBABILITY_TOL = 1e-12


# --------------------------------------------------------------------------- domain


def _as_float_array(value: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{name} must be finite, got {bad!r}")
    return arr


def _check_x(x: NDArray[np.float64]) -> None:
    bad = (x < 0.0) | (x >= 1.0)
    if np.any(bad):
        raise ValueError(
            f"modifier fraction x must lie in [0, 1), got x = {float(x[bad].ravel()[0])!r}"
        )


def _check_m(m: NDArray[np.float64]) -> None:
    bad = m <= 0.0
    if np.any(bad):
        raise ValueError(f"flexibility index m must be > 0, got m = {float(m[bad].ravel()[0])!r}")


def _check_xm(x: ArrayLike, m: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    xa = _as_float_array(x, "x")
    ma = _as_float_array(m, "m")
    _check_x(xa)
    _check_m(ma)
    try:
        xb, mb = np.broadcast_arrays(xa, ma)
    except ValueError as exc:
        raise ValueError(f"x (shape {xa.shape}) and m (shape {ma.shape}) do not broadcast") from exc
    return xb, mb


def _scalar_or_array(arr: NDArray[np.float64]) -> float | NDArray[np.float64]:
    return float(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------- eq 1


def atoms_per_formula_unit(x: ArrayLike, m: ArrayLike) -> float | NDArray[np.float64]:
    """Number of network atoms per formula unit, ``N = 1 + 2x + m(1-x)`` (PRL, below eq 1)."""
    xa, ma = _check_xm(x, m)
    return _scalar_or_array(1.0 + 2.0 * xa + ma * (1.0 - xa))


def floppy_fraction(x: ArrayLike, m: ArrayLike) -> float | NDArray[np.float64]:
    """Fraction of topological degrees of freedom per atom, physics.md §6 eq 1 (PRL eq 1).

    ``f(x, m) = 3 - ((1-x)(7+2m) + x) / (1 + 2x + m(1-x))``, dimensionless, per atom.
    Vectorised: x and m broadcast against each other. Domain: x in [0, 1), m > 0.

    Equivalent closed form (used as a cross-check in the tests):
    ``f = (m(1-x) - 4 + 12x) / (1 + 2x + m(1-x))``.
    """
    xa, ma = _check_xm(x, m)
    n_atoms = 1.0 + 2.0 * xa + ma * (1.0 - xa)
    n_constraints = (1.0 - xa) * (7.0 + 2.0 * ma) + xa
    return _scalar_or_array(3.0 - n_constraints / n_atoms)


def critical_m(x: ArrayLike) -> float | NDArray[np.float64]:
    """Isostatic flexibility index ``m_c(x) = (4 - 12x)/(1 - x)`` (physics.md §6; f(x, m_c) = 0).

    Domain x in [0, 1). For x > 1/3, m_c < 0: every m > 0 is then flexible (no
    rigidity transition in the physical range of m). Example: m_c(0.1) = 28/9.
    """
    xa = _as_float_array(x, "x")
    _check_x(xa)
    return _scalar_or_array((4.0 - 12.0 * xa) / (1.0 - xa))


def critical_x(m: ArrayLike) -> float | NDArray[np.float64]:
    """Isostatic modifier fraction ``x_c(m) = (4 - m)/(12 - m)`` (physics.md §6).

    Domain m > 0, m != 12 (pole). For m >= 4, x_c <= 0: every x in [0, 1) is then
    flexible (e.g. x_c(4) = 0, the isostatic base network GeS4). Example x_c(2) = 0.2.
    Inverse of :func:`critical_m` on x in [0, 1/3].
    """
    ma = _as_float_array(m, "m")
    _check_m(ma)
    if np.any(ma == 12.0):
        raise ValueError("critical_x has a pole at m = 12 (x_c undefined)")
    return _scalar_or_array((4.0 - ma) / (12.0 - ma))


def rigidity_regime(x: ArrayLike, m: ArrayLike, tol: float = 1e-9) -> Regime | NDArray[np.str_]:
    """Label from the sign of f (eq 1): "flexible" (f > tol), "isostatic" (|f| <= tol),
    "stressed-rigid" (f < -tol). Returns a str for scalar input, else an array of str.
    """
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    f = np.asarray(floppy_fraction(x, m))
    out = np.where(f > tol, REGIMES[0], np.where(f < -tol, REGIMES[2], REGIMES[1]))
    return str(out) if out.ndim == 0 else out  # type: ignore[return-value]


# --------------------------------------------------------------------------- building blocks


def building_blocks(
    x: ArrayLike, m: ArrayLike
) -> tuple[float | NDArray[np.float64], float | NDArray[np.float64], float | NDArray[np.float64]]:
    """Building-block probabilities ``(p2, p3, p4)`` of the PRL (physics.md §6).

    ``p4 = 2(1-3x)/(m(1-x))`` (A Y_{4/2} tetrahedra), ``p3 = 4x/(m(1-x))``
    (M A Y_{5/2}, one non-bridging Y), ``p2 = 1 - p4 - p3`` (Y_2 chain fragment; this
    simplifies to ``1 - 2/m``). Dimensionless, sum to 1.

    Only valid where all three lie in [0, 1], i.e. ``m >= 2`` and ``x <= 1/3`` (and
    ``p3, p4 <= 1``). Outside, a ValueError names the first offending (x, m) and the
    probability that is out of range; negative probabilities are never returned.
    """
    xa, ma = _check_xm(x, m)
    denom = ma * (1.0 - xa)
    p4 = 2.0 * (1.0 - 3.0 * xa) / denom
    p3 = 4.0 * xa / denom
    p2 = 1.0 - p4 - p3
    for name, p in (("p4", p4), ("p3", p3), ("p2", p2)):
        bad = (p < -PROBABILITY_TOL) | (p > 1.0 + PROBABILITY_TOL)
        if np.any(bad):
            idx = tuple(int(i[0]) for i in np.nonzero(bad)) if p.ndim else ()
            raise ValueError(
                f"building-block probability {name} = {float(p[idx]):.6g} is outside [0, 1] "
                f"at (x, m) = ({float(xa[idx])!r}, {float(ma[idx])!r}); the PRL building-block "
                "model needs m >= 2 and x <= 1/3"
            )
    # clip only removes rounding noise within PROBABILITY_TOL
    p2, p3, p4 = (np.clip(p, 0.0, 1.0) for p in (p2, p3, p4))
    return _scalar_or_array(p2), _scalar_or_array(p3), _scalar_or_array(p4)


# --------------------------------------------------------------------------- hopping model


def _pair_key(j: int, k: int) -> tuple[int, int]:
    if j not in BLOCKS or k not in BLOCKS:
        raise ValueError(f"cluster ({j}, {k}): block labels must be in {BLOCKS}")
    return (max(j, k), min(j, k))


def _normalise_table(
    table: Mapping[tuple[int, int], float], name: str
) -> dict[tuple[int, int], float]:
    out: dict[tuple[int, int], float] = {}
    for (j, k), value in table.items():
        key = _pair_key(j, k)
        if key in out:
            raise ValueError(f"{name}: cluster {key} given twice (pairs are unordered)")
        v = float(value)
        if not np.isfinite(v):
            raise ValueError(f"{name}[{key}] must be finite, got {value!r}")
        out[key] = v
    return out


def connection_probabilities(
    x: float,
    m: float,
    weights: Mapping[tuple[int, int], float],
    energies: Mapping[tuple[int, int], float],
    kT: float,
) -> dict[tuple[int, int], float]:
    """Cluster probabilities ``p_jk ∝ W_jk p_j p_k exp(-E_jk / kT)`` (PRL text above eq 2).

    ``weights`` (W_jk, entropic factors, e.g. W_43 = 24) and ``energies`` (E_jk, same
    unit as ``kT``) are keyed by *unordered* block pairs (j, k), j, k in {2, 3, 4}; the
    full tables are in the PRL supplement, which we do not have, so both are required
    arguments. Pairs missing from ``weights`` have probability 0; every pair in
    ``weights`` needs an energy.

    Assumption (not stated in the text): the proportionality is closed by normalising
    over the supplied unordered pairs, so the returned p_jk sum to 1.
    """
    if not kT > 0:
        raise ValueError(f"kT must be > 0, got {kT!r}")
    w = _normalise_table(weights, "weights")
    e = _normalise_table(energies, "energies")
    if not w:
        raise ValueError("weights is empty")
    missing = sorted(set(w) - set(e))
    if missing:
        raise ValueError(f"energies missing for clusters {missing}")
    if any(v < 0 for v in w.values()):
        raise ValueError("weights W_jk must be >= 0")
    p2, p3, p4 = (float(v) for v in building_blocks(x, m))
    p = {2: p2, 3: p3, 4: p4}
    keys = list(w)
    e_arr = np.array([e[key] for key in keys])
    # subtract the minimum energy before exponentiating (cancels in the normalisation)
    boltz = np.exp(-(e_arr - e_arr.min()) / kT)
    raw = np.array([w[key] * p[key[0]] * p[key[1]] for key in keys]) * boltz
    total = raw.sum()
    if not total > 0:
        raise ValueError(f"all cluster weights vanish at (x, m) = ({x!r}, {m!r})")
    return {key: float(v) for key, v in zip(keys, raw / total, strict=True)}


def floppy_density_f2(
    p_jk: Mapping[tuple[int, int], float],
    n_atoms: Mapping[tuple[int, int], float],
    n_constraints: Mapping[tuple[int, int], float],
) -> float:
    """Density of topological degrees of freedom from clusters, PRL eq 2.

    ``f2 = sum_{jk flexible} (3 N_jk - N_c(jk)) / N_jk * p_jk``, where a cluster is
    flexible when ``N_c(jk) < 3 N_jk``; isostatic and stressed-rigid clusters
    contribute nothing. N_jk (atoms) and N_c(jk) (constraints) of each cluster are in
    the PRL supplement, so they are required arguments (keyed like ``p_jk``).
    Dimensionless, >= 0.
    """
    p = _normalise_table(p_jk, "p_jk")
    na = _normalise_table(n_atoms, "n_atoms")
    nc = _normalise_table(n_constraints, "n_constraints")
    missing = sorted((set(p) - set(na)) | (set(p) - set(nc)))
    if missing:
        raise ValueError(f"n_atoms / n_constraints missing for clusters {missing}")
    total = 0.0
    for key, prob in p.items():
        if na[key] <= 0:
            raise ValueError(f"n_atoms[{key}] must be > 0")
        dof = 3.0 * na[key] - nc[key]
        if dof > 0:
            total += dof / na[key] * prob
    return total


def mean_coulomb_energy(
    p_jk: ArrayLike, q_sites: Sequence[ArrayLike], e_c: float, kT: float
) -> float:
    """Coulomb energy averaged over anionic sites, PRL eq 4 (same unit as ``e_c``).

    ``<E_c> = sum_{jk} sum_q q E_c p_jk exp(-q E_c / kT)``.

    ``p_jk`` has one entry per cluster; ``q_sites[i]`` lists the values of q summed
    over for cluster i. The text does not define the set of q per cluster (it refers
    to the anionic sites drawn in Fig. 1 and to the supplement), so it is a required
    argument; E_c is a free parameter of the theory (PRL, below eq 4). The expression
    is implemented literally: no normalisation of the q-sum is applied.
    """
    if not kT > 0:
        raise ValueError(f"kT must be > 0, got {kT!r}")
    if not np.isfinite(e_c):
        raise ValueError(f"e_c must be finite, got {e_c!r}")
    p = _as_float_array(p_jk, "p_jk").ravel()
    if len(q_sites) != p.size:
        raise ValueError(f"q_sites has {len(q_sites)} entries for {p.size} clusters")
    total = 0.0
    for prob, q in zip(p, q_sites, strict=True):
        qa = _as_float_array(q, "q_sites").ravel()
        total += float(np.sum(qa * e_c * prob * np.exp(-qa * e_c / kT)))
    return total


def hopping_conductivity(
    x: ArrayLike, mean_ec: ArrayLike, f2: ArrayLike, delta: float, kT: float
) -> float | NDArray[np.float64]:
    """Ionic conductivity of the hopping model, PRL eq 3 (arbitrary units).

    ``sigma = n_L mu = 2x exp(-<E_c>/kT) exp(-E_m/kT)`` with ``E_m = -delta * f2``.

    Assumptions, all from the text unless marked:

    * ``2x`` is the cation (M) content per formula unit; sigma carries no physical
      prefactor (units of e^2, hop length, attempt frequency are absorbed): the result
      is a *relative* conductivity, comparable between (x, m) at the same kT only.
    * ``mean_ec`` is <E_c> of eq 4 (see :func:`mean_coulomb_energy`); ``f2`` is the
      floppy-mode density of eq 2 (see :func:`floppy_density_f2`). Substituting the
      T = 0 count f of eq 1 for f2 would be an extra assumption and is not done here.
    * ``delta`` is the strain-energy scale Δ (the text quotes Δ ≈ 5 meV = 0.2 k_B T and
      uses Δ = 0.2 k_B T, E_c = 0.0002 k_B T in Fig. 1(d)); it is a required argument,
      not a default, in the same energy unit as ``mean_ec`` and ``kT``.
    """
    if not kT > 0:
        raise ValueError(f"kT must be > 0, got {kT!r}")
    if not np.isfinite(delta):
        raise ValueError(f"delta must be finite, got {delta!r}")
    xa = _as_float_array(x, "x")
    _check_x(xa)
    ec = _as_float_array(mean_ec, "mean_ec")
    f2a = _as_float_array(f2, "f2")
    e_m = -delta * f2a
    return _scalar_or_array(np.asarray(2.0 * xa * np.exp(-ec / kT) * np.exp(-e_m / kT)))
