"""Export of .gtrj trajectories (extxyz, LAMMPS dump, DCD) and the MDAnalysis reader.

A synthetic trajectory whose atoms wander several boxes away in every direction
(negative coordinates included) and whose orthorhombic box changes from frame to
frame is exported, read back with independent readers (ASE, MDAnalysis) and
compared with what glassflow's reader returns: positions to float32 precision,
boxes, species, charges, masses, steps, times and the frame selection.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from glassflow.analysis.structure.geometry import wrap_positions
from glassflow.io.export import (
    ExportError,
    default_output,
    export_trajectory,
    find_trajectory,
    frame_boxes_A,
    frame_indices,
)
from glassflow.io.trajectory import open_trajectory, write_trajectory

SPECIES = ("Na", "Si", "S")
CHARGES = {"Na": 0.6, "Si": 2.4, "S": -1.2}
MASSES = {"Na": 22.98977, "Si": 28.0855, "S": 32.06}
N_FRAMES = 25
TIMESTEP_FS = 1.0
DUMP_STEPS = 10
F32 = 1e-5  # Å: float32 resolution of positions up to ~60 Å, with margin


@pytest.fixture(scope="module")
def traj_path(tmp_path_factory):
    """25 frames of 12 atoms (6 Na, 2 Si, 4 S), velocities, a box that changes per frame.

    Lives under a results-like path so the default output name can be checked.
    """
    rng = np.random.default_rng(7)
    types = np.array([0] * 6 + [1] * 2 + [2] * 4, dtype=np.int32)
    n = types.size
    box0 = np.array([10.5, 11.0, 12.25])
    boxes = box0 * (1.0 + 0.01 * np.sin(np.arange(N_FRAMES)))[:, None]
    start = rng.random((n, 3)) * box0
    steps = rng.normal(scale=1.2, size=(N_FRAMES, n, 3))
    steps[:, 0] += 1.6  # atom 0 drifts to about +4 boxes in x
    steps[:, 1] -= 1.6  # atom 1 to about -3 boxes
    pos = start + np.cumsum(steps, axis=0)
    vel = rng.normal(scale=5.0, size=(N_FRAMES, n, 3))  # Å/ps
    run = tmp_path_factory.mktemp("results") / "camp/x0.50_m2.00/T1600/rep03/production"
    run.mkdir(parents=True)
    path = write_trajectory(
        run / "trajectory.gtrj",
        SPECIES,
        types,
        pos,
        boxes,
        np.arange(N_FRAMES) * DUMP_STEPS * TIMESTEP_FS / 1000.0,
        steps=np.arange(N_FRAMES) * DUMP_STEPS,
        charges=[CHARGES[SPECIES[t]] for t in types],
        masses=[MASSES[SPECIES[t]] for t in types],
        velocities=vel,
        timestep_fs=TIMESTEP_FS,
    )
    return path


@pytest.fixture(scope="module")
def stored(traj_path):
    traj = open_trajectory(traj_path)
    return {
        "pos": traj.positions().astype(np.float64),
        "vel": traj.velocities().astype(np.float64),
        "boxes": frame_boxes_A(traj),
        "symbols": [SPECIES[t] for t in traj.types],
        "types": traj.types,
        "charges": traj.charges,
        "masses": traj.masses,
        "steps": traj.steps,
        "times": traj.times_ps,
    }


def test_synthetic_trajectory_leaves_the_box(stored):
    """The fixture really tests unwrapping: atoms several boxes out on both sides."""
    images = np.floor(stored["pos"] / stored["boxes"][:, None, :])
    assert images.max() >= 3 and images.min() <= -2
    assert not np.allclose(stored["boxes"][0], stored["boxes"][1])


# pure helpers -------------------------------------------------------------------------------
def test_frame_indices_follow_python_slices():
    assert frame_indices(10, 2, 9, 3).tolist() == [2, 5, 8]
    assert frame_indices(10, -3).tolist() == [7, 8, 9]
    assert frame_indices(10, stride=4).tolist() == [0, 4, 8]
    with pytest.raises(ExportError, match="--stride: 0"):
        frame_indices(10, stride=0)
    with pytest.raises(ExportError, match="--start: frame 11 is outside"):
        frame_indices(10, 11)
    with pytest.raises(ExportError, match="selects no frame"):
        frame_indices(10, 5, 5)


def test_wrap_positions_known_values():
    pos = np.array([[[-0.5, 10.0, 25.25], [3.0, -20.0, 0.0]]], dtype=np.float32)
    out = wrap_positions(pos, [[10.0, 10.0, 10.0]], dtype=pos.dtype)
    np.testing.assert_allclose(out, [[[9.5, 0.0, 5.25], [3.0, 0.0, 0.0]]], atol=1e-6)
    assert out.dtype == np.float32


def test_frame_boxes_match_what_was_written(traj_path, stored):
    box0 = np.array([10.5, 11.0, 12.25])
    expected = box0 * (1.0 + 0.01 * np.sin(np.arange(N_FRAMES)))[:, None]
    np.testing.assert_array_equal(stored["boxes"], expected)


def test_find_trajectory_and_default_name(traj_path):
    run = traj_path.parent
    assert find_trajectory(run) == traj_path
    assert find_trajectory(run.parent) == traj_path
    assert find_trajectory(traj_path) == traj_path
    assert default_output(traj_path, "dcd").name == "camp_x0.50_m2.00_T1600_rep03.dcd"
    with pytest.raises(ExportError, match="holds no trajectory.gtrj"):
        find_trajectory(run.parent.parent)


# round trips ------------------------------------------------------------------------------
def test_extxyz_round_trip(traj_path, stored, tmp_path):
    from ase import units
    from ase.io import read

    out = tmp_path / "t.extxyz"
    res = export_trajectory(traj_path, out, "extxyz", start=1, stride=2, velocities=True)
    sel = np.arange(1, N_FRAMES, 2)
    assert res.indices.tolist() == sel.tolist()
    frames = read(out, index=":", format="extxyz")
    assert len(frames) == sel.size
    for k, atoms in enumerate(frames):
        f = sel[k]
        np.testing.assert_allclose(atoms.get_positions(), stored["pos"][f], rtol=0, atol=F32)
        np.testing.assert_allclose(atoms.cell.lengths(), stored["boxes"][f], rtol=1e-12)
        assert atoms.get_chemical_symbols() == stored["symbols"]
        np.testing.assert_allclose(atoms.get_initial_charges(), stored["charges"])
        np.testing.assert_allclose(atoms.get_masses(), stored["masses"])
        assert atoms.info["step"] == stored["steps"][f]
        assert atoms.info["time_ps"] == pytest.approx(stored["times"][f])
        v_A_ps = atoms.get_velocities() * 1000.0 * units.fs
        np.testing.assert_allclose(v_A_ps, stored["vel"][f], rtol=1e-6, atol=1e-6)


def test_extxyz_wrap(traj_path, stored, tmp_path):
    from ase.io import read

    out = tmp_path / "w.extxyz"
    export_trajectory(traj_path, out, "extxyz", stop=4, wrap=True)
    frames = read(out, index=":", format="extxyz")
    assert len(frames) == 4
    for f, atoms in enumerate(frames):
        p = atoms.get_positions()
        assert (p >= 0).all() and (p < stored["boxes"][f]).all()
        box = stored["boxes"][f]
        np.testing.assert_allclose(p, np.mod(stored["pos"][f], box), rtol=0, atol=F32)


def test_lammpstrj_round_trip(traj_path, stored, tmp_path):
    pytest.importorskip("lammps")
    from ase import units
    from ase.io import read

    out = tmp_path / "t.lammpstrj"
    res = export_trajectory(traj_path, out, "lammpstrj", stop=20, stride=3, velocities=True)
    sel = np.arange(0, 20, 3)
    assert res.indices.tolist() == sel.tolist()
    frames = read(out, index=":", format="lammps-dump-text", units="real")
    assert len(frames) == sel.size
    for k, atoms in enumerate(frames):
        f = sel[k]
        np.testing.assert_allclose(atoms.get_positions(), stored["pos"][f], rtol=0, atol=F32)
        np.testing.assert_allclose(atoms.cell.lengths(), stored["boxes"][f], rtol=1e-9)
        assert atoms.get_chemical_symbols() == stored["symbols"]
        np.testing.assert_allclose(atoms.get_initial_charges(), stored["charges"], rtol=1e-7)
        v_A_ps = atoms.get_velocities() * 1000.0 * units.fs
        np.testing.assert_allclose(v_A_ps, stored["vel"][f], rtol=1e-5, atol=1e-5)
    text = out.read_text().splitlines()
    assert [int(text[i + 1]) for i, ln in enumerate(text) if ln == "ITEM: TIMESTEP"] == (
        stored["steps"][sel].tolist()
    )
    assert "ITEM: ATOMS id type element q mass xu yu zu vx vy vz" in text


def test_lammpstrj_wrap_writes_box_coordinates(traj_path, stored, tmp_path):
    pytest.importorskip("lammps")
    from ase.io import read

    out = tmp_path / "w.lammpstrj"
    export_trajectory(traj_path, out, "lammpstrj", start=-2, wrap=True)
    frames = read(out, index=":", format="lammps-dump-text")
    assert len(frames) == 2
    for k, atoms in enumerate(frames):
        f = N_FRAMES - 2 + k
        expected = np.mod(stored["pos"][f], stored["boxes"][f])  # into [0, L)
        np.testing.assert_allclose(atoms.get_positions(), expected, rtol=0, atol=F32)
    assert "ITEM: ATOMS id type element q mass x y z" in out.read_text()


@pytest.mark.filterwarnings("ignore:DCDReader currently makes independent:DeprecationWarning")
def test_dcd_round_trip_with_pdb_topology(traj_path, stored, tmp_path):
    mda = pytest.importorskip("MDAnalysis")

    out = tmp_path / "t.dcd"
    res = export_trajectory(traj_path, out, "dcd", start=2, stop=23, stride=4)
    assert res.outputs == [out, tmp_path / "t.pdb"]
    sel = np.arange(2, 23, 4)
    u = mda.Universe(str(res.outputs[1]), str(out))
    assert u.trajectory.n_frames == sel.size
    assert list(u.atoms.elements) == stored["symbols"]
    assert u.trajectory.dt == pytest.approx(4 * DUMP_STEPS * TIMESTEP_FS / 1000.0, rel=1e-6)
    for k, _ in enumerate(u.trajectory):
        f = sel[k]
        np.testing.assert_allclose(u.atoms.positions, stored["pos"][f], rtol=0, atol=F32)
        np.testing.assert_allclose(u.dimensions[:3], stored["boxes"][f], rtol=1e-6)
        np.testing.assert_allclose(u.dimensions[3:], 90.0)


def test_export_checks_the_request_before_writing(traj_path, tmp_path):
    out = tmp_path / "x.dcd"
    with pytest.raises(ExportError, match="--format: 'xyz' is not one of"):
        export_trajectory(traj_path, tmp_path / "x.xyz", "xyz")
    with pytest.raises(ExportError, match="--velocities: DCD files hold positions only"):
        export_trajectory(traj_path, out, "dcd", velocities=True)
    with pytest.raises(ExportError, match="--stride: -1"):
        export_trajectory(traj_path, out, "dcd", stride=-1)
    assert not list(tmp_path.iterdir())
    out.write_text("keep me")
    with pytest.raises(ExportError, match="exists; use --force"):
        export_trajectory(traj_path, out, "extxyz")
    assert out.read_text() == "keep me"
    export_trajectory(traj_path, out, "extxyz", stop=1, force=True)
    assert out.read_text().startswith("12\n")


def test_velocities_need_stored_velocities(tmp_path):
    path = write_trajectory(
        tmp_path / "novel.gtrj", ("Na",), [0, 0], np.zeros((2, 2, 3)), [5.0] * 3, [0.0, 0.01]
    )
    with pytest.raises(ExportError, match="stores no velocities"):
        export_trajectory(path, tmp_path / "o.extxyz", "extxyz", velocities=True)


# MDAnalysis reader ----------------------------------------------------------------------------
def test_mdanalysis_reader_matches_glassflow_reader(traj_path, stored):
    mda = pytest.importorskip("MDAnalysis")
    import glassflow.io.mdanalysis_reader  # noqa: F401 - registers GTRJ

    u = mda.Universe(str(traj_path))
    traj = u.trajectory
    assert traj.n_frames == N_FRAMES
    assert traj.dt == pytest.approx(DUMP_STEPS * TIMESTEP_FS / 1000.0)
    assert list(u.atoms.elements) == stored["symbols"]
    assert list(u.atoms.types) == [str(t + 1) for t in stored["types"]]
    np.testing.assert_array_equal(u.atoms.charges, stored["charges"])
    np.testing.assert_array_equal(u.atoms.masses, stored["masses"])
    for f, ts in enumerate(traj):
        assert ts.frame == f
        np.testing.assert_array_equal(u.atoms.positions, stored["pos"][f].astype(np.float32))
        np.testing.assert_array_equal(u.atoms.velocities, stored["vel"][f].astype(np.float32))
        np.testing.assert_array_equal(ts.dimensions[:3], stored["boxes"][f].astype(np.float32))
        assert ts.time == pytest.approx(stored["times"][f])
        assert ts.data["step"] == stored["steps"][f]
    # random access, slices, and a copy for parallel analyses
    traj[17]
    np.testing.assert_array_equal(u.atoms.positions, stored["pos"][17].astype(np.float32))
    assert [ts.frame for ts in traj[3:20:5]] == [3, 8, 13, 18]
    clone = pickle.loads(pickle.dumps(traj))
    clone[9]
    np.testing.assert_array_equal(clone.ts.positions, stored["pos"][9].astype(np.float32))


def test_mdanalysis_reader_with_lammps_data_topology(traj_path, stored, tmp_path):
    """The README one-liner: a LAMMPS data file (atom_style charge) as topology."""
    mda = pytest.importorskip("MDAnalysis")
    from ase import Atoms

    import glassflow.io.mdanalysis_reader  # noqa: F401
    from glassflow.md.cell import write_lammps_data

    atoms = Atoms(
        symbols=stored["symbols"], positions=stored["pos"][0] % stored["boxes"][0], pbc=True
    )
    atoms.set_cell(stored["boxes"][0])
    atoms.set_initial_charges(stored["charges"])
    atoms.set_masses(stored["masses"])
    data = write_lammps_data(atoms, tmp_path / "glass.data", SPECIES)
    u = mda.Universe(
        str(data), str(traj_path), topology_format="DATA", atom_style="id type charge x y z"
    )
    assert u.trajectory.n_frames == N_FRAMES
    assert list(u.atoms.types) == [str(t + 1) for t in stored["types"]]
    np.testing.assert_allclose(u.atoms.charges, stored["charges"], rtol=1e-6)
    u.trajectory[5]
    np.testing.assert_array_equal(u.atoms.positions, stored["pos"][5].astype(np.float32))
    with pytest.raises(ValueError, match="atoms"):
        mda.Universe(str(data), str(_shorter(traj_path, tmp_path)))


def _shorter(traj_path, tmp_path):
    """A trajectory with one atom fewer than the fixture's."""
    traj = open_trajectory(traj_path)
    return write_trajectory(
        tmp_path / "short.gtrj",
        traj.species,
        traj.types[:-1],
        traj.positions(0, 2)[:, :-1],
        traj.box_A,
        traj.times_ps[:2],
    )
