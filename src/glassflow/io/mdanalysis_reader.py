"""MDAnalysis support for glassflow ``.gtrj`` trajectories (format "GTRJ").

Importing this module registers, with MDAnalysis, a trajectory reader and a
topology parser for the format ``GTRJ`` (MDAnalysis picks both by the ``format``
class attribute, and guesses the format from the ``.gtrj`` file extension)::

    import MDAnalysis as mda
    import glassflow.io.mdanalysis_reader  # noqa: F401  (registers GTRJ)

    u = mda.Universe("trajectory.gtrj")  # topology from the trajectory header
    u = mda.Universe(
        "glass.data", "trajectory.gtrj", topology_format="DATA", atom_style="id type charge x y z"
    )  # the LAMMPS data file of the replica's glass as topology

The header gives every atom its element (``name`` and ``element``), its LAMMPS type
number (``type``, "1", "2", ... in species order, as in the LAMMPS data files), its
charge (e) and mass (g/mol). MDAnalysis sorts the atoms of a LAMMPS data file by atom
id, which is the order of the trajectory. Positions are the stored **unwrapped**
positions (Å), velocities Å/ps, time ps (since the start of production); ``ts.data``
holds the MD ``step``. Frames are read from the memory map with glassflow's reader,
so each frame's CRC32 is checked the first time it is read.

MDAnalysis is imported here, at module import; the rest of glassflow never imports
it (install it with ``pip install -c requirements.lock -e ".[io]"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

try:
    from MDAnalysis.coordinates.base import ReaderBase
    from MDAnalysis.core.topology import Topology
    from MDAnalysis.core.topologyattrs import (
        Atomids,
        Atomnames,
        Atomtypes,
        Charges,
        Elements,
        Masses,
        Resids,
        Resnums,
        Segids,
    )
    from MDAnalysis.lib.util import store_init_arguments
    from MDAnalysis.topology.base import TopologyReaderBase
except ImportError as err:  # pragma: no cover - exercised only without MDAnalysis
    raise ImportError(
        "glassflow.io.mdanalysis_reader needs MDAnalysis: "
        'pip install -c requirements.lock -e ".[io]"'
    ) from err

from glassflow.io.export import frame_boxes_A
from glassflow.io.trajectory import TrajectoryError, open_trajectory

__all__ = ["GTRJParser", "GTRJReader"]


class GTRJParser(TopologyReaderBase):
    """Topology of a ``.gtrj`` file from its header: elements, types, charges, masses.

    Attributes: ``ids`` 1..N (trajectory order = LAMMPS atom id order), ``names`` and
    ``elements`` (element symbols), ``types`` (LAMMPS type numbers as strings, in the
    header's species order), ``charges`` (e) and ``masses`` (g/mol); one residue and
    one segment ("SYSTEM").
    """

    format = "GTRJ"

    def parse(self, **kwargs: Any) -> Topology:
        traj = open_trajectory(self.filename)
        n = traj.n_atoms
        symbols = np.array(traj.species, dtype=object)[traj.types]
        attrs = [
            Atomids(np.arange(1, n + 1)),
            Atomnames(symbols),
            Atomtypes(np.array([str(t + 1) for t in traj.types], dtype=object)),
            Elements(symbols),
            Charges(np.asarray(traj.charges, dtype=np.float64)),
            Masses(np.asarray(traj.masses, dtype=np.float64)),
            Resids(np.array([1])),
            Resnums(np.array([1])),
            Segids(np.array(["SYSTEM"], dtype=object)),
        ]
        return Topology(n, 1, 1, attrs=attrs)


class GTRJReader(ReaderBase):
    """MDAnalysis trajectory reader of glassflow ``.gtrj`` files (random access).

    Units: positions Å (unwrapped), velocities Å/ps, time ps; ``dimensions`` from
    each frame's orthorhombic box ``[Lx, Ly, Lz, 90, 90, 90]``. ``dt`` is the time
    between stored frames (ps) unless given as a keyword. ``ts.data["step"]`` is the
    MD step of the frame. ``verify`` is passed to
    :func:`glassflow.io.trajectory.open_trajectory` ("stream" checks each frame's CRC32
    when it is first read).
    """

    format = "GTRJ"
    units = {"time": "ps", "length": "Angstrom", "velocity": "Angstrom/ps"}

    @store_init_arguments
    def __init__(
        self,
        filename: str | Path,
        convert_units: bool = True,
        n_atoms: int | None = None,
        verify: bool | str = "stream",
        **kwargs: Any,
    ):
        super().__init__(filename, convert_units=convert_units, **kwargs)
        self._verify = verify
        self._open()
        if n_atoms is not None and n_atoms != self.n_atoms:
            raise ValueError(
                f"{self.filename}: the trajectory has {self.n_atoms} atoms, the topology {n_atoms}"
            )
        ts_kwargs = dict(self._ts_kwargs)
        ts_kwargs.setdefault("dt", self._frame_interval_ps())
        self.ts = self._Timestep(
            self.n_atoms, velocities=self._traj.has_velocities, reader=self, **ts_kwargs
        )
        self._read_frame(0)

    def _open(self) -> None:
        self._traj = open_trajectory(self.filename, verify=self._verify)
        if self._traj.n_frames == 0:
            raise TrajectoryError(f"{self.filename}: no frames")
        self._boxes = frame_boxes_A(self._traj)
        self.n_atoms = self._traj.n_atoms
        self.n_frames = self._traj.n_frames

    def _frame_interval_ps(self) -> float:
        """Time between frames (ps): from the time stamps, else the MD timestep."""
        t = self._traj.times_ps
        return float(t[1] - t[0]) if t.size > 1 else self._traj.timestep_fs / 1000.0

    @classmethod
    def parse_n_atoms(cls, filename: str | Path, **kwargs: Any) -> int:
        return open_trajectory(filename, verify="off").n_atoms

    def _read_frame(self, frame: int):
        traj = self._traj
        ts = self.ts
        ts.frame = int(frame)
        ts.positions = traj.positions(frame, frame + 1)[0]
        if traj.has_velocities:
            ts.velocities = traj.velocities(frame, frame + 1)[0]
        ts.dimensions = np.concatenate([self._boxes[frame], [90.0, 90.0, 90.0]])
        ts.time = float(traj.times_ps[frame])
        ts.data["step"] = int(traj.steps[frame])
        return ts

    def _read_next_timestep(self, ts=None):
        if ts is None:
            ts = self.ts
        frame = ts.frame + 1
        if frame >= self.n_frames:
            raise OSError("end of trajectory")  # ProtoReader.next() stops on OSError
        return self._read_frame(frame)

    def _reopen(self) -> None:
        self.ts.frame = -1

    def close(self) -> None:
        """Nothing to close: frames are read from a memory map."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_traj", None)  # a memory map; reopened on unpickling
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open()
