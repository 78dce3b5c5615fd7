"""`chatflow export` and `chatflow import` of chatflow's own portable document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.manifests import library, portable
from controller.manifests.draft import DraftError

from ..conftest import EXAMPLES, run_cli
from .conftest import documents, files_under, git_repo, validate

EXAMPLE_FLOWS = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))


def test_export_holds_format_spec_and_basic_info_but_no_binding_or_state(examples_repo: Path):
    result = run_cli("export", "order-status", cwd=examples_repo)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format"] == "chatflow.export/v1" and doc["apiVersion"] == "chatflow/v1"
    assert doc["name"] == "order-status" and doc["displayName"] == "Order status"
    assert doc["remark"] == 'Answers "where is my order" on WhatsApp' and doc["labels"] == {"team": "support"}
    assert "state" not in doc["spec"]
    assert doc["spec"]["trigger"] == {"type": "whatsapp"}
    assert "acme-wa" not in result.stdout
    # a secret stays a reference: where it lives, never its value
    assert doc["spec"]["nodes"]["lookup"]["headers"] == {"Authorization": {"env": "ORDERS_API_TOKEN"}}


def test_export_never_contains_a_secret_value_even_when_it_is_set(examples_repo: Path):
    import os

    env = dict(os.environ, ORDERS_API_TOKEN="s3cr3t-token-value")
    result = run_cli("export", "order-status", cwd=examples_repo, env=env)
    assert result.returncode == 0
    assert "s3cr3t-token-value" not in result.stdout + result.stderr


def test_export_as_yaml_to_a_file(examples_repo: Path, tmp_path: Path):
    out = tmp_path / "faq.yaml"
    result = run_cli("export", "instagram-faq", "--format", "yaml", "-o", str(out), cwd=examples_repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and f"exported flow `instagram-faq` to {out}" in result.stderr
    (doc,) = documents(out)
    assert doc["format"] == "chatflow.export/v1" and doc["name"] == "instagram-faq"


def test_export_carries_the_flowtests_of_the_flow(repo: Path):
    run_cli("new", "orders", "--template", "order-lookup", cwd=repo)
    doc = json.loads(run_cli("export", "orders", cwd=repo).stdout)
    assert [t["name"] for t in doc["tests"]] == ["orders-in-transit", "orders-delivered",
                                                 "orders-unknown-order-goes-to-a-person", "orders-not-a-number-twice"]
    assert all("flow" not in t["spec"] for t in doc["tests"])


def test_export_of_an_unknown_flow_names_the_flows(examples_repo: Path):
    result = run_cli("export", "order-stat", cwd=examples_repo)
    assert result.returncode == 1
    assert "there is no flow `order-stat`; flows: instagram-faq, order-status, reengagement, viber-appointments" in result.stderr


def test_export_refuses_a_flow_with_errors(repo: Path):
    (repo / "flows.d" / "bad.yaml").write_text(
        "apiVersion: chatflow/v1\nkind: Flow\nmetadata: {name: bad}\n"
        "spec:\n  trigger: {type: manual}\n  nodes:\n    start: {type: start, next: nowhere}\n    e: {type: end}\n"
    )
    result = run_cli("export", "bad", cwd=repo)
    assert result.returncode == 1
    assert "flow `bad` has errors; fix them before exporting it" in result.stderr and "CF103" in result.stderr


def _export(repo: Path, name: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{name}.{repo.name}.json"
    result = run_cli("export", name, "-o", str(out), cwd=repo)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("name", EXAMPLE_FLOWS)
def test_export_import_export_is_lossless_for_every_example(examples_repo: Path, tmp_path: Path, name: str):
    first = _export(examples_repo, name, tmp_path)
    target = git_repo(tmp_path / "target")
    imported = run_cli("import", str(first), cwd=target)
    assert imported.returncode == 0, imported.stderr
    assert validate(target).returncode == 0
    second = _export(target, name, tmp_path)
    assert second.read_bytes() == first.read_bytes()


@pytest.mark.parametrize("name", sorted(t.name for t in library.templates()))
def test_export_import_export_is_lossless_for_every_template(repo: Path, tmp_path: Path, name: str):
    assert run_cli("new", f"my-{name}", "--template", name, cwd=repo).returncode == 0
    first = _export(repo, f"my-{name}", tmp_path)
    target = git_repo(tmp_path / "target")
    assert run_cli("import", str(first), cwd=target).returncode == 0
    checked = validate(target)
    assert checked.returncode == 0 and " 0 errors" in checked.stdout
    second = _export(target, f"my-{name}", tmp_path)
    assert second.read_bytes() == first.read_bytes()


def test_import_makes_an_unpublished_unbound_copy_under_a_new_name(examples_repo: Path, tmp_path: Path):
    exported = _export(examples_repo, "order-status", tmp_path)
    result = run_cli("import", str(exported), "--name", "order-status-v2", cwd=examples_repo)
    assert result.returncode == 0, result.stderr
    path = examples_repo / "flows.d" / "order-status-v2.yaml"
    assert path.read_text().startswith("# yaml-language-server: $schema=../schemas/chatflow.schema.json\n")
    flow, *tests = documents(path)
    assert flow["kind"] == "Flow" and all(t["kind"] == "FlowTest" for t in tests)
    original = documents(examples_repo / "flows.d" / "order-status.yaml")[0]
    assert flow["metadata"] == {**original["metadata"], "name": "order-status-v2"}
    assert flow["spec"]["state"] == "unpublished" and flow["spec"]["trigger"] == {"type": "whatsapp"}
    rest = {k: v for k, v in original["spec"].items() if k not in ("state", "trigger")}
    assert {k: v for k, v in flow["spec"].items() if k not in ("state", "trigger")} == rest
    assert "provide environment variable ORDERS_API_TOKEN" in result.stdout
    assert validate(examples_repo).returncode == 0


def test_import_binds_the_account_given(examples_repo: Path, tmp_path: Path):
    exported = _export(examples_repo, "viber-appointments", tmp_path)
    result = run_cli("import", str(exported), "--name", "clinic-2", "--account", "acme-viber", cwd=examples_repo)
    assert result.returncode == 0, result.stderr
    flow, *_tests = documents(examples_repo / "flows.d" / "clinic-2.yaml")
    assert flow["spec"]["trigger"] == {"type": "viber", "account": "acme-viber", "keywords": ["book", "appointment"]}


def test_import_renames_the_tests_after_the_new_flow(repo: Path, tmp_path: Path):
    run_cli("new", "orders", "--template", "order-lookup", cwd=repo)
    exported = _export(repo, "orders", tmp_path)
    assert run_cli("import", str(exported), "--name", "orders-eu", cwd=repo).returncode == 0
    flow, *tests = documents(repo / "flows.d" / "orders-eu.yaml")
    assert [t["metadata"]["name"] for t in tests][0] == "orders-eu-in-transit"
    assert {t["spec"]["flow"] for t in tests} == {"orders-eu"}
    assert validate(repo).returncode == 0


def test_import_of_an_existing_name_is_refused(examples_repo: Path, tmp_path: Path):
    exported = _export(examples_repo, "order-status", tmp_path)
    before = files_under(examples_repo)
    result = run_cli("import", str(exported), cwd=examples_repo)
    assert result.returncode == 1
    assert "flows.d/order-status.yaml already exists" in result.stderr
    assert files_under(examples_repo) == before


@pytest.mark.parametrize("content, message", [
    ('{"format": "chatflow.export/v1", "name": "x",', "is not valid JSON: Expecting property name enclosed in double quotes"),
    ('{"format": "chatflow.export/v1", "name": "x", "name": "y"}', "key `name` appears twice"),
    ('{"format": "chatflow.export/v9", "name": "x", "spec": {}}', "export format 'chatflow.export/v9' is not supported"),
    ('{"name": "x", "spec": {}}', "this is not a chatflow export: it has no `format: chatflow.export/v1`"),
    ('{"format": "chatflow.export/v1", "name": "Bad Name", "spec": {"trigger": {"type": "manual"}}}', "the export is not valid:\n  name:"),
    ('{"format": "chatflow.export/v1", "name": "x", "spec": {"nodes": {}}}', "spec.trigger: a trigger mapping is required"),
    ('[1, 2, 3]', "this is not a chatflow export"),
    ("format: chatflow.export/v1\nname: x\nspec: !!python/object {}\n", "error CF005 YAML tag `tag:yaml.org,2002:python/object` is not allowed"),
])
def test_a_corrupt_document_is_refused_and_nothing_is_written(repo: Path, tmp_path: Path, content: str, message: str):
    path = tmp_path / "broken.json"
    path.write_text(content)
    before = files_under(repo)
    result = run_cli("import", str(path), cwd=repo)
    assert result.returncode == 1
    assert message in result.stderr and "(nothing written)" in result.stderr
    assert "Traceback" not in result.stderr
    assert files_under(repo) == before


def test_an_import_that_would_not_validate_prints_the_errors_and_writes_nothing(repo: Path, tmp_path: Path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "chatflow.export/v1", "name": "x", "spec": {
        "trigger": {"type": "whatsapp"},
        "nodes": {"start": {"type": "start", "next": "hello"}, "hello": {"type": "message", "text": "Hi", "next": "finsh"},
                  "finish": {"type": "end"}}}}))
    before = files_under(repo)
    result = run_cli("import", str(path), cwd=repo)
    assert result.returncode == 1
    assert "the new flow would not validate, so flows.d/x.yaml was not written" in result.stderr
    assert "error CF103 `hello.next: finsh` names no node (hint: did you mean `finish`?)" in result.stderr
    assert files_under(repo) == before


def test_an_import_binding_an_account_of_another_channel_is_refused(repo: Path, examples_repo: Path, tmp_path: Path):
    exported = _export(examples_repo, "instagram-faq", tmp_path)
    result = run_cli("import", str(exported), "--account", "acme-wa", cwd=repo)
    assert result.returncode == 1
    assert "account `acme-wa` is a whatsapp account; an instagram trigger needs an instagram account" in result.stderr
    assert not (repo / "flows.d" / "instagram-faq.yaml").exists()


def test_a_file_over_the_size_limit_is_refused(repo: Path, tmp_path: Path):
    path = tmp_path / "huge.json"
    path.write_text('{"pad": "' + "x" * (portable.MAX_IMPORT_BYTES + 1) + '"}')
    result = run_cli("import", str(path), cwd=repo)
    assert result.returncode == 1 and "imports are limited to 4 MiB" in result.stderr


def test_a_literal_secret_in_a_query_parameter_is_not_exported():
    spec = {"nodes": {"call": {"type": "http", "url": "https://x.example", "next": "e",
                               "query": {"api_key": "abc123", "q": "{{ vars.q }}", "token": "{{ vars.t }}"}}}}
    warnings = portable._drop_literal_secrets(spec)
    assert spec["nodes"]["call"]["query"] == {"q": "{{ vars.q }}", "token": "{{ vars.t }}"}
    assert warnings == ["node `call`: query parameter `api_key` holds a literal secret; it is not exported "
                        "(use a header with `{env: NAME}` instead)"]


def test_importing_a_studio_file_as_chatflow_says_to_use_twilio_studio():
    with pytest.raises(DraftError, match="use --from twilio-studio"):
        portable.import_flow({"states": [], "initial_state": "Trigger"})
