"""Compact binary trajectories (``.gtrj``): float32 unwrapped positions per frame.

Format (docs/design.md): a JSON header padded to :data:`HEADER_BYTES`, then
fixed-size little-endian frame records ``(step, time_ps, crc32, pad, box_A[3],
pos[N,3] float32[, vel[N,3] float32])``. Positions are unwrapped, in Å;
velocities in Å/ps. Every frame carries a CRC32 of its coordinate bytes, so a
corrupted frame is found and named; a truncated file is found from its size.

Checksums are verified by default while reading (``verify="stream"``): the first
time a frame's coordinates are materialised (``positions``/``velocities``), the
CRC32 of its whole coordinate record is computed from the memory map (no copy)
and compared, so an analysis that reads a trajectory once pays one CRC pass over
the bytes it reads anyway (see ``benchmarks/trajectory_crc.py``).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

MAGIC = "GLASSFLOW-TRAJECTORY"
VERSION = 1
HEADER_BYTES = 4096


VERIFY_MODES = ("stream", "all", "off")
VerifyMode = Literal["stream", "all", "off"]


class TrajectoryError(ValueError):
    """A trajectory file is unreadable; the message names the file and frame."""


def verify_mode(verify: bool | str) -> VerifyMode:
    """Normalise ``verify``: True -> "all" (now), False -> "off", or a mode name."""
    if verify is True:
        return "all"
    if verify is False:
        return "off"
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify: {verify!r} is not one of {VERIFY_MODES} or a bool")
    return verify  # type: ignore[return-value]


def frame_dtype(n_atoms: int, has_velocities: bool) -> np.dtype:
    """Structured dtype of one frame record for ``n_atoms`` atoms."""
    fields: list[tuple] = [
        ("step", "<i8"),
        ("time_ps", "<f8"),
        ("crc32", "<u4"),
        ("pad", "<u4"),
        ("box_A", "<f8", (3,)),
        ("pos", "<f4", (n_atoms, 3)),
    ]
    if has_velocities:
        fields.append(("vel", "<f4", (n_atoms, 3)))
    return np.dtype(fields)


def _crc(record: np.void | np.ndarray, has_velocities: bool) -> int:
    crc = zlib.crc32(np.ascontiguousarray(record["pos"]).tobytes())
    if has_velocities:
        crc = zlib.crc32(np.ascontiguousarray(record["vel"]).tobytes(), crc)
    return crc


@dataclass(frozen=True)
class TrajectoryHeader:
    """Per-file metadata: species, per-atom types, charges (e) and masses (g/mol)."""

    species: tuple[str, ...]
    types: npt.NDArray[np.int32]
    charges: npt.NDArray[np.float64]
    masses: npt.NDArray[np.float64]
    timestep_fs: float
    has_velocities: bool

    def to_bytes(self) -> bytes:
        doc = {
            "magic": MAGIC,
            "version": VERSION,
            "n_atoms": int(self.types.size),
            "species": list(self.species),
            "types": self.types.astype(int).tolist(),
            "charges": self.charges.astype(float).tolist(),
            "masses": self.masses.astype(float).tolist(),
            "timestep_fs": float(self.timestep_fs),
            "has_velocities": bool(self.has_velocities),
        }
        raw = json.dumps(doc, separators=(",", ":")).encode()
        n_blocks = -(-(len(raw) + 1) // HEADER_BYTES)
        return raw + b"\n" + b" " * (n_blocks * HEADER_BYTES - len(raw) - 1)


class TrajectoryWriter:
    """Append frames to a ``.gtrj`` file (written to ``path`` directly; callers rename)."""

    def __init__(self, path: str | Path, header: TrajectoryHeader, append: bool = False):
        self.path = Path(path)
        self.header = header
        self.dtype = frame_dtype(header.types.size, header.has_velocities)
        mode = "ab" if append else "wb"
        self._fh = open(self.path, mode)  # noqa: SIM115 - closed in close()
        if not append:
            self._fh.write(header.to_bytes())

    def write(
        self,
        steps: npt.ArrayLike,
        times_ps: npt.ArrayLike,
        boxes_A: npt.ArrayLike,
        positions: npt.ArrayLike,
        velocities: npt.ArrayLike | None = None,
    ) -> None:
        """Write a block of frames; arrays have a leading frame axis."""
        pos = np.asarray(positions, dtype=np.float32)
        n = pos.shape[0]
        rec = np.zeros(n, dtype=self.dtype)
        rec["step"] = np.asarray(steps, dtype=np.int64)
        rec["time_ps"] = np.asarray(times_ps, dtype=np.float64)
        rec["box_A"] = np.broadcast_to(np.asarray(boxes_A, dtype=np.float64), (n, 3))
        rec["pos"] = pos
        if self.header.has_velocities:
            if velocities is None:
                raise ValueError("header declares velocities but none were given")
            rec["vel"] = np.asarray(velocities, dtype=np.float32)
        for i in range(n):
            rec["crc32"][i] = _crc(rec[i], self.header.has_velocities)
        self._fh.write(rec.tobytes())

    def flush(self) -> None:
        """Hand the frames written so far to the operating system (a reader sees them)."""
        self._fh.flush()

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_trajectory(
    path: str | Path,
    species: Sequence[str],
    types: npt.ArrayLike,
    positions: npt.ArrayLike,
    box_A: npt.ArrayLike,
    times_ps: npt.ArrayLike,
    *,
    steps: npt.ArrayLike | None = None,
    charges: npt.ArrayLike | None = None,
    masses: npt.ArrayLike | None = None,
    velocities: npt.ArrayLike | None = None,
    timestep_fs: float = 1.0,
) -> Path:
    """Write a whole trajectory at once (positions (frames, atoms, 3) in Å)."""
    pos = np.asarray(positions, dtype=np.float32)
    n_frames, n_atoms = pos.shape[:2]
    t = np.asarray(types, dtype=np.int32)
    header = TrajectoryHeader(
        species=tuple(species),
        types=t,
        charges=np.zeros(n_atoms) if charges is None else np.asarray(charges, float),
        masses=np.ones(n_atoms) if masses is None else np.asarray(masses, float),
        timestep_fs=float(timestep_fs),
        has_velocities=velocities is not None,
    )
    times = np.asarray(times_ps, dtype=np.float64)
    if steps is None:
        steps = np.rint(times * 1000.0 / timestep_fs).astype(np.int64)
    with TrajectoryWriter(path, header) as w:
        w.write(steps, times, box_A, pos, velocities)
    return Path(path)


def _read_header_bytes(fh, path: Path) -> bytes:
    """The JSON header up to its terminating newline, read block by block.

    Reads only the header blocks (a header of N atoms is ~30 N bytes), never the frames.
    """
    chunks: list[bytes] = []
    while True:
        block = fh.read(HEADER_BYTES)
        if len(block) < HEADER_BYTES:
            raise TrajectoryError(
                f"{path}: truncated header ({sum(map(len, chunks)) + len(block)} bytes)"
            )
        if not chunks and MAGIC.encode() not in block[:64]:
            raise TrajectoryError(f"{path}: not a glassflow trajectory (bad magic)")
        end = block.find(b"\n")
        if end >= 0:
            chunks.append(block[:end])
            return b"".join(chunks)
        chunks.append(block)


class Trajectory:
    """Read-only, memory-mapped view of a ``.gtrj`` file (see module docstring).

    ``verify``: ``"stream"`` (default) checks each frame's CRC32 (and that its
    coordinates are finite) the first time the frame is read; ``"all"`` (or True)
    checks every frame now; ``"off"`` (or False) never checks. A failed check raises
    :class:`TrajectoryError` naming the file, the frame and its step.
    """

    def __init__(self, path: str | Path, verify: bool | str = "stream"):
        self.path = Path(path)
        mode = verify_mode(verify)
        try:
            size = self.path.stat().st_size
        except FileNotFoundError as err:
            raise TrajectoryError(f"{self.path}: no such trajectory file") from err
        with open(self.path, "rb") as fh:
            raw = _read_header_bytes(fh, self.path)
        end = len(raw)
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise TrajectoryError(f"{self.path}: corrupted header: {err}") from err
        if not isinstance(doc, dict) or doc.get("magic") != MAGIC:
            raise TrajectoryError(f"{self.path}: not a glassflow trajectory (bad magic)")
        header_len = -(-(end + 1) // HEADER_BYTES) * HEADER_BYTES
        self.header = TrajectoryHeader(
            species=tuple(doc["species"]),
            types=np.asarray(doc["types"], dtype=np.int32),
            charges=np.asarray(doc["charges"], dtype=np.float64),
            masses=np.asarray(doc["masses"], dtype=np.float64),
            timestep_fs=float(doc["timestep_fs"]),
            has_velocities=bool(doc["has_velocities"]),
        )
        self.n_atoms = int(doc["n_atoms"])
        self._dtype = frame_dtype(self.n_atoms, self.header.has_velocities)
        payload = size - header_len
        n_frames, rest = divmod(payload, self._dtype.itemsize)
        if rest:
            raise TrajectoryError(
                f"{self.path}: truncated at frame {n_frames} "
                f"({rest} of {self._dtype.itemsize} bytes present)"
            )
        self.n_frames = int(n_frames)
        self._rec = (
            np.memmap(self.path, dtype=self._dtype, mode="r", offset=header_len, shape=(n_frames,))
            if n_frames
            else np.zeros(0, dtype=self._dtype)
        )
        # the same bytes as raw rows: the coordinate payload (pos then vel) is one
        # contiguous slice of each row, so its CRC32 needs no copy
        self._raw = (
            np.memmap(
                self.path,
                dtype=np.uint8,
                mode="r",
                offset=header_len,
                shape=(n_frames, self._dtype.itemsize),
            ).view(np.ndarray)  # plain views: slicing a row costs no Python hook
            if n_frames
            else np.zeros((0, self._dtype.itemsize), dtype=np.uint8)
        )
        self._payload_start = int(self._dtype.fields["pos"][1])
        self._checked = np.zeros(self.n_frames, dtype=bool)
        self._stream = mode == "stream"
        self.steps = np.asarray(self._rec["step"])
        self.times_ps = np.asarray(self._rec["time_ps"])
        self._crc32 = np.asarray(self._rec["crc32"], dtype=np.uint32)
        if self.n_frames > 1 and np.any(np.diff(self.steps) <= 0):
            bad = int(np.argmax(np.diff(self.steps) <= 0)) + 1
            raise TrajectoryError(f"{self.path}: frame {bad}: time stamps not increasing")
        if mode == "all":
            self.verify()

    # metadata -------------------------------------------------------------------
    @property
    def species(self) -> tuple[str, ...]:
        return self.header.species

    @property
    def types(self) -> npt.NDArray[np.int32]:
        return self.header.types

    @property
    def charges(self) -> npt.NDArray[np.float64]:
        return self.header.charges

    @property
    def masses(self) -> npt.NDArray[np.float64]:
        return self.header.masses

    @property
    def timestep_fs(self) -> float:
        return self.header.timestep_fs

    @property
    def has_velocities(self) -> bool:
        return self.header.has_velocities

    @property
    def box_A(self) -> npt.NDArray[np.float64]:
        if self.n_frames == 0:
            raise TrajectoryError(f"{self.path}: no frames")
        return np.asarray(self._rec["box_A"][0], dtype=np.float64)

    def indices_of(self, species: str) -> npt.NDArray[np.intp]:
        """Atom indices of one species (element symbol)."""
        if species not in self.species:
            raise KeyError(f"{self.path}: no species {species!r} (has {self.species})")
        return np.flatnonzero(self.types == self.species.index(species))

    # data -------------------------------------------------------------------------
    def _field(self, name: str, start: int, stop: int | None, atoms: npt.ArrayLike | None):
        start, stop, _ = slice(start, stop).indices(self.n_frames)
        if self._stream:
            self.verify(start, stop)
        block = self._rec[name][start:stop]
        if atoms is not None:
            block = block[:, np.asarray(atoms)]
        return np.array(block, dtype=np.float32)

    def positions(
        self, start: int = 0, stop: int | None = None, atoms: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float32]:
        """Unwrapped positions, Å, shape (frames, atoms, 3)."""
        return self._field("pos", start, stop, atoms)

    def velocities(
        self, start: int = 0, stop: int | None = None, atoms: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float32]:
        """Velocities, Å/ps, shape (frames, atoms, 3)."""
        if not self.has_velocities:
            raise TrajectoryError(f"{self.path}: no velocities stored (dump_velocities: false)")
        return self._field("vel", start, stop, atoms)

    def iter_chunks(self, n_frames: int) -> Iterator[tuple[int, int]]:
        """Frame ranges ``(start, stop)`` of at most ``n_frames`` frames."""
        for start in range(0, self.n_frames, max(1, n_frames)):
            yield start, min(start + n_frames, self.n_frames)

    def verify(self, start: int = 0, stop: int | None = None) -> None:
        """Check the CRC32 and finiteness of frames ``start:stop`` not checked before.

        Raises :class:`TrajectoryError` naming the file, the frame and its step. Reads
        the coordinate bytes straight from the memory map (no copy); a frame that
        passed is not checked again.
        """
        start, stop, _ = slice(start, stop).indices(self.n_frames)
        for i in np.flatnonzero(~self._checked[start:stop]) + start:
            self._check_frame(int(i))
            self._checked[i] = True

    @property
    def fully_verified(self) -> bool:
        """True once every frame's checksum has been checked."""
        return bool(self._checked.all())

    def _check_frame(self, i: int) -> None:
        payload = self._raw[i, self._payload_start :]
        if zlib.crc32(payload) != int(self._crc32[i]):
            raise TrajectoryError(
                f"{self.path}: frame {i} (step {int(self.steps[i])}) "
                "is corrupted (checksum mismatch)"
            )
        values = payload.view("<f4")
        n_pos = 3 * self.n_atoms
        for what, part in (("positions", values[:n_pos]), ("velocities", values[n_pos:])):
            if part.size and not np.isfinite(part).all():
                raise TrajectoryError(
                    f"{self.path}: frame {i} (step {int(self.steps[i])}) has non-finite {what}"
                )


def open_trajectory(path: str | Path, verify: bool | str = "stream") -> Trajectory:
    """Open a trajectory, checking checksums as frames are read (see :class:`Trajectory`).

    ``verify="stream"`` (the default, used by the analyses): each frame's CRC32 is
    checked the first time it is read; ``True``/``"all"``: every frame now;
    ``False``/``"off"``: never (only for measuring the cost of the check).
    """
    return Trajectory(path, verify=verify)
