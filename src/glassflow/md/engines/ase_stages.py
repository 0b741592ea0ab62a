"""The protocol's stages for the ASE engine: NVT stages with a linear target temperature.

The same stages as the LAMMPS engine's templates (docs/physics.md §3): the melt-quench
(melt, quench ramps, relax), a production segment (ramp, equilibration, production) and
the cross-check's anneal (heat, hold, cool).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from glassflow.md.lammps import quench_stages, steps


@dataclass(frozen=True)
class Stage:
    """One NVT stage: ``n_steps`` steps with the target going from ``T_start_K`` to ``T_end_K``.

    ``clock`` names the step counter the stage's thermo rows use: ``global`` (steps
    counted from the start of the job, as LAMMPS does before ``reset_timestep``) or
    ``production`` (production steps, 0 at the start of production). ``write_after``
    names a LAMMPS data file written at the end of the stage.
    """

    name: str
    T_start_K: float
    T_end_K: float
    n_steps: int
    clock: str = "global"
    write_after: str | None = None

    def target_K(self, j: int) -> float:
        """Target temperature of step ``j`` -> ``j + 1`` of the stage (K)."""
        if self.n_steps <= 0:
            return self.T_end_K
        return self.T_start_K + (self.T_end_K - self.T_start_K) * (j + 1) / self.n_steps


def melt_quench_stages(protocol: Mapping[str, Any]) -> list[Stage]:
    """The melt-quench as NVT stages (the LAMMPS engine's melt_quench.lmp.j2).

    Parameters
    ----------
    protocol : mapping
        The melt-quench keys of ``protocol`` (melt_T_K, melt_ps, quench, relax_T_K,
        relax_ps, timestep_fs).

    Returns
    -------
    list of Stage
        melt (writes melt.data), the quench ramps, relax (writes glass.data).
    """
    dt = protocol["timestep_fs"]
    melt_T = float(protocol["melt_T_K"])
    out = [Stage("melt", melt_T, melt_T, steps(protocol["melt_ps"], dt), write_after="melt.data")]
    for q in quench_stages(protocol):
        out.append(Stage(q["name"], float(q["T_start_K"]), float(q["T_end_K"]), int(q["steps"])))
    relax_T = float(protocol["relax_T_K"])
    out.append(
        Stage("relax", relax_T, relax_T, steps(protocol["relax_ps"], dt), write_after="glass.data")
    )
    return out


def production_stages(
    protocol: Mapping[str, Any], T_K: float, start_step: int, end_step: int
) -> list[Stage]:
    """Stages of a production segment (the LAMMPS engine's production.lmp.j2).

    The first segment (``start_step`` 0) ramps from the start structure's temperature
    to ``T_K`` at ``ramp_rate_K_ps``, equilibrates for ``equilibration_ps``, then runs
    production steps 0 .. ``end_step``; a later segment runs production steps
    ``start_step`` .. ``end_step`` only.
    """
    dt = protocol["timestep_fs"]
    prod = Stage("production", T_K, T_K, end_step - start_step, clock="production")
    if start_step > 0:
        return [prod]
    mode = protocol["production_start"]
    T0 = float(protocol["relax_T_K"] if mode == "reheat" else protocol["melt_T_K"])
    out = []
    ramp = steps(abs(T_K - T0) / protocol["ramp_rate_K_ps"], dt)
    if ramp > 0:
        out.append(Stage("ramp", T0, float(T_K), ramp))
    eq = steps(protocol["equilibration_ps"], dt)
    if eq > 0:
        out.append(Stage("equilibration", float(T_K), float(T_K), eq))
    return [*out, prod]


def anneal_stages(
    T_low_K: float,
    T_high_K: float,
    hold_ps: float,
    rate_K_ps: float,
    timestep_fs: float,
    out: str = "annealed.data",
) -> list[Stage]:
    """Heat from ``T_low_K`` to ``T_high_K`` at ``rate_K_ps``, hold ``hold_ps``, cool
    back at the same rate; the configuration at the end is written to ``out``."""
    ramp = steps(abs(T_high_K - T_low_K) / rate_K_ps, timestep_fs)
    return [
        Stage("anneal_heat", T_low_K, T_high_K, ramp),
        Stage("anneal_hold", T_high_K, T_high_K, steps(hold_ps, timestep_fs)),
        Stage("anneal_cool", T_high_K, T_low_K, ramp, write_after=out),
    ]
