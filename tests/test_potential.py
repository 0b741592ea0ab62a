"""Potential files: the shipped one loads; malformed or hostile ones are refused with a
message naming the file, the key and what was expected (schema
src/glassflow/md/schemas/potential.schema.yaml plus the pair checks of glassflow.md.potential)."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from conftest import TABLE_1

from glassflow.md.potential import (
    PotentialFileError,
    buckingham_energy,
    load_potential,
    potential_schema,
)
from glassflow.safety import TEXT_PATTERN

SHIPPED = "config/potentials/sorensen2023.yaml"


@pytest.fixture
def base(root) -> dict:
    return yaml.safe_load((root / SHIPPED).read_text(encoding="utf-8"))


def write(tmp_path, doc=None, text=None, name="pot.yaml"):
    path = tmp_path / name
    path.write_text(
        text if text is not None else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8"
    )
    return path


def refused(path) -> str:
    with pytest.raises(PotentialFileError) as info:
        load_potential(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg  # every message names the file first
    return msg


# standard atomic weights (g/mol), docs/physics.md §2
MASSES = {"Na": 22.98977, "Si": 28.0855, "S": 32.06}


def test_shipped_potential_loads_with_table_1_values(root):
    pot = load_potential(root / SHIPPED)
    assert pot.name == "sorensen2023"
    assert pot.charges == {"Na": 0.6, "Si": 2.4, "S": -1.2}
    assert pot.masses == MASSES
    for (a, b), (a_kcal, rho, c) in TABLE_1.items():
        for pair in (pot.pair(a, b), pot.pair(b, a)):
            got = (pair.A_kcal_mol, pair.rho_A, pair.C_kcal_A6_mol)
            assert got == (a_kcal, rho, c), f"{a}-{b}"
    assert "Table 1" in pot.citation and "docs/physics.md §2" in pot.citation
    text = (root / SHIPPED).read_text(encoding="utf-8")
    # the shipped file cites the paper and the repository's docs, never a path outside it
    assert not any(outside in text for outside in ("../", "/work/"))
    # S-S at 3 Å: 482620.301 exp(-3/0.284) - 3317.512/3^6 = 12.4735 - 4.5508 kcal/mol
    assert buckingham_energy(3.0, pot.pair("S", "S")) == pytest.approx(7.9227, abs=1e-3)


def test_schema_citation_pattern_is_the_safety_pattern():
    assert potential_schema()["properties"]["citation"]["pattern"] == TEXT_PATTERN


def _drop(d, *keys):
    for k in keys[:-1]:
        d = d[k]
    del d[keys[-1]]


def _set(d, value, *keys):
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = value


MALFORMED = {
    "missing pair": (
        lambda d: _drop(d, "pairs", "Na-Si"),
        r"key 'pairs\.Na-Si': missing; expected A, rho, C for every pair of the species",
    ),
    "non-numeric A": (
        lambda d: _set(d, "big", "pairs", "Na-S", "A"),
        r"key 'pairs\.Na-S\.A': got 'big' \(str\); expected a number >= 0",
    ),
    "rho as YAML 1.1 text": (
        lambda d: _set(d, "1e-1", "pairs", "Na-S", "rho"),
        r"key 'pairs\.Na-S\.rho': got '1e-1' \(str\); expected a number > 0.*write 1\.0e5",
    ),
    "non-numeric C": (
        lambda d: _set(d, [1.0], "pairs", "S-S", "C"),
        r"key 'pairs\.S-S\.C': got \[1\.0\] \(list\); expected a number >= 0",
    ),
    "negative rho": (
        lambda d: _set(d, -0.1, "pairs", "S-S", "rho"),
        r"key 'pairs\.S-S\.rho': got -0\.1; expected a number > 0, the repulsion length",
    ),
    "zero mass": (
        lambda d: _set(d, 0, "species", "Na", "mass"),
        r"key 'species\.Na\.mass': got 0; expected a number > 0, the atomic mass in g/mol",
    ),
    "missing charge": (
        lambda d: _drop(d, "species", "Si", "charge"),
        r"key 'species\.Si\.charge': missing; expected a number, the charge in e",
    ),
    "missing mass": (
        lambda d: _drop(d, "species", "S", "mass"),
        r"key 'species\.S\.mass': missing; expected a number > 0, the atomic mass",
    ),
    "unknown top-level key": (
        lambda d: _set(d, "x", "comment"),
        r"key 'comment': unknown key; expected only name, citation, units, style, species",
    ),
    "unknown pair key": (
        lambda d: _set(d, 0.0, "pairs", "Na-S", "D"),
        r"key 'pairs\.Na-S\.D': unknown key; expected only A, rho, C",
    ),
    "missing name": (
        lambda d: _drop(d, "name"),
        r"key 'name': missing; expected a safe name",
    ),
    "other units": (
        lambda d: _set(d, "metal", "units"),
        r"key 'units': got 'metal'; expected LAMMPS units of the parameters: 'real'",
    ),
    "bad element symbol": (
        lambda d: _set(d, {"charge": 1.0, "mass": 7.0}, "species", "li"),
        r"key 'species\.li': not a valid key here; expected an element symbol",
    ),
    "pair of an undefined species": (
        lambda d: _set(d, {"A": 1.0, "rho": 0.1, "C": 0.0}, "pairs", "Na-K"),
        r"key 'pairs\.Na-K': species 'K' not defined; expected a pair of the species",
    ),
    "pair given twice": (
        lambda d: _set(d, {"A": 1.0, "rho": 0.1, "C": 0.0}, "pairs", "S-Na"),
        r"key 'pairs\.S-Na': the same pair as 'pairs\.Na-S'; expected each pair once",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_names_file_key_and_expectation(tmp_path, base, case):
    change, expect = MALFORMED[case]
    doc = copy.deepcopy(base)
    change(doc)
    msg = refused(write(tmp_path, doc))
    assert re.search(expect, msg), msg


def test_every_problem_is_reported_at_once(tmp_path, base):
    doc = copy.deepcopy(base)
    doc["pairs"]["Na-S"]["A"] = "big"
    doc["pairs"]["S-S"]["rho"] = -1.0
    del doc["species"]["Na"]["mass"]
    msg = refused(write(tmp_path, doc))
    assert len(msg.splitlines()) == 3, msg
    for key in ("pairs.Na-S.A", "pairs.S-S.rho", "species.Na.mass"):
        assert f"key '{key}'" in msg


def test_yaml_syntax_error_names_the_line(tmp_path, root):
    lines = (root / SHIPPED).read_text(encoding="utf-8").splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("  Si: {charge"))
    lines[i] = "  Si: {charge: 2.4, mass: 28.0855"  # unclosed flow mapping
    msg = refused(write(tmp_path, text="\n".join(lines) + "\n"))
    assert re.search(r"YAML syntax error at line \d+, column \d+: expected ',' or '}'", msg)
    assert f"while parsing a flow mapping at line {i + 1})" in msg, msg


def test_duplicate_key_names_both_lines(tmp_path):
    msg = refused(write(tmp_path, text="name: a\ncitation: b\nname: c\n"))
    assert "key 'name' appears twice (lines 1 and 3)" in msg


def test_empty_and_non_mapping_files(tmp_path):
    assert "the file is empty" in refused(write(tmp_path, text="", name="e.yaml"))
    msg = refused(write(tmp_path, text="- Na\n- S\n", name="l.yaml"))
    assert "key '(top level)': got ['Na', 'S'] (list); expected a mapping" in msg


HOSTILE = [
    "x\nshell touch PWNED",
    "x &",
    "a ${x}",
    "a $(v_x+1)",
    'say "hi"',
    "it's",
    'end """',
    "a # b",
    "tab\there",
    "bell\x07",
    "x\u2028shell touch PWNED",  # Unicode line separator
]


