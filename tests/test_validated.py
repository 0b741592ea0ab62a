"""The config is validated once per Snakemake process (glassflow.config.validated).

- a config marked by the Snakefile is not validated again by build_campaign(validated=
  True) nor by a script's script_config; a direct build_campaign call validates;
- a config edited after the mark, or a schema file changed since, is validated (and a
  bad value still stops it, naming the key);
- Snakemake hands a script job the very config the Snakefile marked, in a child process
  that sees the mark (a small workflow of its own, no MD).
"""

import copy
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, SCHEMA

import glassflow.config.grid as grid
import glassflow.config.schema as schema_mod
from glassflow.config.grid import build_campaign
from glassflow.config.rule_params import script_config
from glassflow.config.schema import ConfigError, validate_config
from glassflow.config.validated import (
    ENV_VAR,
    config_digest,
    is_marked_validated,
    mark_validated,
)

SCRIPTS = ROOT / "workflow" / "scripts"


@pytest.fixture
def counted(monkeypatch):
    """Counts validate_config calls (the schema pass) wherever they come from."""
    calls = []
    real = schema_mod.validate_config

    def counting(config, schema_path):
        calls.append(1)
        return real(config, schema_path)

    monkeypatch.setattr(schema_mod, "validate_config", counting)
    monkeypatch.setattr(grid, "validate_config", counting)
    monkeypatch.delenv(ENV_VAR, raising=False)
    return calls


def test_marked_config_is_validated_once(tiny_config, tmp_path, counted):
    tiny_config["results_dir"] = str(tmp_path / "results")
    cfg = validate_config(tiny_config, SCHEMA)  # the Snakefile's pass
    mark_validated(cfg, SCHEMA)
    counted.clear()
    camp = build_campaign(cfg, SCHEMA, root=ROOT, validated=True)
    assert script_config(cfg, SCRIPTS) == cfg
    assert counted == []  # neither validated again
    assert camp.config == cfg and camp.config is not cfg  # a copy, as validate_config's
    build_campaign(cfg, SCHEMA, root=ROOT)  # a direct call validates
    assert counted == [1]


def test_unmarked_or_edited_config_is_validated(tiny_config, tmp_path, counted):
    tiny_config["results_dir"] = str(tmp_path / "results")
    raw = copy.deepcopy(tiny_config)
    # no mark: the raw config gets its defaults
    camp = build_campaign(raw, SCHEMA, root=ROOT, validated=True)
    assert counted == [1] and camp.config["engine"]["command"] == ["lmp"]
    cfg = validate_config(raw, SCHEMA)
    mark_validated(cfg, SCHEMA)
    # a raw config (before coercion and defaults) never carries the mark
    assert not is_marked_validated(raw, SCHEMA)
    # edited after the mark: validated, and the bad value is refused naming the key
    bad = copy.deepcopy(cfg)
    bad["replicas"] = 0
    counted.clear()
    with pytest.raises(ConfigError, match="replicas"):
        build_campaign(bad, SCHEMA, root=ROOT, validated=True)
    with pytest.raises(ConfigError, match="replicas"):
        script_config(bad, SCRIPTS)
    assert counted == [1, 1]


def test_another_schema_breaks_the_mark(tiny_config, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    schema = tmp_path / "config.schema.yaml"
    schema.write_text(SCHEMA.read_text())
    cfg = validate_config(tiny_config, schema)
    mark_validated(cfg, schema)
    assert is_marked_validated(cfg, schema)
    assert config_digest(cfg, schema) != config_digest({**cfg, "seed": cfg["seed"] + 1}, schema)
    schema.write_text(SCHEMA.read_text() + "\n# edited\n")
    assert not is_marked_validated(cfg, schema)


SNAKEFILE = """
import sys
from pathlib import Path
sys.path.insert(0, {src!r})
from glassflow.config.schema import validate_config
from glassflow.config.validated import mark_validated
SCHEMA = Path({schema!r})
config.update(validate_config(config, SCHEMA))
mark_validated(config, SCHEMA)

rule check:
    output: "check.txt"
    params: schema=str(SCHEMA)
    script: "check.py"
"""

SCRIPT = """
from glassflow.config.validated import is_marked_validated
ok = is_marked_validated(snakemake.config, snakemake.params.schema)
open(snakemake.output[0], "w").write("marked" if ok else "not marked")
"""


def test_script_job_sees_the_mark(tiny_config, tmp_path, monkeypatch):
    """Snakemake gives a script job the config the Snakefile marked, with the mark."""
    import yaml

    monkeypatch.delenv(ENV_VAR, raising=False)
    (tmp_path / "Snakefile").write_text(
        textwrap.dedent(SNAKEFILE).format(src=str(ROOT / "src"), schema=str(SCHEMA))
    )
    (tmp_path / "check.py").write_text(textwrap.dedent(SCRIPT))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "c.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **__import__("os").environ,
            "PYTHONPATH": str(ROOT / "src"),
        },
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert (tmp_path / "check.txt").read_text() == "marked"
