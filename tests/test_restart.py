"""A production run killed half way resumes from its newest restart file.

The resumed trajectory must hold exactly the configured frames (no duplicate, no
missing time stamp), like an uninterrupted run, with thermodynamic averages equal
within statistical error.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glassflow.config.grid import build_campaign
from glassflow.io.trajectory import open_trajectory
from glassflow.md.cell import build_random_cell, write_lammps_data
from glassflow.md.checksums import physics_text
from glassflow.md.engines.lammps_restart import key_changes, production_thermo, restart_files
from glassflow.md.engines.lammps_run import run_melt_quench, run_production, run_segment
from glassflow.md.engines.lammps_version import lammps_executable_version
from glassflow.md.lammps import Engine, force_field_context
from glassflow.md.run_lock import read_holder
from glassflow.md.segments import Segment
from glassflow.md.stitching import expected_frames, stitch_thermo, stitch_trajectories

pytestmark = [pytest.mark.lammps, pytest.mark.slow]

DRIVER = """
import json, sys
from glassflow.md.lammps import Engine
from glassflow.md.engines.lammps_run import run_production
a = json.loads(sys.argv[1])
run_production(a["workdir"], a["start"], a["context"], a["protocol"], Engine(), a["T_K"],
               a["log"], a["out"])
"""


@pytest.fixture(scope="module")
def glass(tmp_path_factory, lmp_module):
    import yaml
    from conftest import ROOT, SCHEMA, TINY_CONFIG

    camp = build_campaign(yaml.safe_load(TINY_CONFIG.read_text()), SCHEMA, ROOT)
    cr = camp.compositions["x0.50_m2.00"]
    cfg = camp.config
    ctx = force_field_context(
        camp.potential, cr.composition.species, cr.charges_used, cfg["engine"], cfg["protocol"]
    )
    ctx.update(label=cr.label, replica=1, seed=11)
    d = tmp_path_factory.mktemp("glass")
    atoms = build_random_cell(
        cr.composition, cr.charges_used, camp.potential.masses, cr.box_A, 1.5, 5
    )
    write_lammps_data(atoms, d / "cell.data", cr.composition.species)
    run_melt_quench(d, ctx, cfg["protocol"], Engine(), d / "stdout.log")
    protocol = dict(
        cfg["protocol"],
        equilibration_ps=0.2,
        production_ps=8.0,
        dump_interval_fs=50,
        restart_interval_fs=1000,
        dump_velocities=False,
    )
    return d / "glass.data", ctx, protocol


@pytest.fixture(scope="module")
def lmp_module() -> str:
    from conftest import require_lmp

    return require_lmp()


_TIMESTEP = re.compile(rb"ITEM: TIMESTEP\n(\d+)\n")


def _last_dump_step(dump: Path) -> int:
    """Step of the newest frame LAMMPS has begun to write to ``dump``; -1 before the first."""
    try:
        with open(dump, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - 65536))  # a frame of this cell is < 10 kB
            tail = fh.read()
    except FileNotFoundError:
        return -1
    steps = _TIMESTEP.findall(tail)
    return int(steps[-1]) if steps else -1


def _kill_with_complete_restart_files(
    proc: subprocess.Popen, run: Path, at_least: int, timeout_s: float = 600.0
) -> int:
    """SIGKILL a production run once every restart file it wrote is complete.

    How a restart file is known to be complete: within a step LAMMPS writes the dump
    frame and the restart file, closes it, and only then goes on; dump frames are flushed
    as they are written (``dump_modify flush``, on by default). So a frame of a later step
    in the dump means that restart file is whole, and so are the older ones. The run is
    then frozen (SIGSTOP to its process group, LAMMPS included) and, if no newer restart
    file was begun meanwhile, killed (SIGKILL, like a wall-time kill: no clean-up);
    otherwise it continues until that newer one is complete in turn.

    Parameters
    ----------
    proc
        The driver process, started with ``start_new_session=True``.
    run
        Its run directory (``restart.<step>.bin``, ``dump.0.lammpstrj``).
    at_least
        Kill only once a restart file of this step or later is complete.
    timeout_s
        Give up (test failure) after this long.

    Returns
    -------
    int
        Step of the newest restart file, complete, that the killed run leaves.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        code = proc.poll()
        assert code is None, (
            f"production ended (exit code {code}) before it could be killed with a "
            f"complete restart file at step {at_least} or later"
        )
        assert time.monotonic() < deadline, f"no complete restart file after {timeout_s:g} s"
        steps = [step for step, _ in restart_files(run)]
        newest = max(steps, default=-1)
        if newest >= at_least and _last_dump_step(run / "dump.0.lammpstrj") > newest:
            os.killpg(proc.pid, signal.SIGSTOP)  # nothing is written from here on
            time.sleep(0.05)  # a write under way when the signal came has ended
            if max(step for step, _ in restart_files(run)) == newest:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                # LAMMPS leads its own process group and gets SIGTERM when its parent
                # dies (PDEATHSIG): a resume may start only once it is gone
                holder = read_holder(run)
                while holder is not None and holder.lammps_alive():
                    assert time.monotonic() < deadline, "LAMMPS outlived its killed driver"
                    time.sleep(0.01)
                return newest
            os.killpg(proc.pid, signal.SIGCONT)  # a newer one was begun: let it complete
        time.sleep(0.01)


