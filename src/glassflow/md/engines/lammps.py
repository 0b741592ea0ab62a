"""The LAMMPS engine: :class:`MDEngine` on top of the LAMMPS inputs and runner.

Templates, launch settings and the runner are in :mod:`glassflow.md.lammps`; running
the stages and resuming a segment in :mod:`.lammps_run` and :mod:`.lammps_restart`;
the version in :mod:`.lammps_version`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from glassflow.md.engines import lammps_run
from glassflow.md.engines.lammps_restart import production_thermo
from glassflow.md.engines.lammps_version import lammps_executable_version
from glassflow.md.lammps import Engine, lammps_command
from glassflow.md.lammps_io import parse_thermo
from glassflow.md.segments import Segment


@dataclass(frozen=True)
class LammpsEngine:
    """LAMMPS as an MD engine (``engine.kind: lammps``).

    ``settings`` say how LAMMPS is launched (executable, launcher, ranks, accelerator,
    threads); the force field and protocol reach LAMMPS through the rendered inputs.
    """

    settings: Engine = field(default_factory=Engine)
    kind: str = "lammps"

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> LammpsEngine:
        """The engine of an ``engine`` config block (its launch keys).

        Parameters
        ----------
        settings
            The ``engine`` block.

        Returns
        -------
        LammpsEngine
        """
        return cls(Engine.from_config(settings))

    def version(self) -> str:
        """Version of the configured executable (``lmp -h``, asked once per process)."""
        return lammps_executable_version(self.settings)

    def command(self, input_name: str) -> list[str]:
        """The full LAMMPS argument list that runs ``input_name`` in its directory."""
        return lammps_command(self.settings, input_name)

    def melt_quench(
        self,
        workdir: str | Path,
        context: Mapping[str, Any],
        protocol: Mapping[str, Any],
        stdout_log: str | Path,
    ) -> dict[str, Any]:
        """See :func:`glassflow.md.engines.lammps_run.run_melt_quench`."""
        return lammps_run.run_melt_quench(workdir, context, protocol, self.settings, stdout_log)

    def melt_quench_thermo(self, workdir: str | Path) -> pd.DataFrame:
        """Thermo table of ``workdir/log.lammps``."""
        return parse_thermo(Path(workdir) / "log.lammps")

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
        """See :func:`glassflow.md.engines.lammps_run.run_segment` (``end_state_out``:
        the end restart file)."""
        return lammps_run.run_segment(
            workdir,
            segment,
            context,
            protocol,
            self.settings,
            T_K,
            stdout_log,
            trajectory_out,
            end_restart_out=end_state_out,
        )

    def production_thermo(self, workdir: str | Path, timestep_fs: float) -> pd.DataFrame:
        """See :func:`glassflow.md.engines.lammps_restart.production_thermo`."""
        return production_thermo(workdir, timestep_fs)
