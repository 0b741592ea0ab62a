"""glass.json and run.json record the versions of the software that wrote them."""

from __future__ import annotations

import json
import platform
from importlib import metadata

import numpy as np
import pandas as pd
import pyarrow
import scipy

import glassflow
from glassflow.campaign.tables import run_row, runs_table
from glassflow.io.atomic import write_json_atomic
from glassflow.md.provenance import package_versions, provenance

#: A production run.json as the production rule writes it, without the provenance keys.
RUN = {
    "campaign": "t", "x": 0.5, "m": 2.0, "T_K": 1500, "replica": 1, "comp": "x0.50_m2.00",
    "x_achieved": 0.5, "m_achieved": 2.0, "counts": {"Na": 4, "Si": 2, "S": 6},
    "charges_used": {"Na": 0.6, "Si": 2.4, "S": -1.2},
    "potential_charges": {"Na": 0.6, "Si": 2.4, "S": -1.2}, "net_charge_e": 0.0,
    "neutrality": "exact", "potential": "sorensen2023", "box_A": 9.0, "density_g_cm3": 2.0,
    "protocol": {"production_start": "glass", "production_ps": 4.0, "dump_interval_fs": 20.0,
                 "timestep_fs": 1.0, "melt_T_K": 3000.0},
    "seed": 7, "n_frames": 201, "wall_time_s": 12.0, "glass_wall_time_s": 30.0,
    "mean_temp_K": 1499.0, "mean_press_atm": 1.0e4, "lammps_version": "22 Jul 2025",
    "engine": {"accelerator": "none", "kspace_style": "ewald", "kspace_accuracy": 1e-5,
               "cutoff_A": 7.0},
}  # fmt: skip


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_provenance_records_the_versions_of_this_interpreter(tmp_path):
    doc = provenance()
    versions = doc["versions"]
    assert versions["python"] == platform.python_version() == doc["python"]
    assert versions["glassflow"] == glassflow.__version__
    assert versions["numpy"] == np.__version__ and versions["scipy"] == scipy.__version__
    assert versions["pandas"] == pd.__version__ and versions["pyarrow"] == pyarrow.__version__
    assert versions["snakemake"] == _installed("snakemake")
    write_json_atomic(tmp_path / "run.json", doc)  # plain JSON: strings (or null) only
    assert json.loads((tmp_path / "run.json").read_text())["versions"] == versions


def test_a_distribution_that_is_not_installed_is_null():
    versions = package_versions(("numpy", "glassflow-no-such-distribution"))
    assert versions["glassflow-no-such-distribution"] is None
    assert versions["numpy"] == np.__version__
    assert set(versions) == {"python", "glassflow", "numpy", "glassflow-no-such-distribution"}


def test_runs_table_reads_run_json_with_and_without_versions(tmp_path):
    """The versions are extra keys: the runs table is the same with them (old run.json)."""
    new = dict(RUN, **provenance())
    assert run_row(new) == run_row(dict(RUN, host=new["host"]))
    for name, doc in (("old", RUN), ("new", new)):
        (tmp_path / name).mkdir()
        write_json_atomic(tmp_path / name / "run.json", doc)
    table = runs_table([tmp_path / "old" / "run.json", tmp_path / "new" / "run.json"])
    assert len(table) == 2 and table.loc[0, "n_atoms"] == 12
    assert list(table["host"]) == ["", new["host"]]  # same run keys: input order kept