def _production(workdir: Path, glass):
    start, ctx, protocol = glass
    workdir.mkdir(parents=True, exist_ok=True)
    return dict(
        workdir=str(workdir),
        start=str(start),
        context=ctx,
        protocol=protocol,
        T_K=2000.0,
        log=str(workdir / "stdout.log"),
        out=str(workdir / "trajectory.gtrj"),
    )


def test_killed_run_resumes_with_exact_frames(glass, tmp_path):
    args = _production(tmp_path / "killed", glass)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps(args)], env=env, start_new_session=True
    )
    workdir = Path(args["workdir"])
    newest = _kill_with_complete_restart_files(proc, workdir, at_least=3000)
    assert not Path(args["out"]).exists(), "a killed run must not leave a trajectory"
    steps = sorted(step for step, _ in restart_files(workdir))
    assert steps == list(range(1000, newest + 1, 1000)), steps
    # write a corrupt "newest" restart file: resuming must fall back to a valid one
    bogus = workdir / f"restart.{newest + 1000}.bin"
    bogus.write_bytes(b"\0" * 100)

    info = run_production(
        workdir,
        args["start"],
        args["context"],
        args["protocol"],
        Engine(),
        2000.0,
        args["log"],
        args["out"],
    )
    assert info["resumed_from_step"] == newest  # the newest complete one, not the corrupt one
    assert info["n_lammps_runs"] == 2
    resumed = open_trajectory(args["out"], verify=True)

    ref_args = _production(tmp_path / "reference", glass)
    run_production(
        Path(ref_args["workdir"]),
        ref_args["start"],
        ref_args["context"],
        ref_args["protocol"],
        Engine(),
        2000.0,
        ref_args["log"],
        ref_args["out"],
    )
    ref = open_trajectory(ref_args["out"], verify=True)

    n = expected_frames(args["protocol"])
    assert resumed.n_frames == ref.n_frames == n == 161
    assert np.array_equal(resumed.steps, ref.steps)
    assert np.array_equal(resumed.steps, np.arange(n) * 50)
    # frames before the restart point are the same run
    k = info["resumed_from_step"] // 50
    assert np.array_equal(resumed.positions(0, k), ref.positions(0, k))
    # no leftovers that look like outputs or checkpoints
    assert not list(workdir.glob("restart.*.bin")) and not list(workdir.glob("dump.*"))

    def stats(wd):
        th = production_thermo(wd, 1.0)
        prod = th[th.stage == "production"]
        assert prod["step"].is_unique and prod["step"].is_monotonic_increasing
        return prod

    a, b = stats(workdir), stats(Path(ref_args["workdir"]))
    # time continues through the resume (LAMMPS restarts `time` at 0 after read_restart
    # of a periodic restart file; the table takes it from the step)
    np.testing.assert_array_equal(a["time_ps"].to_numpy(), b["time_ps"].to_numpy())
    np.testing.assert_allclose(np.diff(a["time_ps"].to_numpy()), 0.1, rtol=1e-12)
    assert len(a) == len(b) == 8000 // glass[1]["thermo_steps"] + 1
    for col in ("temp_K", "pe_kcal_mol"):
        # standard error of each mean from 8 block means (1 ps blocks, decorrelated)
        def sem(v, col=col):
            means = [blk.mean() for blk in np.array_split(v[col].to_numpy(), 8)]
            return np.std(means, ddof=1) / np.sqrt(len(means))

        err = np.hypot(sem(a), sem(b))
        diff = abs(a[col].mean() - b[col].mean())
        assert diff < 4 * err + 1e-9, (col, diff, err)


