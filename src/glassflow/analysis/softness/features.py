"""Structure functions of the softness method (physics.md §7; Chen et al. 2023).

For every ion i of the mobile species (Na) in the frame that opens a dynamics window,
Behler-Parrinello G2-type radial functions per neighbour species b and shell centre mu::

    G(i; b, mu) = sum_{j in b, r_ij < r_max} exp(-(r_ij - mu)^2 / (2 L^2))

(r in Å; mu grid ``mu_min_A .. mu_max_A`` step ``mu_step_A``; L = ``width_A``), computed
with a periodic ``cKDTree(boxsize=L_box)`` (:func:`radial_features`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

from glassflow.analysis.structure.geometry import neighbour_pairs, wrap_positions

FloatArray = npt.NDArray[np.float64]


def radial_features(
    positions_A: npt.ArrayLike,
    box_A: npt.ArrayLike,
    types: npt.ArrayLike,
    centres: npt.ArrayLike,
    mu_A: npt.ArrayLike,
    width_A: float,
    r_max_A: float,
    n_types: int | None = None,
) -> FloatArray:
    """G2 radial structure functions of the ``centres`` (physics.md §7; Chen 2023).

    ``G[i, b * n_mu + k] = sum_{j of type b, 0 < r_ij < r_max} exp(-(r_ij - mu_k)^2 / 2L^2)``
    with periodic minimum-image distances (cKDTree with ``boxsize``). Positions in Å
    (wrapped or not); returns float64 (n_centres, n_types * n_mu), ordered type-major.
    """
    box = np.asarray(box_A, dtype=np.float64)
    x = wrap_positions(positions_A, box)
    t = np.asarray(types, dtype=np.intp)
    c = np.asarray(centres, dtype=np.intp)
    mu = np.asarray(mu_A, dtype=np.float64)
    nt = int(t.max()) + 1 if n_types is None else int(n_types)
    local = np.full(t.size, -1, dtype=np.intp)
    local[c] = np.arange(c.size)
    ci, oj, d = neighbour_pairs(x, box, c, np.arange(t.size), r_max_A)
    r = np.linalg.norm(d, axis=1)
    g = np.exp(-((r[:, None] - mu[None, :]) ** 2) / (2.0 * width_A**2))
    rows = local[ci] * nt + t[oj]
    acc = sparse.csr_matrix(
        (np.ones(rows.size), (rows, np.arange(rows.size))), shape=(c.size * nt, rows.size)
    )
    out = np.asarray(acc @ g).reshape(c.size, nt * mu.size)
    return out


def feature_names(species: Sequence[str], mu_A: npt.ArrayLike) -> list[str]:
    """Column names ``G_<species>_<mu>A`` in the order of :func:`radial_features`."""
    return [f"G_{s}_{m:.2f}A" for s in species for m in np.asarray(mu_A, dtype=float)]
