"""docs/diagnostics.md and the code registry say the same thing, and its examples are true."""

from __future__ import annotations

import re

import pytest

from controller.engine import flowtest
from controller.manifests.catalog import from_load
from controller.manifests.diagnostics import CODES
from controller.manifests.loader import load_bytes

from ..conftest import PROJECT

DOC = (PROJECT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
SECTION = re.compile(r"^## (CF\d{3}) · (.+?)\n\nSeverity: \*\*(error|warning)\*\*\n(.*?)(?=^## |\Z)", re.M | re.S)
SECTIONS = {m.group(1): (m.group(2), m.group(3), m.group(4)) for m in SECTION.finditer(DOC)}


def test_every_registered_code_is_documented_with_its_title_and_severity():
    documented = {code: (title, severity) for code, (title, severity, _) in SECTIONS.items()}
    registered = {code: (c.title, c.severity.value) for code, c in CODES.items()}
    assert documented == registered


def test_codes_appear_in_the_doc_in_registry_order():
    assert list(SECTIONS) == list(CODES)


@pytest.mark.parametrize("code", list(SECTIONS))
def test_each_code_has_a_meaning_a_printed_example_and_a_fix(code):
    title, severity, body = SECTIONS[code]
    meaning = body.strip().split("\n\n")[0]
    assert len(meaning) > 40 and not meaning.startswith("```")
    printed = re.findall(r"```text\n(.+?)\n```", body)
    assert printed and f" {severity} {code} " in printed[0]
    assert re.search(r"^How to fix: .{20,}", body, re.M)


@pytest.mark.parametrize("code", [c for c, (_, _, body) in SECTIONS.items() if "```yaml" in body])
def test_each_yaml_example_prints_exactly_the_line_shown(code, tmp_path, monkeypatch):
    body = SECTIONS[code][2]
    example = re.search(r"```yaml\n(.*?)```", body, re.S).group(1)
    printed = re.search(r"```text\n(.+?)\n```", body).group(1)
    monkeypatch.chdir(tmp_path)  # relative secret files resolve against the working directory
    catalog = from_load(load_bytes("flows.d/example.yaml", example.encode()), secret_root=tmp_path / "flows.d")
    found = catalog.diagnostics + flowtest.diagnostics(catalog)  # validate runs the FlowTests too
    assert printed in [str(d).splitlines()[0] for d in found if d.code == code]