# --- reruns after a finished, interrupted or changed run ------------------------------------
#
# Layout of every run below: <base>/start.data (the starting structure) and <base>/run (the
# run directory), so the rendered input (which names ``../start.data``) is the same in every
# copy and trajectories of different directories can be compared byte for byte. A killed run
# is made once and copied for each scenario (restart files and state use relative names).

SHORT_PS = 3.0  # production length of the rerun scenarios: restart files at 1000 and 2000


class Interrupted(BaseException):
    """Stands for a kill that arrives while the dumps are being converted."""


def _short_protocol(glass):
    return dict(glass[2], production_ps=SHORT_PS)


def _layout(base: Path, structure: Path) -> Path:
    (base / "run").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(structure, base / "start.data")
    return base


def _run(base: Path, glass, engine: Engine | None = None) -> dict:
    _, ctx, _ = glass
    run = base / "run"
    return run_production(
        run,
        base / "start.data",
        ctx,
        _short_protocol(glass),
        engine or Engine(),
        2000.0,
        run / "stdout.log",
        run / "trajectory.gtrj",
    )


def _traj_bytes(base: Path) -> bytes:
    path = base / "run" / "trajectory.gtrj"
    open_trajectory(path, verify=True)  # every frame's checksum
    return path.read_bytes()


def _log(base: Path) -> str:
    return (base / "run" / "stdout.log").read_text()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def references(glass, tmp_path_factory):
    """Uninterrupted runs from the relaxed glass and from a different structure (the melt)."""
    glass_file = glass[0]
    out = {}
    for name, structure in (("glass", glass_file), ("melt", glass_file.with_name("melt.data"))):
        base = _layout(tmp_path_factory.mktemp(f"ref_{name}"), structure)
        info = _run(base, glass)
        assert info["resumed_from_step"] is None and info["n_lammps_runs"] == 1
        out[name] = base
    assert _traj_bytes(out["glass"]) != _traj_bytes(out["melt"])
    return out


@pytest.fixture(scope="module")
def killed(glass, tmp_path_factory):
    """A production run from the glass, SIGKILLed when its restart files are complete: the
    one at step 1000 and, if the run got that far first, the one at 2000."""
    base = _layout(tmp_path_factory.mktemp("killed"), glass[0])
    run = base / "run"
    args = dict(
        workdir=str(run),
        start=str(base / "start.data"),
        context=glass[1],
        protocol=_short_protocol(glass),
        T_K=2000.0,
        log=str(run / "stdout.log"),
        out=str(run / "trajectory.gtrj"),
    )
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps(args)], env=env, start_new_session=True
    )
    newest = _kill_with_complete_restart_files(proc, run, at_least=1000)
    assert newest in (1000, 2000), newest  # the run ends at 3000
    assert not (run / "trajectory.gtrj").exists()
    assert sorted(step for step, _ in restart_files(run)) == list(range(1000, newest + 1, 1000))
    return base


def _assert_clean_start(info, base, references, ref="glass"):
    assert info["resumed_from_step"] is None and info["n_lammps_runs"] == 1
    assert _traj_bytes(base) == _traj_bytes(references[ref])
    run = base / "run"
    assert not list(run.glob("restart.*.bin")) and not list(run.glob("dump.*"))


def test_finished_run_whose_trajectory_was_deleted_reruns(glass, references, tmp_path):
    """`--forcerun production`, a deleted or corrupted trajectory: Snakemake deletes the outputs
    of a finished run and asks for it again; the dumps are gone, so it must start over."""
    base = _copy(references["glass"], tmp_path / "finished")
    (base / "run" / "trajectory.gtrj").unlink()
    info = _run(base, glass)
    _assert_clean_start(info, base, references)
    # and once more, now with the trajectory still in place
    _assert_clean_start(_run(base, glass), base, references)


