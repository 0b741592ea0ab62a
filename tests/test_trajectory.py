"""The compact trajectory format: round trip, chunks, truncation and corruption found."""

import os

import numpy as np
import pytest

from glassflow.io.trajectory import (
    HEADER_BYTES,
    TrajectoryError,
    open_trajectory,
    write_trajectory,
)


@pytest.fixture
def traj_file(tmp_path):
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(12, 7, 3)).cumsum(axis=0).astype(np.float32)
    vel = rng.normal(size=(12, 7, 3)).astype(np.float32)
    path = write_trajectory(
        tmp_path / "t.gtrj",
        ["Na", "Si", "S"],
        [0, 0, 1, 2, 2, 2, 2],
        pos,
        [10.0, 11.0, 12.0],
        np.arange(12) * 0.05,
        charges=[1.2, 1.2, 2.4, -1.2, -1.2, -1.2, -1.2],
        masses=[23, 23, 28, 32, 32, 32, 32],
        velocities=vel,
        timestep_fs=1.0,
    )
    return path, pos, vel


def test_round_trip(traj_file):
    path, pos, vel = traj_file
    t = open_trajectory(path, verify=True)
    assert (t.n_frames, t.n_atoms) == (12, 7)
    assert t.species == ("Na", "Si", "S")
    assert np.array_equal(t.positions(), pos)
    assert np.array_equal(t.velocities(2, 5, atoms=[1, 3]), vel[2:5][:, [1, 3]])
    assert t.steps.tolist() == list(range(0, 600, 50))
    assert t.box_A.tolist() == [10.0, 11.0, 12.0]
    assert t.indices_of("S").tolist() == [3, 4, 5, 6]
    assert list(t.iter_chunks(5)) == [(0, 5), (5, 10), (10, 12)]
    assert t.charges.sum() == pytest.approx(0.0)


def test_truncated_file_names_frame(traj_file):
    path, _, _ = traj_file
    t = open_trajectory(path)
    frame_bytes = (os.path.getsize(path) - HEADER_BYTES) // t.n_frames
    os.truncate(path, HEADER_BYTES + 9 * frame_bytes + 100)
    with pytest.raises(TrajectoryError, match=r"t\.gtrj: truncated at frame 9"):
        open_trajectory(path)


def test_corrupted_frame_named(traj_file):
    path, _, _ = traj_file
    t = open_trajectory(path)
    frame_bytes = (os.path.getsize(path) - HEADER_BYTES) // t.n_frames
    with open(path, "r+b") as fh:
        fh.seek(HEADER_BYTES + 4 * frame_bytes + 200)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    open_trajectory(path)  # the size is still right
    with pytest.raises(TrajectoryError, match=r"frame 4 \(step 200\) is corrupted"):
        open_trajectory(path, verify=True)


def test_not_a_trajectory(tmp_path):
    bad = tmp_path / "x.gtrj"
    bad.write_bytes(b"hello" * 2000)
    with pytest.raises(TrajectoryError, match="x.gtrj"):
        open_trajectory(bad)
    with pytest.raises(TrajectoryError, match="no such"):
        open_trajectory(tmp_path / "missing.gtrj")


def test_no_velocities_error(tmp_path):
    p = write_trajectory(tmp_path / "a.gtrj", ["Na"], [0], np.zeros((2, 1, 3)), [5, 5, 5], [0, 1])
    with pytest.raises(TrajectoryError, match="no velocities"):
        open_trajectory(p).velocities()


# --- checksums verified while reading (the default) --------------------------------


def _flip_float(path, frame: int, atom: int, field: str = "pos", delta: float = 0.5):
    """Add ``delta`` to x of ``atom`` in ``frame`` on disk, as a silent bit error would."""
    t = open_trajectory(path, verify="off")
    rec = t._dtype
    header_len = os.path.getsize(path) - t.n_frames * rec.itemsize
    offset = header_len + frame * rec.itemsize + rec.fields[field][1] + 12 * atom
    with open(path, "r+b") as fh:
        fh.seek(offset)
        old = np.frombuffer(fh.read(4), dtype="<f4")[0]
        fh.seek(offset)
        fh.write(np.float32(old + delta).astype("<f4").tobytes())
    return float(old)


def test_stream_verification_names_the_frame_when_first_read(traj_file):
    path, pos, vel = traj_file
    old = _flip_float(path, frame=7, atom=3)
    assert old == pos[7, 3, 0]
    t = open_trajectory(path)  # default: stream verification; nothing read yet
    assert np.array_equal(t.positions(0, 7), pos[:7])  # frames before 7 are intact
    with pytest.raises(TrajectoryError, match=r"t\.gtrj: frame 7 \(step 350\) is corrupted"):
        t.positions(5, 9, atoms=[0])  # another atom of the same frame: still found
    with pytest.raises(TrajectoryError, match=r"t\.gtrj: frame 7 \(step 350\)"):
        open_trajectory(path).velocities()  # the CRC covers velocities and positions


