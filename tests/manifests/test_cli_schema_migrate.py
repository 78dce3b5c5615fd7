"""`chatflow schema [--check]` and `chatflow migrate [--write]` on real files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from controller.cli.main import app
from controller.manifests import migrations
from controller.manifests.catalog import load_root

from ..conftest import EXAMPLES, PROJECT, run_cli


def _repo(tmp_path: Path, with_schemas: bool = True) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shutil.copytree(EXAMPLES, tmp_path / "flows.d")
    if with_schemas:
        shutil.copytree(PROJECT / "schemas", tmp_path / "schemas")
    return tmp_path


def test_schema_check_passes_when_the_files_match_the_models(tmp_path):
    repo = _repo(tmp_path)
    result = run_cli("schema", "--check", "--repo", str(repo), cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "are current" in result.stdout


def test_schema_check_fails_on_a_stale_or_missing_file_and_writes_nothing(tmp_path):
    repo = _repo(tmp_path)
    flow_schema = repo / "schemas" / "flow.schema.json"
    flow_schema.write_text(flow_schema.read_text().replace('"title": "chatflow Flow"', '"title": "old"'))
    (repo / "schemas" / "account.schema.json").unlink()

    result = run_cli("schema", "--check", "--repo", str(repo), cwd=repo)

    assert result.returncode == 1
    assert "account.schema.json" in result.stderr and "flow.schema.json" in result.stderr
    assert "chatflow.schema.json" not in result.stderr and "run `chatflow schema`" in result.stderr
    assert '"title": "old"' in flow_schema.read_text()
    assert not (repo / "schemas" / "account.schema.json").exists()


def test_schema_writes_what_check_then_accepts(tmp_path):
    repo = _repo(tmp_path, with_schemas=False)
    assert run_cli("schema", "--check", "--repo", str(repo), cwd=repo).returncode == 1
    written = run_cli("schema", "--repo", str(repo), cwd=repo)
    assert written.returncode == 0 and "wrote 4 file(s)" in written.stdout
    assert sorted(p.name for p in (repo / "schemas").iterdir()) == [
        "account.schema.json", "chatflow.schema.json", "flow.schema.json", "flowtest.schema.json"]
    assert run_cli("schema", "--check", "--repo", str(repo), cwd=repo).returncode == 0


def test_the_checked_in_schemas_are_current():
    assert run_cli("schema", "--check").returncode == 0


def test_migrate_with_one_version_reports_everything_current(tmp_path):
    repo = _repo(tmp_path)
    before = {p: p.read_bytes() for p in (repo / "flows.d").rglob("*.yaml")}
    result = run_cli("migrate", "--write", "--repo", str(repo), cwd=repo)
    assert result.returncode == 0
    assert result.stdout.strip() == "every manifest is current (chatflow/v1)"
    assert {p: p.read_bytes() for p in before} == before


OLD = """\
# yaml-language-server: $schema=../schemas/chatflow.schema.json
apiVersion: chatflow/v0alpha
kind: Flow
metadata:
  name: legacy   # kept from the first release
spec:
  trigger: {type: whatsapp, words: [hi]}
  nodes:
    start: {type: start, next: done}
    # the only way out
    done: {type: end}
"""


@pytest.fixture
def two_step_chain(monkeypatch):
    """chatflow/v0alpha -> chatflow/v0 -> chatflow/v1, listed out of order to prove the chain decides."""
    ran: list[str] = []

    def alpha_to_v0(doc):
        ran.append("v0alpha->v0")
        doc["spec"]["trigger"]["keywords"] = doc["spec"]["trigger"].pop("words")
        return doc

    def v0_to_v1(doc):
        ran.append("v0->v1")
        assert "keywords" in doc["spec"]["trigger"], "the earlier step must have run first"
        doc["spec"]["logging"] = True
        return doc

    monkeypatch.setattr(migrations, "STEPS", (
        migrations.Step("chatflow/v0", "chatflow/v1", v0_to_v1, "logging on by default"),
        migrations.Step("chatflow/v0alpha", "chatflow/v0", alpha_to_v0, "trigger.words is now trigger.keywords"),
    ))
    return ran


def _fresh(tmp_path: Path) -> Path:
    root = tmp_path / "flows.d"
    root.mkdir()
    (root / "legacy.yaml").write_text(OLD)
    (root / "current.yaml").write_text((EXAMPLES / "reengagement.yaml").read_text())
    shutil.copytree(EXAMPLES / "accounts", root / "accounts")
    return root


def test_migrate_lists_the_ordered_steps_and_exits_1_without_write(tmp_path, two_step_chain):
    root = _fresh(tmp_path)
    result = CliRunner().invoke(app, ["migrate", "--repo", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert ("trigger.words is now trigger.keywords; chatflow/v0 -> chatflow/v1: logging on by default" in result.output)
    assert "1 file to migrate: run `chatflow migrate --write`" in result.output
    assert two_step_chain == ["v0alpha->v0", "v0->v1"]
    assert (root / "legacy.yaml").read_text() == OLD


def test_migrate_write_applies_the_chain_in_order_and_keeps_comments(tmp_path, two_step_chain):
    root = _fresh(tmp_path)
    current_before = (root / "current.yaml").read_text()

    result = CliRunner().invoke(app, ["migrate", "--write", "--repo", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "migrated 1 file to chatflow/v1" in result.output
    text = (root / "legacy.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/chatflow.schema.json\napiVersion: chatflow/v1\n")
    assert "name: legacy   # kept from the first release" in text
    assert "    # the only way out\n    done: {type: end}" in text
    assert "keywords: [hi]" in text and "words" not in text.replace("keywords", "")
    assert (root / "current.yaml").read_text() == current_before
    catalog = load_root(root)
    assert catalog.diagnostics == [] and catalog.flows["legacy"].spec.logging is True

    again = CliRunner().invoke(app, ["migrate", "--repo", str(tmp_path)])
    assert again.exit_code == 0 and "every manifest is current (chatflow/v1)" in again.output


def test_migrate_reports_a_file_it_cannot_read_and_changes_nothing(tmp_path, two_step_chain):
    root = _fresh(tmp_path)
    (root / "broken.yaml").write_text("a: [1, 2\n")
    result = CliRunner().invoke(app, ["migrate", "--write", "--repo", str(tmp_path)])
    assert result.exit_code == 1
    assert "broken.yaml" in result.output and "not migrated" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
