"""Settings of the structure analysis (``config: analysis: structure:``).

One frozen dataclass read strictly from the config mapping (unknown keys raise, naming
them); used by :mod:`glassflow.analysis.structure.tables` and checked against the
campaign by :mod:`glassflow.config.checks`. Lengths in Å, wavevectors in 1/Å, angles in
degrees (docs/physics.md §5, §6, §8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from glassflow.analysis.settings import known_settings


@dataclass(frozen=True)
class StructureSettings:
    """Settings of the structure analysis (``snakemake.params.settings``).

    r_max_A: g(r) range, Å; None means min(10, min(L)/2).
    dr_A: g(r) bin width, Å.
    cutoffs_A: first-minimum overrides, e.g. {"Si-S": 2.8} (order of the pair is irrelevant).
    ss_bond_max_A: a homopolar S-S bond exists only if g_SS has its first peak below this
        distance (Å); otherwise the S-S bond cutoff is this value (no bonds in practice).
    smooth_A: Gaussian smoothing (sigma, Å) of g(r) before searching the first minimum.
    k_min_inv_A, k_max_inv_A: k range of S(k), 1/Å.
    dk_inv_A: k step of the Fourier route, 1/Å.
    dk_direct_inv_A: |k| shell width of the direct route, 1/Å.
    window: "lorch" or "none": window w(r) of the Fourier transform (review eq 7).
    max_frames: at most this many frames (even stride) of a trajectory are analysed.
    prepeak_window_inv_A: k window (1/Å) searched for the Na-Na prepeak.
    max_k_vectors_per_shell: cap on k vectors per |k| shell in the direct route.
    angle_bin_deg: bond-angle histogram bin, degrees.
    workers: threads used for the neighbour search over frames.
    seed: seed of the random choice of k vectors in crowded shells.
    include_na_in_mean_r: count Na (and Na-S bonds) in the network mean coordination <r>.
    """

    r_max_A: float | None = None
    dr_A: float = 0.02
    cutoffs_A: Mapping[str, float] = field(default_factory=dict)
    ss_bond_max_A: float = 2.6
    smooth_A: float = 0.06
    k_min_inv_A: float = 0.3
    k_max_inv_A: float = 12.0
    dk_inv_A: float = 0.02
    dk_direct_inv_A: float = 0.05
    window: str = "lorch"
    max_frames: int = 50
    prepeak_window_inv_A: tuple[float, float] = (0.6, 1.5)
    max_k_vectors_per_shell: int = 64
    angle_bin_deg: float = 1.0
    workers: int = 2
    seed: int = 0
    include_na_in_mean_r: bool = False

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> StructureSettings:
        """Build settings from a dict; unknown keys raise ``ValueError`` naming them."""
        values = known_settings(cls, values, "structure")
        if "cutoffs_A" in values:
            values["cutoffs_A"] = {str(k): float(v) for k, v in dict(values["cutoffs_A"]).items()}
        if values.get("window", "lorch") not in ("lorch", "none"):
            raise ValueError(f"window must be 'lorch' or 'none', got {values['window']!r}")
        return cls(**values)

    def r_max_for(self, box_A: npt.ArrayLike) -> float:
        """g(r) range for a box: the setting, capped at half the shortest box length."""
        half = 0.5 * float(np.min(box_A))
        return min(half, 10.0) if self.r_max_A is None else min(float(self.r_max_A), half)
