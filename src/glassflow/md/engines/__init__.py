"""MD engines: what the melt-quench and production jobs need from the code that runs MD.

The workflow scripts and :mod:`glassflow.md.jobs` talk to an engine only through
:class:`MDEngine`, so the engine is chosen by the config (``engine.kind``) and not by
the code: ``lammps`` (:class:`glassflow.md.engines.lammps.LammpsEngine`, the default)
or ``ase`` (``glassflow.md.engines.ase.AseEngine``). Every engine writes the same
outputs: ``glass.data`` and ``melt.data`` (LAMMPS data files) from a melt-quench, a
``trajectory.gtrj`` frame file (and, between segments, an end state) from a production
segment, and thermo tables with the columns of :mod:`glassflow.md.lammps_io`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from glassflow.md.segments import Segment

#: the accepted values of ``engine.kind``
ENGINE_KINDS: tuple[str, ...] = ("lammps", "ase")
#: the inputs of the two stages, as :meth:`MDEngine.command` names them (the LAMMPS
#: engine renders them into the run directory)
MELT_QUENCH_INPUT = "in.melt_quench.lmp"
PRODUCTION_INPUT = "in.production.lmp"


@runtime_checkable
class MDEngine(Protocol):
    """What a job needs from an MD engine (structural: no base class to inherit).

    ``kind`` names the engine (``engine.kind`` of the config). ``version()`` is the
    engine's version string; it enters the key of a run (a checkpoint of another
    version is not continued) and the provenance of glass.json, run.json and
    segment.json (``md_engine``). ``command(input_name)`` is how a person reruns a
    stage by hand, recorded as ``lammps_command``.
    """

    kind: str

    def version(self) -> str:
        """The engine's version (``"unknown"`` when it cannot be determined)."""
        ...

    def command(self, input_name: str) -> list[str]:
        """The command line that reruns the stage whose input is ``input_name``."""
        ...

    def melt_quench(
        self,
        workdir: str | Path,
        context: Mapping[str, Any],
        protocol: Mapping[str, Any],
        stdout_log: str | Path,
    ) -> dict[str, Any]:
        """Melt, quench and relax ``workdir/cell.data``; writes glass.data and melt.data.

        Returns at least ``wall_time_s`` and ``lammps_version`` (the version of the
        engine that ran).
        """
        ...

    def melt_quench_thermo(self, workdir: str | Path) -> pd.DataFrame:
        """Thermo table of the melt-quench run in ``workdir``."""
        ...

    def run_segment(
        self,
        workdir: str | Path,
        segment: Segment,
        context: Mapping[str, Any],
        protocol: Mapping[str, Any],
        T_K: float,
        stdout_log: str | Path,
        trajectory_out: str | Path,
        end_state_out: str | Path | None = None,
    ) -> dict[str, Any]:
        """Run one production segment; writes its frames to ``trajectory_out`` and, with
        ``end_state_out``, the state the next segment starts from.

        Returns the keys of :func:`glassflow.md.engines.lammps_run.run_segment`.
        """
        ...

    def production_thermo(self, workdir: str | Path, timestep_fs: float) -> pd.DataFrame:
        """Thermo table of the production run or segment in ``workdir``."""
        ...


def engine_from_config(settings: Mapping[str, Any]) -> MDEngine:
    """The MD engine of the ``engine`` config block.

    Parameters
    ----------
    settings
        The ``engine`` block (physics settings and how the engine is launched);
        ``kind`` selects the engine, ``lammps`` when absent.

    Returns
    -------
    MDEngine
        A :class:`~glassflow.md.engines.lammps.LammpsEngine` or an ``AseEngine``.

    Raises
    ------
    ValueError
        For an unknown ``engine.kind``.
    """
    kind = settings.get("kind", "lammps")
    if kind == "lammps":
        from glassflow.md.engines.lammps import LammpsEngine

        return LammpsEngine.from_config(settings)
    if kind == "ase":
        # imported here: the ASE engine (and its optional dependencies) only when chosen
        from glassflow.md.engines.ase import AseEngine

        return AseEngine.from_config(settings)
    raise ValueError(
        f"engine.kind {kind!r} is not an MD engine glassflow knows; "
        f"use one of {', '.join(map(repr, ENGINE_KINDS))}"
    )


def engine_record(engine: MDEngine) -> dict[str, str]:
    """The ``md_engine`` entry of glass.json, run.json and segment.json.

    Parameters
    ----------
    engine
        The engine that ran.

    Returns
    -------
    dict
        ``{"kind": engine.kind, "version": engine.version()}``.
    """
    return {"kind": engine.kind, "version": engine.version()}