def test_state_claims_completion_but_dumps_are_gone(glass, references, tmp_path, monkeypatch):
    """Killed after LAMMPS finished, during the dump conversion: the dumps are reconverted
    without running LAMMPS again; if the dumps were deleted meanwhile, it starts over."""
    import glassflow.md.engines.lammps_run as lammps_run

    base = _layout(tmp_path / "converting", glass[0])

    def killed_while_converting(*args, **kwargs):
        raise Interrupted

    with monkeypatch.context() as m:
        m.setattr(lammps_run, "dump_to_trajectory", killed_while_converting)
        with pytest.raises(Interrupted):
            _run(base, glass)
    run = base / "run"
    assert (run / "final.data").is_file() and (run / "dump.0.lammpstrj").is_file()
    no_dumps = _copy(base, tmp_path / "no_dumps")

    # dumps still there: only the conversion is redone, LAMMPS is not run again
    lammps_log = (run / "log.lammps").read_text()
    n_commands = _log(base).count("\n$ ")
    info = _run(base, glass)
    assert info["n_lammps_runs"] == 1 and info["resumed_from_step"] is None
    assert _traj_bytes(base) == _traj_bytes(references["glass"])
    assert _log(base).count("\n$ ") == n_commands, "LAMMPS ran again"
    assert (run / "log.lammps").read_text() == lammps_log

    # dumps deleted: start over and complete
    for p in (no_dumps / "run").glob("dump.*"):
        p.unlink()
    info = _run(no_dumps, glass)
    _assert_clean_start(info, no_dumps, references)
    assert "dump" in _log(no_dumps)


def test_killed_run_with_a_new_start_structure_starts_clean(glass, references, killed, tmp_path):
    """The glass was rebuilt while its production was half done: resuming would continue
    the old glass's trajectory; it must start clean and say why."""
    base = _copy(killed, tmp_path / "new_glass")
    shutil.copyfile(glass[0].with_name("melt.data"), base / "start.data")
    info = _run(base, glass)
    _assert_clean_start(info, base, references, ref="melt")
    log = _log(base)
    assert "start_sha256" in log and "starting clean" in log, log[-2000:]
    new = hashlib.sha256((base / "start.data").read_bytes()).hexdigest()
    old = hashlib.sha256(glass[0].read_bytes()).hexdigest()
    assert new in log and old in log


def _recorded_versions(node) -> list[dict]:
    """Dicts of a state document that record a ``lammps_version``."""
    found = []
    if isinstance(node, dict):
        if "lammps_version" in node:
            found.append(node)
        for v in node.values():
            found += _recorded_versions(v)
    elif isinstance(node, list):
        for v in node:
            found += _recorded_versions(v)
    return found


def test_killed_run_with_another_lammps_version_starts_clean(glass, references, killed, tmp_path):
    base = _copy(killed, tmp_path / "new_lammps")
    state_path = base / "run" / "production_state.json"
    state = json.loads(state_path.read_text())
    recorded = _recorded_versions(state)
    assert recorded, f"the production state records no LAMMPS version: {state}"
    for d in recorded:
        d["lammps_version"] = "1 Jan 1999"
    state_path.write_text(json.dumps(state))
    info = _run(base, glass)
    _assert_clean_start(info, base, references)
    log = _log(base)
    assert "lammps_version" in log and "1 Jan 1999" in log, log[-2000:]


def test_killed_run_resumes_after_an_execution_detail_changed(glass, references, killed, tmp_path):
    """Launching LAMMPS differently (here its full path instead of `lmp`, which changes the
    rerun hint written into the input) is not physics: the run resumes."""
    from conftest import require_lmp

    base = _copy(killed, tmp_path / "new_command")
    newest = max(step for step, _ in restart_files(killed / "run"))
    info = _run(base, glass, Engine(command=(require_lmp(),)))
    assert info["resumed_from_step"] == newest, info
    assert info["n_lammps_runs"] == 2
    traj = open_trajectory(base / "run" / "trajectory.gtrj", verify=True)
    ref = open_trajectory(references["glass"] / "run" / "trajectory.gtrj", verify=True)
    assert np.array_equal(traj.steps, ref.steps)
    k = info["resumed_from_step"] // 50  # frames before the restart step: the same run
    assert np.array_equal(traj.positions(0, k), ref.positions(0, k))
    assert "starting clean" not in _log(base)