@pytest.mark.parametrize("key", ["name", "citation"])
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_refused_at_load(tmp_path, base, key, value):
    doc = copy.deepcopy(base)
    doc[key] = value
    msg = refused(write(tmp_path, doc))
    assert re.search(rf"key '{key}': .* at position \d+; expected ", msg), msg


def test_trailing_newline_does_not_slip_through_dollar(tmp_path, base):
    doc = copy.deepcopy(base)
    doc["name"] = "sorensen2023\n"  # Python's '$' matches before a final newline
    assert "LINE FEED" in refused(write(tmp_path, doc))


def test_unicode_citation_accepted(tmp_path, base):
    doc = copy.deepcopy(base)
    doc["citation"] = "Sørensen, Smedskjær et al. 2023 – Table 1; docs/physics.md §2"
    assert load_potential(write(tmp_path, doc)).citation == doc["citation"]


def test_campaign_refuses_hostile_potential_before_any_job(tmp_path, base, tiny_config, schema):
    from glassflow.config.grid import build_campaign

    doc = copy.deepcopy(base)
    doc["citation"] = "Table 1\nshell touch PWNED"
    path = write(tmp_path, doc, name="evil.yaml")
    tiny_config["system"] = {"potential": "evil", "potential_dir": str(tmp_path)}
    with pytest.raises(ValueError) as info:
        build_campaign(tiny_config, schema, tmp_path)
    msg = str(info.value)
    assert "system.potential" in msg and f"{path}: key 'citation'" in msg, msg
    assert not (tmp_path / "PWNED").exists()
