"""The bad-manifest corpus: every file holds one defect and names the code and place it expects.

Each file under `bad/` starts with `# expect: CFnnn LINE:COL`; whatever else it needs (an
Account, a second flow) is in the same file as further documents. Inputs that should not be
committed as text (over 1 MiB, not UTF-8) are generated here.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.engine import flowtest
from controller.manifests.catalog import from_load
from controller.manifests.diagnostics import CODES
from controller.manifests.loader import MAX_FILE_BYTES, load_bytes

from ..conftest import run_cli

CORPUS = Path(__file__).parent / "bad"
EXPECT = re.compile(rb"\A# expect: (CF\d{3}) (\d+):(\d+)\n")

GREETING = b"""apiVersion: chatflow/v1
kind: Flow
metadata: {name: greeting}
spec:
  trigger: {type: manual}
  nodes:
    start: {type: start, next: hello}
    hello: {type: message, text: Caf\xc3\xa9 is open, next: done}
    done: {type: end}
"""


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    code: str
    line: int
    column: int


def _committed() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        data = path.read_bytes()
        match = EXPECT.match(data)
        assert match, f"{path.name} must start with `# expect: CFnnn LINE:COL`"
        code, line, column = match.groups()
        cases.append(Case(path.name, data, code.decode(), int(line), int(column)))
    return cases


def _generated() -> list[Case]:
    padding = b"# " + b"x" * MAX_FILE_BYTES + b"\n"
    latin1 = GREETING.replace("Café".encode(), "Café".encode("latin-1"))
    return [
        Case("cf001-over-one-mebibyte.yaml", GREETING + padding, "CF001", 1, 1),
        # "    hello: {type: message, text: Caf" is 36 bytes: the latin-1 é is the 37th
        Case("cf002-latin-1-byte.yaml", latin1, "CF002", 8, 37),
        Case("cf002-utf-16.yaml", GREETING.decode().encode("utf-16"), "CF002", 1, 1),
    ]


CASES = _committed() + _generated()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_manifest_reports_its_code_at_its_place_and_nothing_else(case: Case, monkeypatch):
    monkeypatch.chdir(CORPUS)  # relative secret files resolve against the working directory (CF141)
    catalog = from_load(load_bytes(case.name, case.data), secret_root=CORPUS)
    catalog.diagnostics.extend(flowtest.diagnostics(catalog))  # as `chatflow validate` does

    placed = [(d.code, d.line, d.column) for d in catalog.diagnostics]
    assert (case.code, case.line, case.column) in placed, "\n".join(map(str, catalog.diagnostics))
    other_errors = [str(d) for d in catalog.diagnostics if d.is_error and d.code != case.code]
    assert other_errors == [], "one defect per file: only the expected code may be an error"
    found = next(d for d in catalog.diagnostics if (d.code, d.line, d.column) == (case.code, case.line, case.column))
    assert found.severity is CODES[case.code].severity
    assert found.path == case.name and found.message


def test_corpus_covers_every_diagnostic_code_with_at_least_45_manifests():
    assert {c.code for c in CASES} == set(CODES)
    assert len(CASES) >= 45


def test_validate_over_the_whole_corpus_reports_every_file_without_a_traceback(tmp_path):
    root = tmp_path / "flows.d"
    shutil.copytree(CORPUS, root)
    for case in _generated():
        (root / case.name).write_bytes(case.data)

    text = run_cli("validate", "--repo", str(tmp_path), cwd=tmp_path)
    as_json = run_cli("validate", "--repo", str(tmp_path), "-o", "json", cwd=tmp_path)

    assert text.returncode == 1 and as_json.returncode == 1
    assert "Traceback" not in text.stderr + text.stdout + as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["files"] == len(CASES)
    reported = {Path(d["path"]).name for d in report["diagnostics"]}
    assert reported == {c.name for c in CASES}
