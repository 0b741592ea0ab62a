"""Packed MD runs (cluster.pack): the sbatch request of a packed job, the GPU slots the
runs inside it share, the Slurm states, and the refusals before any job.

The Slurm end-to-end test (16 tiny runs, 4 per allocation, a killed allocation) is
tests/test_slurm_pack.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from glassflow.config.grid import build_campaign
from glassflow.config.schema import ConfigError
from glassflow.md.gpu_share import claimed_gpu, device_slots, gpu_share, visible_devices
from glassflow.md.packing import (
    RUNS_PER_GPU_ENV,
    PackSettings,
    gpu_mem_mb_per_run,
    jobscript_properties,
    pack_problems,
    sbatch_request,
    status_of_state,
    with_cores,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
TINY_PACK = ROOT / "tests" / "data" / "tiny_pack.yaml"


def _group(n_runs: int, gpu_each: int, threads_each: int = 1) -> dict:
    """Properties of a one-layer group of ``n_runs`` productions as Snakemake sums them."""
    return {
        "type": "group",
        "groupid": "pack_run",
        "threads": n_runs * threads_each,
        "resources": {
            "gpu": n_runs * gpu_each,
            "mem_mb": 2000 * n_runs,
            "runtime": 10,
            "slurm_partition": "gpu",
        },
        "output": [
            f"results/c/x0.50_m2.00/T2400/rep{r:02d}/production/{name}"
            for r in range(1, n_runs + 1)
            for name in ("trajectory.gtrj", "thermo.parquet", "run.json")
        ],
    }


@pytest.mark.parametrize(
    ("n_runs", "gpu_each", "per_gpu", "gpus"),
    [
        (4, 1, 4, 1),  # four one-GPU runs on one GPU
        (4, 1, 2, 2),
        (8, 1, 4, 2),
        (5, 1, 4, 2),  # a last, partly filled GPU
        (4, 1, 1, 4),  # no sharing: one GPU per run, as Snakemake sums them
        (4, 2, 1, 8),  # two-GPU runs are never shared
        (4, 0, 4, 0),  # CPU runs ask for no GPU
    ],
)
def test_a_packed_job_asks_for_its_runs_cpus_memory_and_shared_gpus(
    n_runs, gpu_each, per_gpu, gpus
):
    req = sbatch_request(_group(n_runs, gpu_each, threads_each=2), per_gpu, max(1, gpu_each))
    assert (req.cpus, req.mem_mb, req.minutes, req.gpus) == (2 * n_runs, 2000 * n_runs, 10, gpus)
    assert req.runs == n_runs and req.partition == "gpu"
    args = req.args("glassflow-pack_run", "log/%j.log")
    assert args[0] == "--parsable" and f"--cpus-per-task={2 * n_runs}" in args
    assert f"--mem={2000 * n_runs}M" in args and "--time=10" in args
    assert (f"--gres=gpu:{gpus}" in args) == (gpus > 0)
    assert not any(a.startswith("--gres") for a in args) or gpus > 0


def test_a_single_job_is_one_run_with_its_own_request():
    props = {"type": "single", "rule": "preflight", "threads": 1, "resources": {"runtime": 5.2}}
    req = sbatch_request(props, 4, 1)
    assert (req.runs, req.cpus, req.minutes, req.gpus, req.mem_mb) == (1, 1, 6, 0, 1000)


def test_the_job_script_properties_and_cores():
    script = (
        '#!/bin/sh\n# properties = {"type": "group", "threads": 2}\n'
        "cd /w && python -m snakemake --cores 2 --attempt 1\n"
    )
    assert jobscript_properties(script) == {"type": "group", "threads": 2}
    assert "--cores 8 --attempt 1" in with_cores(script, 8)
    assert "--cores 8 " in with_cores(script.replace("--cores 2", "--cores 'all'"), 8)
    with pytest.raises(ValueError, match="--cores"):
        with_cores("#!/bin/sh\necho\n", 8)
    with pytest.raises(ValueError, match="properties"):
        jobscript_properties("#!/bin/sh\necho\n")


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("COMPLETED", "success"),
        ("PENDING", "running"),
        ("RUNNING", "running"),
        ("COMPLETING", "running"),
        ("CANCELLED by 0", "failed"),
        ("CANCELLED+", "failed"),
        ("TIMEOUT", "failed"),
        ("OUT_OF_MEMORY", "failed"),
        ("NODE_FAIL", "failed"),
        ("FAILED", "failed"),
        ("", "failed"),
    ],
)
def test_slurm_states_map_to_snakemake_status_words(state, status):
    assert status_of_state(state) == status


def test_gpu_memory_estimate_and_the_refusals_name_their_key():
    # 500 MB context + 2 kB per atom (docs/slurm.md): 1000 atoms -> 502 MB
    assert gpu_mem_mb_per_run(1000) == pytest.approx(502.0)
    ok = PackSettings(runs_per_job=8, runs_per_gpu=8, gpu_mem_gb=4)  # 8 x 502 = 4016 <= 4096
    assert pack_problems(ok, 1000, True, 1) == []
    (msg,) = pack_problems(PackSettings(9, 9, 4), 1000, True, 1)
    assert "cluster.pack.runs_per_gpu" in msg and "at most 8 fit" in msg
    (msg,) = pack_problems(PackSettings(2, 4), 1000, True, 1)
    assert "cluster.pack.runs_per_gpu" in msg and "cluster.pack.runs_per_job" in msg
    (msg,) = pack_problems(PackSettings(4, 2), 1000, True, 2)
    assert "engine.gpus" in msg
    (msg,) = pack_problems(PackSettings(4, 1), 1000, False, 1, launcher="srun")
    assert "engine.launcher" in msg and "cluster.pack" in msg
    assert pack_problems(PackSettings(4, 1), 1000, False, 1, launcher="mpiexec") == []
    assert pack_problems(None, 1000, True, 1) == []


@pytest.mark.parametrize(
    ("pack", "key"),
    [
        ({"runs_per_job": 0}, "cluster.pack.runs_per_job"),
        ({"runs_per_job": 4, "runs_per_gpu": 0}, "cluster.pack.runs_per_gpu"),
        ({"runs_per_job": 2, "runs_per_gpu": 4}, "cluster.pack.runs_per_gpu"),
        ({"runs_per_job": 4, "runs_per_gpu": 4, "gpu_mem_gb": 1.5}, "cluster.pack.runs_per_gpu"),
        ({"runs_per_gpu": 4}, "cluster.pack"),  # runs_per_job is required
        ({"runs_per_job": 4, "per_node": 2}, "cluster.pack"),
    ],
)
def test_bad_packing_settings_are_refused_with_the_key(pack, key):
    cfg = yaml.safe_load(TINY_PACK.read_text())
    cfg["cluster"] = {"pack": pack}
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_campaign(cfg, SCHEMA, ROOT, check_writable=False)


def test_gpu_slots_go_round_robin_and_are_given_back(tmp_path):
    assert device_slots(["0", "1"], 2) == [("0", 0), ("1", 0), ("0", 1), ("1", 1)]
    held = []
    with claimed_gpu(["0", "1"], 2, tmp_path) as a, claimed_gpu(["0", "1"], 2, tmp_path) as b:
        held += [a, b]
        with claimed_gpu(["0", "1"], 2, tmp_path) as c, claimed_gpu(["0", "1"], 2, tmp_path) as d:
            held += [c, d]
            with (
                pytest.raises(RuntimeError, match="all 4 GPU slots"),
                claimed_gpu(["0", "1"], 2, tmp_path),
            ):
                pass
        # c and d were given back: the next run takes the first free slot again
        with claimed_gpu(["0", "1"], 2, tmp_path) as e:
            assert e == ("0", 1)
    assert held == [("0", 0), ("1", 0), ("0", 1), ("1", 1)]


def test_a_killed_run_gives_its_gpu_slot_back(tmp_path):
    ready = tmp_path / "claimed"
    code = (
        "import sys, time; from glassflow.md.gpu_share import claimed_gpu\n"
        f"with claimed_gpu(['0'], 1, {str(tmp_path / 'locks')!r}) as s:\n"
        f"    open({str(ready)!r}, 'w').write(repr(s)); time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        with (
            pytest.raises(RuntimeError, match="all 1 GPU slots"),
            claimed_gpu(["0"], 1, tmp_path / "locks"),
        ):
            pass
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with claimed_gpu(["0"], 1, tmp_path / "locks") as slot:  # the kernel dropped the lock
        assert slot == ("0", 0)


def test_a_run_in_a_packed_job_sees_only_its_gpu(tmp_path):
    env = {
        RUNS_PER_GPU_ENV: "2",
        "CUDA_VISIBLE_DEVICES": "2,3",
        "SLURM_JOB_ID": "77",
        "TMPDIR": str(tmp_path),
    }
    said = []
    with gpu_share(env, said.append) as first, gpu_share(env) as second:
        assert (first["CUDA_VISIBLE_DEVICES"], second["CUDA_VISIBLE_DEVICES"]) == ("2", "3")
    assert said == ["GPU 2, slot 0 of 2 (packed job 77)"]
    assert (tmp_path / "glassflow-gpu-77").is_dir()
    plain = {"CUDA_VISIBLE_DEVICES": "0"}  # not packed: unchanged
    with gpu_share(plain) as same:
        assert same is plain
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}) == []


def _snakemake(tmp_path, *args, check=False):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    env.pop("SNAKEMAKE_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
         "--configfile", str(TINY_PACK), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=check,
    )  # fmt: skip


def test_the_dry_run_shows_the_packed_groups(tmp_path):
    out = _snakemake(tmp_path, "-n", "--profile", str(ROOT / "profiles" / "slurm-pack"))
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    # 16 productions in 4 jobs, 8 melt-quenches in 2
    assert text.count("Group job pack_run") == 4 and text.count("Group job pack_glass") == 2


def test_packing_without_slurm_is_refused_before_any_job(tmp_path):
    out = _snakemake(tmp_path, "--cores", "1")
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "config key 'cluster.pack'" in text and "profiles/slurm-pack" in text
    assert not (tmp_path / "results").exists()


def test_group_components_that_contradict_the_config_are_refused(tmp_path):
    out = _snakemake(
        tmp_path, "-n", "--profile", str(ROOT / "profiles" / "slurm-pack"),
        "--group-components", "pack_run=2",
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "pack_run=2" in text, text[-3000:]
    assert "cluster.pack.runs_per_job" in text


def test_packing_is_not_physics():
    """Packed and unpacked runs of a campaign share seeds, params and table hashes."""
    from glassflow.config.rule_params import physics_config
    from glassflow.config.schema import load_schema

    schema = load_schema(SCHEMA)
    packed = build_campaign(
        yaml.safe_load(TINY_PACK.read_text()), SCHEMA, ROOT, check_writable=False
    )
    raw = yaml.safe_load(TINY_PACK.read_text())
    del raw["cluster"]
    plain = build_campaign(raw, SCHEMA, ROOT, check_writable=False)
    assert packed.config["cluster"]["pack"]["runs_per_job"] == 4
    assert physics_config(packed.config, schema) == physics_config(plain.config, schema)


def test_the_script_sbatch_runs_sets_cores_runs_per_gpu_and_mps(tmp_path):
    from glassflow.md.packing import MPS_PROLOGUE, SbatchRequest, packed_jobscript

    script = (
        '#!/bin/sh\n# properties = {"type": "group"}\n'
        "cd /w && python -m snakemake --cores 2 --attempt 1\n"
    )
    gpu = SbatchRequest(cpus=8, mem_mb=1, minutes=1, gpus=2)
    out = packed_jobscript(script, gpu, 4, mps=True).splitlines()
    assert out[0] == "#!/bin/sh" and out[1] == f"export {RUNS_PER_GPU_ENV}=4"
    assert out[2 : 2 + len(MPS_PROLOGUE)] == list(MPS_PROLOGUE)
    assert out[-1].endswith("--cores 8 --attempt 1")
    trap = out[2 + len(MPS_PROLOGUE)]
    assert trap.startswith("trap '") and trap.endswith("' EXIT") and "mps-control" in trap
    cpu = SbatchRequest(cpus=4, mem_mb=1, minutes=1, gpus=0)
    cpu_script = packed_jobscript(script, cpu, 4, mps=True)
    assert "nvidia-cuda-mps-control" not in cpu_script
    # the script runs: the trap's quoting holds and it removes the slot locks at exit
    locks = tmp_path / "glassflow-gpu-5"
    locks.mkdir()
    runnable = cpu_script.replace("cd /w && python -m snakemake --cores 4 --attempt 1", "true")
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path), "SLURM_JOB_ID": "5"}
    subprocess.run(["sh", "-c", runnable], env=env, check=True)
    assert not locks.exists()


def test_runs_are_named_into_packs_of_runs_per_job_in_the_order_asked():
    from glassflow.md.packing import RUN_GROUP, PackComponents, Packs

    packs = Packs(RUN_GROUP, 3)
    names = [packs.name(("x0.50_m2.00", "2400", f"{r:02d}")) for r in range(1, 8)]
    assert names == ["pack_run00000"] * 3 + ["pack_run00001"] * 3 + ["pack_run00002"]
    # a run asked for again (its next segment, a rebuilt job) keeps its pack
    assert packs.name(("x0.50_m2.00", "2400", "01")) == "pack_run00000"
    assert packs.name(("x0.50_m3.00", "2400", "01")) == "pack_run00002"
    components = PackComponents({"analysis": 10}, 3)
    assert components.get("pack_run00002", 1) == 3 and components.get("pack_glass00000") == 3
    assert components.get("analysis", 1) == 10 and components.get("other", 1) == 1
