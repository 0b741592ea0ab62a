"""Text dumps of killed runs: a half-written last frame is refused, or skipped when a
resumed run took over before it."""

from pathlib import Path

import numpy as np
import pytest

from glassflow.io.trajectory import open_trajectory
from glassflow.md.lammps_io import TruncatedDumpError, dump_to_trajectory, iter_dump_frames

SPECIES = ("Na", "S")


def _frame(step: int, n: int = 3) -> str:
    lines = [
        "ITEM: TIMESTEP",
        str(step),
        "ITEM: NUMBER OF ATOMS",
        str(n),
        "ITEM: BOX BOUNDS pp pp pp",
        "0 10",
        "0 10",
        "0 10",
        "ITEM: ATOMS id type xu yu zu",
    ]
    lines += [f"{i + 1} {1 + i % 2} {0.1 * step + i} {i} {2 * i}" for i in range(n)]
    return "\n".join(lines) + "\n"


def _dump(path: Path, steps: list[int], tail: str = "") -> Path:
    path.write_text("".join(_frame(s) for s in steps) + tail)
    return path


@pytest.mark.parametrize("cut", [20, len("ITEM: TIMESTEP\n3"), -7])
def test_half_written_last_frame_is_refused(tmp_path, cut):
    dump = _dump(tmp_path / "d", [0, 1, 2], _frame(3)[:cut])
    with pytest.raises(TruncatedDumpError, match="frame 3"):
        list(iter_dump_frames(dump))


def test_frames_after_the_last_kept_step_are_not_read(tmp_path):
    # a killed piece: a complete frame at the restart step (2), then a half-written one
    dump = _dump(tmp_path / "d", [0, 1, 2], _frame(3)[:-7])
    steps = [s for s, *_ in iter_dump_frames(dump, last_step=2)]
    assert steps == [0, 1, 2]
    n = dump_to_trajectory(
        dump, tmp_path / "t.gtrj", SPECIES, [1, -1], [23.0, 32.1], 1.0, max_step=1
    )
    assert n == 2
    traj = open_trajectory(tmp_path / "t.gtrj", verify=True)
    assert traj.steps.tolist() == [0, 1]
    assert np.allclose(traj.positions(1, 2)[0, :, 0], [0.1, 1.1, 2.1])


def test_a_truncated_frame_inside_the_kept_range_is_refused(tmp_path):
    dump = _dump(tmp_path / "d", [0, 1], _frame(2)[:-7])
    with pytest.raises(TruncatedDumpError, match="step 2"):
        dump_to_trajectory(
            dump, tmp_path / "t.gtrj", SPECIES, [1, -1], [23.0, 32.1], 1.0, max_step=5
        )
