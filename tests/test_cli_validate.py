"""`chatflow validate` end to end, in real processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .conftest import run_cli


def test_bundled_examples_validate_cleanly():
    result = run_cli("validate", "flows.d")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for name, text in files.items():
        path = tmp_path / "flows.d" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


BROKEN = """\
apiVersion: chatflow/v1
kind: Flow
metadata: {name: greet}
spec:
  trigger: {type: manual}
  nodes:
    start: {type: start, next: hello}
    hello: {type: message, text: Hi!, next: finsh}
    finish: {type: end}
"""


def test_error_is_placed_with_hint_and_exit_1(tmp_path):
    repo = _repo(tmp_path, {"greet.yaml": BROKEN})
    result = run_cli("validate", cwd=repo)
    assert result.returncode == 1
    assert "flows.d/greet.yaml:8:45 error CF103 `hello.next: finsh` names no node" in result.stdout
    assert "did you mean `finish`?" in result.stdout
    assert "1 file checked: 1 error, 0 warnings" in result.stdout


def test_json_output_has_the_documented_shape(tmp_path):
    repo = _repo(tmp_path, {"greet.yaml": BROKEN})
    result = run_cli("validate", "-o", "json", cwd=repo)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["errors"] == 1 and data["warnings"] == 0
    (diag,) = data["diagnostics"]
    assert diag == {
        "code": "CF103",
        "severity": "error",
        "path": "flows.d/greet.yaml",
        "line": 8,
        "column": 45,
        "message": "`hello.next: finsh` names no node",
        "hint": "did you mean `finish`?",
    }


def test_strict_turns_warnings_into_errors(tmp_path):
    flow = BROKEN.replace("finsh", "finish") + "    orphan: {type: end}\n"
    repo = _repo(tmp_path, {"greet.yaml": flow})
    assert run_cli("validate", cwd=repo).returncode == 0
    strict = run_cli("validate", "--strict", cwd=repo)
    assert strict.returncode == 1
    assert "CF104" in strict.stdout


def test_path_reports_one_file_but_resolves_against_root(tmp_path):
    account = """\
apiVersion: chatflow/v1
kind: Account
metadata: {name: wa}
spec:
  channel: whatsapp
  credentials: {accessToken: {env: T}, appSecret: {env: S}, verifyToken: {env: V}}
  whatsapp: {phoneNumberId: "123"}
"""
    flow = BROKEN.replace("finsh", "finish").replace("{type: manual}", "{type: whatsapp, account: wa}")
    repo = _repo(tmp_path, {"account.yaml": account, "greet.yaml": flow, "other.yaml": BROKEN.replace("greet", "other")})
    result = run_cli("validate", "flows.d/greet.yaml", cwd=repo)
    assert result.returncode == 0, result.stdout
    assert "other.yaml" not in result.stdout


def test_every_command_explains_itself():
    top = run_cli("--help")
    assert top.returncode == 0
    for command in ("validate", "schema", "migrate"):
        assert command in top.stdout
        sub = run_cli(command, "--help")
        assert sub.returncode == 0 and "Usage" in sub.stdout, command