def test_corrupted_velocity_found_when_positions_are_read(traj_file):
    path, _, _ = traj_file
    _flip_float(path, frame=2, atom=0, field="vel")
    with pytest.raises(TrajectoryError, match=r"t\.gtrj: frame 2 \(step 100\) is corrupted"):
        open_trajectory(path).positions()


def test_verify_modes(traj_file):
    path, pos, _ = traj_file
    t = open_trajectory(path)
    t.positions(0, 4)
    assert not t.fully_verified
    t.positions()
    assert t.fully_verified
    _flip_float(path, frame=11, atom=6)
    with pytest.raises(TrajectoryError, match=r"frame 11 \(step 550\)"):
        open_trajectory(path, verify="all")  # every frame now, before any read
    raw = open_trajectory(path, verify="off").positions()  # the explicit opt-out
    assert raw[11, 6, 0] == np.float32(pos[11, 6, 0] + 0.5)
    with pytest.raises(ValueError, match="verify"):
        open_trajectory(path, verify="sometimes")


def test_non_finite_coordinates_named(tmp_path):
    pos = np.zeros((6, 2, 3), dtype=np.float32)
    pos[4, 1, 2] = np.nan  # a blown-up run: the CRC is right, the number is not
    p = write_trajectory(tmp_path / "n.gtrj", ["Na"], [0, 0], pos, [5, 5, 5], np.arange(6) * 0.1)
    t = open_trajectory(p)
    assert np.array_equal(t.positions(0, 4), pos[:4])
    with pytest.raises(TrajectoryError, match=r"n\.gtrj: frame 4 \(step 400\) has non-finite pos"):
        t.positions()


def test_multi_block_header_round_trip(tmp_path):
    """Headers longer than one block (here 600 atoms) are read without reading frames."""
    rng = np.random.default_rng(1)
    pos = rng.normal(size=(3, 600, 3)).astype(np.float32)
    p = write_trajectory(tmp_path / "big.gtrj", ["Na"], np.zeros(600), pos, [9] * 3, [0, 1, 2])
    with open(p, "rb") as fh:
        assert b"\n" not in fh.read(HEADER_BYTES)  # the header really spans blocks
    t = open_trajectory(p)
    assert t.n_atoms == 600 and np.array_equal(t.positions(), pos)


def _glass_run(tmp_path, n_frames=120):
    """A small Na-Si-S 'run': random walks (Na faster), velocities, run.json keys."""
    import json

    rng = np.random.default_rng(1)
    types = np.repeat([0, 1, 2], [20, 10, 30])
    box = 14.0
    scale = np.where(types == 0, 0.15, 0.03)[None, :, None]
    pos = rng.uniform(0, box, (types.size, 3)) + np.cumsum(
        rng.normal(size=(n_frames, types.size, 3)) * scale, axis=0
    )
    path = write_trajectory(
        tmp_path / "trajectory.gtrj",
        ("Na", "Si", "S"),
        types,
        pos,
        [box] * 3,
        np.arange(n_frames) * 0.05,
        charges=np.select([types == 0, types == 1], [0.6, 2.4], -1.0),
        masses=np.select([types == 0, types == 1], [22.99, 28.09], 32.06),
        velocities=rng.normal(size=(n_frames, types.size, 3)),
    )
    keys = {"campaign": "t", "x": 0.5, "m": 2.0, "T_K": 1000.0, "replica": 1}
    run_json = tmp_path / "run.json"
    run_json.write_text(json.dumps(keys | {"comp": "x0.50_m2.00"}))
    return path, run_json


def test_analysis_entry_point_verifies_checksums(tmp_path, tiny_config):
    from glassflow.analysis.runs import analyse_production_run
    from glassflow.analysis.structure.tables import load_trajectory_frames

    path, run_json = _glass_run(tmp_path)
    settings = tiny_config["analysis"]
    tables = analyse_production_run(path, run_json, settings)  # intact: analysed
    assert sorted(tables["dynamics_summary"]["species"]) == ["Na", "S", "Si"]
    assert len(tables["structure_gr"]) > 0
    _flip_float(path, frame=57, atom=41)
    with pytest.raises(TrajectoryError, match=r"trajectory\.gtrj: frame 57 \(step 2850\)"):
        analyse_production_run(path, run_json, settings)
    # the structure reader alone (strided frames 0, 3, ..., 57, ...) finds it too
    with pytest.raises(TrajectoryError, match=r"trajectory\.gtrj: frame 57 "):
        load_trajectory_frames(str(path), max_frames=40)
