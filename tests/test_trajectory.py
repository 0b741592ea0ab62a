"""The compact trajectory format: round trip, chunks, truncation and corruption found."""

import os

import numpy as np
import pytest

from glassflow.trajectory import HEADER_BYTES, TrajectoryError, open_trajectory, write_trajectory


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
