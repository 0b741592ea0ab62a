"""Fast and slow ions ([S23] §3.4.3; docs/physics.md §4, "Fast and slow ions").

The mobile ions are ranked by their squared displacement over a lag (100 ps in
[S23]); the top fraction are "fast", the bottom fraction "slow"
(:func:`fast_slow_partition`). Their structure at t = 0 is then described with the
general tools of this package: the Na-Na g(r) of fast-fast, slow-slow and fast-slow
pairs (:func:`glassflow.analysis.structure.pair_correlation.partial_rdf`), the S atoms
within 4 Å of fast and of slow Na
(:func:`glassflow.analysis.structure.geometry.neighbours_within`) and their Si
coordination (:func:`glassflow.analysis.structure.geometry.coordination_numbers`).
The table is built in :func:`glassflow.analysis.dynamics.tables.fast_slow_table`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.intp]


def fast_slow_partition(
    displacement2_A2: npt.ArrayLike, fraction: float = 0.25
) -> tuple[IntArray, IntArray]:
    """Fast and slow ions: the top and bottom ``fraction`` by squared displacement.

    ``k = max(1, round(fraction N))`` ions in each group ([S23] §3.4.3 step 1); ties
    are broken by index (stable sort), so the partition is reproducible.

    Parameters
    ----------
    displacement2_A2 : (N,) float, Å^2
        Squared displacement of each ion over the partition lag.
    fraction : float
        Fraction of the ions in each group, in (0, 0.5].

    Returns
    -------
    fast : (k,) intp
        Sorted indices of the k largest displacements.
    slow : (k,) intp
        Sorted indices of the k smallest displacements.
    """
    d = np.asarray(displacement2_A2, dtype=np.float64)
    k = max(1, int(round(fraction * d.size)))
    order = np.argsort(d, kind="stable")
    return np.sort(order[-k:]), np.sort(order[:k])
