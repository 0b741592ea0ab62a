"""The report captions (workflow/report/*.rst) render as Snakemake renders them.

Snakemake fills a caption with Jinja2 (``snakemake.wildcards``, ``snakemake.config``) and
turns it into HTML with docutils; a caption that fails either step breaks
``snakemake --report``. Here every caption goes through both, with docutils stopping at
the first warning.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
from docutils.core import publish_parts

REPORT = Path(__file__).resolve().parents[1] / "workflow" / "report"
WILDCARDS = {"T": "2000", "x": "0.10", "quantity": "sigmaT", "table": "arrhenius"}
CAPTIONS = sorted(REPORT.glob("*.rst"))


class Wildcards(dict):
    """Attribute and .get access, like snakemake's Wildcards."""

    __getattr__ = dict.__getitem__


def render(path: Path) -> str:
    fake = SimpleNamespace(wildcards=Wildcards(WILDCARDS), config={"campaign": "default"})
    text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(path.read_text())
    rst = text.render(snakemake=fake, categories={}, files={})
    return publish_parts(
        rst, writer="html", settings_overrides={"halt_level": 2, "report_level": 2}
    )["html_body"]


def test_every_figure_family_has_a_caption() -> None:
    names = {p.stem for p in CAPTIONS}
    assert {
        "workflow", "arrhenius", "rigidity_threshold", "conductivity_map", "diffusivity_map",
        "prl_transport", "prl_activation", "constraint_diagnostic", "thermo", "quench_energy",
        "tables",
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", CAPTIONS, ids=[p.stem for p in CAPTIONS])
def test_caption_renders(path: Path) -> None:
    html = render(path)
    assert "{{" not in html and "System Message" not in html
    assert len(html) > 300
    for key, value in WILDCARDS.items():
        if f"wildcards.{key}" in path.read_text():
            assert value in html