def test_killed_run_with_unreadable_state_starts_clean(glass, references, killed, tmp_path):
    base = _copy(killed, tmp_path / "bad_state")
    (base / "run" / "production_state.json").write_text('{"segments": [')
    info = _run(base, glass)
    _assert_clean_start(info, base, references)
    assert "unreadable" in _log(base)


def test_killed_run_without_usable_restart_files_starts_clean(glass, references, killed, tmp_path):
    base = _copy(killed, tmp_path / "bad_restarts")
    for p in (base / "run").glob("restart.*.bin"):
        p.write_bytes(b"\0" * 100)
    info = _run(base, glass)
    _assert_clean_start(info, base, references)


def test_killed_run_missing_its_dump_starts_clean(glass, references, killed, tmp_path):
    base = _copy(killed, tmp_path / "no_dump")
    (base / "run" / "dump.0.lammpstrj").unlink()
    info = _run(base, glass)
    _assert_clean_start(info, base, references)


# --- the run key ------------------------------------------------------------------------------


def _fake_lmp(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_lammps_version_is_asked_from_the_executable(tmp_path):
    banner = "\nLarge-scale Atomic/Molecular Massively Parallel Simulator - 2 Aug 2023 - Update 3\n"
    exe = _fake_lmp(tmp_path / "lmp_site", f"printf '{banner}'; echo \"$@\" >> {tmp_path}/calls")
    engine = Engine(command=(str(exe),), launcher="mpiexec", mpi_ranks=4, accelerator="omp")
    assert lammps_executable_version(engine) == "2 Aug 2023 - Update 3"
    assert lammps_executable_version(engine) == "2 Aug 2023 - Update 3"
    # asked once per process, without launcher or accelerator switches
    assert (tmp_path / "calls").read_text() == "-h\n"


@pytest.mark.parametrize(
    "body", ["exit 3", "echo 'no banner here'", "sleep 5"], ids=["fails", "no_banner", "hangs"]
)
def test_lammps_version_unknown_when_it_cannot_be_read(tmp_path, body):
    exe = _fake_lmp(tmp_path / "lmp_odd", body)
    assert lammps_executable_version(Engine(command=(str(exe),)), timeout_s=1.0) == "unknown"
    missing = Engine(command=(str(tmp_path / "not_there"),))
    assert lammps_executable_version(missing) == "unknown"


def test_physics_text_ignores_comments_and_spacing_only():
    a = '# Rerun by hand:  lmp -in in.production.lmp\nmass  1 22.99   # Na\nprint "a # b"\n\n'
    b = '# Rerun by hand:  srun -n 4 lmp_gpu -sf gpu\nmass 1 22.99\nprint "a # b"\n'
    assert physics_text(a) == physics_text(b) == 'mass 1 22.99\nprint "a # b"\n'
    assert physics_text("mass 1 22.99") != physics_text("mass 1 22.98")


def test_key_changes_name_component_and_values():
    old = {"input_sha256": "a", "start_sha256": "b", "seed": 1, "lammps_version": "x"}
    assert key_changes(old, dict(old)) == []
    (change,) = key_changes(old, dict(old, start_sha256="c"))
    assert change == "start_sha256 changed from 'b' to 'c'"
    assert "not recorded" in key_changes({}, old)[0]


# --- a run continued as a second segment -------------------------------------------------------
#
# Segment 2 starts from segment 1's end state (write_restart, then read_restart in a fresh
# LAMMPS process). What we measured with the pinned LAMMPS (serial, Ewald, 150 atoms):
#
# - the restart file holds the exact state (double precision positions, velocities, image
#   flags, step count, elapsed time and the Nose-Hoover thermostat variables), so the
#   continuation starts from the identical state;
# - whether the frames after the boundary stay bitwise equal to an uninterrupted run depends
#   on whether that run also rebuilt its neighbour lists and re-sorted its atoms (LAMMPS
#   sorts every 1000 steps) at the boundary step: at 2000 with restart files every 1000
#   steps they were identical to the last bit up to 4 ps; with restart files every 500
#   steps, boundaries at 1500 and 2000 gave rounding-level departures (2e-7 A after 2 ps
#   at 2000) that grow chaotically (0.25 A after 2.5 ps at 1500);
# - a continuation that lost the thermostat state (a fix with another ID) departs by
#   4e-3 A after 50 fs and 0.65 A after 0.5 ps.
#
# So the test asserts what holds in general: segment 1 is bit for bit the uninterrupted run,
# frames and time stamps are those of one run of the same length, nothing repeated, and the
# continuation stays within 1e-4 A of the uninterrupted run for 0.5 ps after the boundary.


def test_second_segment_continues_the_first_exactly(glass, tmp_path):
    start, ctx, protocol = glass
    protocol = dict(protocol, production_ps=4.0)  # restart files every 1000 steps
    ref_dir = tmp_path / "one_run"
    ref_dir.mkdir()
    run_production(
        ref_dir, start, ctx, protocol, Engine(), 2000.0, ref_dir / "stdout.log",
        ref_dir / "trajectory.gtrj",
    )  # fmt: skip
    s1, s2 = tmp_path / "seg1", tmp_path / "seg2"
    infos = []
    for k, wd, first in ((1, s1, Path(start)), (2, s2, s1 / "end.restart")):
        wd.mkdir()
        seg = Segment(k, 2000 * (k - 1), 2000 * k, first)
        infos.append(
            run_segment(
                wd, seg, ctx, protocol, Engine(), 2000.0, wd / "stdout.log",
                wd / "frames.gtrj", end_restart_out=wd / "end.restart",
            )
        )  # fmt: skip
    assert [i["n_frames"] for i in infos] == [41, 40]  # step 2000 only in segment 1
    assert (s2 / "end.restart").is_file() and not list(s2.glob("restart.*.bin"))
    assert "read_restart    ../seg1/end.restart" in (s2 / "in.production.lmp").read_text()
    stitched = tmp_path / "stitched.gtrj"
    assert stitch_trajectories([s1 / "frames.gtrj", s2 / "frames.gtrj"], stitched) == 81

    ref = open_trajectory(ref_dir / "trajectory.gtrj", verify=True)
    two = open_trajectory(stitched, verify=True)
    assert two.n_frames == ref.n_frames == expected_frames(protocol) == 81
    np.testing.assert_array_equal(two.steps, ref.steps)
    np.testing.assert_array_equal(two.times_ps, ref.times_ps)
    # segment 1 (steps 0..2000): the uninterrupted run, bit for bit
    np.testing.assert_array_equal(two.positions(0, 41), ref.positions(0, 41))
    # the continuation (steps 2050..2500) starts from the identical state
    dx = np.abs(two.positions(41, 51) - ref.positions(41, 51)).max()
    assert dx <= 1e-4, dx
    print(
        f"largest departure from one run: {dx:.3g} A (0.5 ps), "
        f"{np.abs(two.positions() - ref.positions()).max():.3g} A (2 ps after the boundary)"
    )

    # thermo: continuous time, no repeated step, the same rows as the uninterrupted run
    th = stitch_thermo([production_thermo(s1, 1.0), production_thermo(s2, 1.0)])
    th_ref = production_thermo(ref_dir, 1.0)
    prod, prod_ref = (t[t["stage"] == "production"].reset_index(drop=True) for t in (th, th_ref))
    np.testing.assert_array_equal(prod["step"], prod_ref["step"])
    np.testing.assert_array_equal(prod["time_ps"], prod_ref["time_ps"])
    np.testing.assert_allclose(prod["time_ps"], prod["step"] / 1000.0, rtol=1e-12)
    cols = ["temp_K", "pe_kcal_mol", "press_atm"]
    first = prod["step"] <= 2000
    pd.testing.assert_frame_equal(prod.loc[first, cols], prod_ref.loc[first, cols])
