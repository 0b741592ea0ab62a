"""Preflight: does the configured LAMMPS have what the campaign needs?

Before any MD job runs, the workflow's ``preflight`` job (workflow/rules/md.smk) runs
``<engine.command> -h`` in the MD rules' own environment (conda env or modules, on a
cluster node), parses the help text and checks

- the packages: KSPACE (``pair_style buck/coul/long`` and the kspace solvers live
  there) and the accelerator's package (OPENMP, GPU or KOKKOS);
- the styles the inputs use with the accelerator's suffix: ``buck/coul/long/<sfx>``
  and ``<kspace_style>/<sfx>`` (``ewald`` has no GPU or KOKKOS variant: the plain
  style is required there, and kokkos + ewald is refused by the config check);
- given the potential, the pair styles its form writes
  (:func:`glassflow.md.potential.required_pair_styles`): the Coulomb-carrying style
  (``born/coul/long``, ``coul/long`` ...) with the suffix, and ``hybrid/overlay``,
  ``table``, ``morse``, ``lj/cut`` or a pass-through style (``mliap``, ``pace`` ...)
  and its hybrid sub-styles as named; a pass-through style without ``kspace`` needs
  neither KSPACE nor a kspace style;
- the launcher (``srun``/``mpiexec``) is on PATH.

A missing piece stops the campaign with a message naming the config key
(``engine.command``, ``engine.accelerator``, ``engine.kspace_style``,
``engine.launcher`` or ``system.potential``) and what is missing. The help text is
cached per executable (path, size, mtime) and environment (loaded modules, conda prefix).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glassflow.md.lammps import (
    ACCELERATOR_PACKAGE,
    ACCELERATOR_SUFFIX,
    KSPACE_WITHOUT_VARIANT,
    PAIR_STYLE,
    Engine,
    lammps_environment,
    resolve_executable,
)
from glassflow.md.potential import PairStyles, Potential, required_pair_styles

#: The LAMMPS package of pair buck/coul/long and kspace ewald/pppm.
BASE_PACKAGE = "KSPACE"
_SECTION = re.compile(r"^\*\s+(.+?)\s+styles\s*:?\s*$")
_VERSION = re.compile(r"Large-scale Atomic/Molecular Massively Parallel Simulator\s*-\s*(.+?)\s*$")


class PreflightError(RuntimeError):
    """The LAMMPS of ``engine.command`` cannot run this campaign (message names the key)."""


@dataclass(frozen=True)
class LammpsBuild:
    """What ``lmp -h`` reports: version, installed packages, styles by kind ("pair", ...)."""

    version: str = ""
    packages: frozenset[str] = frozenset()
    styles: Mapping[str, frozenset[str]] = field(default_factory=dict)


def parse_help(text: str) -> LammpsBuild:
    """Parse the output of ``lmp -h``.

    Packages are the words between "Installed packages:" and the next blank line after
    them; styles are the words under each ``* <Kind> styles:`` header up to the next
    ``*`` header (kinds lower case: "pair", "kspace", "fix", ...).
    """
    version = ""
    packages: set[str] = set()
    styles: dict[str, set[str]] = {}
    in_packages = False
    seen_package_words = False
    kind: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not version and (m := _VERSION.search(stripped)):
            version = m.group(1)
        if stripped.startswith("Installed packages"):
            in_packages, seen_package_words, kind = True, False, None
            continue
        if in_packages:
            if stripped:
                packages.update(stripped.split())
                seen_package_words = True
            elif seen_package_words:
                in_packages = False
            continue
        if stripped.startswith("*"):
            m = _SECTION.match(stripped)
            kind = m.group(1).lower() if m else None
            if kind is not None:
                styles.setdefault(kind, set())
            continue
        if kind is not None and stripped:
            if stripped.startswith(("List of", "Please see", "For more")):
                kind = None
                continue
            styles[kind].update(stripped.split())
    return LammpsBuild(
        version=version,
        packages=frozenset(packages),
        styles={k: frozenset(v) for k, v in styles.items()},
    )


#: The styles of the shipped form (plain Buckingham + Coulomb).
BUCKINGHAM_STYLES = PairStyles(PAIR_STYLE, (), f"pair_style {PAIR_STYLE} <engine.cutoff_A>", True)


def required_styles(
    engine: Engine, kspace_style: str, pair_styles: PairStyles = BUCKINGHAM_STYLES
) -> dict[str, str]:
    """Styles the rendered inputs use with the accelerator's ``-sf`` suffix.

    Returns ``{"pair": ..., "kspace": ...}``: the Coulomb-carrying pair style of
    ``pair_styles`` (``buck/coul/long`` by default) with the suffix, or a pass-through
    style as named; no "kspace" when the potential needs none. kokkos on host threads
    (gpus 0) uses the ``kk`` styles too; ``ewald`` with gpu/kokkos stays plain (no
    variant exists).
    """
    sfx = ACCELERATOR_SUFFIX[engine.accelerator]
    out: dict[str, str] = {}
    if pair_styles.accelerated is None:
        out["pair"] = pair_styles.plain[0]
    else:
        out["pair"] = f"{pair_styles.accelerated}/{sfx}" if sfx else pair_styles.accelerated
    if pair_styles.kspace:
        no_variant = kspace_style in KSPACE_WITHOUT_VARIANT.get(engine.accelerator, ())
        out["kspace"] = f"{kspace_style}/{sfx}" if sfx and not no_variant else kspace_style
    return out


def potential_style_problems(
    build: LammpsBuild, pair_styles: PairStyles, command: str, source: str
) -> list[str]:
    """``system.potential``: every plain style of ``pair_styles`` that ``build`` lacks,
    named with the LAMMPS command of the potential that asks for it."""
    have = build.styles.get("pair", frozenset())
    return [
        f"system.potential: {command} has no pair style {style}, which {source} asks for "
        f"with the LAMMPS command '{pair_styles.command}'"
        for style in pair_styles.plain
        if style not in have
    ]


def build_problems(
    build: LammpsBuild,
    engine: Engine,
    kspace_style: str,
    command: str,
    potential: Potential | None = None,
) -> list[str]:
    """Why ``build`` cannot run the campaign, one message per problem naming its key.

    Without ``potential`` the shipped Buckingham + Coulomb form is assumed.
    """
    out: list[str] = []
    installed = ", ".join(sorted(build.packages)) or "none found"
    styles = BUCKINGHAM_STYLES if potential is None else required_pair_styles(potential)
    if styles.kspace and BASE_PACKAGE not in build.packages:
        out.append(
            f"engine.command: {command} lacks the LAMMPS package {BASE_PACKAGE} (pair "
            f"{styles.accelerated or styles.plain[0]} and kspace {kspace_style}); installed "
            f"packages: {installed}"
        )
    package = ACCELERATOR_PACKAGE[engine.accelerator]
    if package is not None and package not in build.packages:
        out.append(
            f"engine.accelerator: {engine.accelerator} needs the LAMMPS package {package}, "
            f"which {command} does not have (installed packages: {installed}); use a LAMMPS "
            "built with it (engine.command, engine.modules or engine.conda_env) or another "
            "accelerator"
        )
    wanted = required_styles(engine, kspace_style, styles)
    if styles.accelerated is None:
        del wanted["pair"]  # a pass-through style: checked as named below
    # a plain style missing is the build's fault, a suffixed one the accelerator's
    pair_key = "engine.accelerator" if engine.accelerator != "none" else "engine.command"
    keys = {"pair": pair_key, "kspace": "engine.kspace_style"}
    for kind, style in wanted.items():
        have = build.styles.get(kind, frozenset())
        if style not in have and not (package is not None and package not in build.packages):
            out.append(
                f"{keys[kind]}: {command} has no {kind} style {style} (needed for "
                f"accelerator {engine.accelerator}, kspace_style {kspace_style})"
            )
    if potential is not None:
        source = f"the potential file {potential.source or potential.name}"
        out += potential_style_problems(build, styles, command, source)
    return out


def launcher_problems(engine: Engine) -> list[str]:
    """``engine.launcher``: the MPI launcher must be found on PATH."""
    if engine.launcher == "none":
        return []
    exe = resolve_executable(engine.launcher)
    if not (os.path.isabs(exe) and os.access(exe, os.X_OK)):
        return [f"engine.launcher: {engine.launcher} is not on PATH in the MD environment"]
    return []


def cache_key(executable: str) -> str:
    """Key of a help text: executable path, size, mtime and the environment around it."""
    try:
        st = os.stat(executable)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    env = [os.environ.get(k, "") for k in ("LOADEDMODULES", "CONDA_PREFIX", "VIRTUAL_ENV")]
    text = "\0".join([executable, stamp, *env])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lammps_help(command: list[str], cache_dir: Path | None = None, timeout: float = 120.0) -> str:
    """Output of ``<command> -h`` (PreflightError naming engine.command if it fails)."""
    exe = resolve_executable(command[0])
    argv = [exe, *command[1:], "-h"]
    cached = None
    if cache_dir is not None:
        cached = cache_dir / f"{cache_key(exe)}.txt"
        if cached.is_file():
            return cached.read_text()
    if not os.path.isabs(exe) or shutil.which(exe) is None:
        raise PreflightError(
            f"engine.command: {command[0]!r} is not an executable on PATH in the MD "
            "environment (load its module with engine.modules, or give an absolute path)"
        )
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env=lammps_environment(1),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise PreflightError(f"engine.command: {' '.join(argv)} could not run: {err}") from err
    text = proc.stdout + proc.stderr
    if proc.returncode != 0 or "Installed packages" not in text:
        tail = "\n".join(text.splitlines()[-10:])
        raise PreflightError(
            f"engine.command: {' '.join(argv)} exited with code {proc.returncode} without "
            f"listing its packages; last lines:\n{tail}"
        )
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".part")
        tmp.write_text(text)
        tmp.replace(cached)
    return text


def preflight(
    engine: Engine,
    kspace_style: str,
    cache_dir: Path | None = None,
    potential: Potential | None = None,
) -> dict[str, Any]:
    """Check the LAMMPS of ``engine`` for this campaign; a report, or PreflightError.

    With ``potential`` (the campaign's, :func:`glassflow.md.potential.load_potential`)
    its pair styles are checked too; without it the shipped Buckingham + Coulomb form
    is assumed. The error lists every problem found, each naming its config key.
    """
    problems = launcher_problems(engine)
    text = lammps_help(list(engine.command), cache_dir)
    build = parse_help(text)
    exe = resolve_executable(engine.command[0])
    problems += build_problems(build, engine, kspace_style, exe, potential)
    if problems:
        raise PreflightError(
            "LAMMPS preflight failed, no MD job was started:\n  " + "\n  ".join(problems)
        )
    styles = BUCKINGHAM_STYLES if potential is None else required_pair_styles(potential)
    extra: dict[str, Any] = {}
    if potential is not None:
        extra["potential_pair_styles"] = {
            "command": styles.command,
            "styles": list(styles.plain),
        }
    return {
        **extra,
        "command": list(engine.command),
        "executable": exe,
        "lammps_version": build.version,
        "accelerator": engine.accelerator,
        "launcher": engine.launcher,
        "kspace_style": kspace_style,
        "packages": sorted(build.packages),
        "styles_checked": required_styles(engine, kspace_style, styles),
        "modules": list(engine.modules),
        "loaded_modules": os.environ.get("LOADEDMODULES", ""),
        "conda_prefix": os.environ.get("CONDA_PREFIX", ""),
    }


def preflight_settings(eng: Mapping[str, Any]) -> dict[str, Any]:
    """What the preflight result depends on (its rule params; the rerun trigger).

    The command's first word is resolved on the submitting host so that ``lmp`` and
    its absolute path are the same; threads, ranks and GPU counts are left out (they
    change no package or style), except whether kokkos runs on GPUs.
    """
    command = [resolve_executable(eng["command"][0]), *eng["command"][1:]]
    return {
        "command": command,
        "accelerator": eng["accelerator"],
        "kokkos_on_gpus": eng["accelerator"] == "kokkos" and int(eng["gpus"]) > 0,
        "kspace_style": eng["kspace_style"],
        "launcher": eng["launcher"],
    }


def write_report(report: Mapping[str, Any], path: str | Path) -> None:
    """The preflight report as JSON, written through a ``.part`` file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
