"""The template library: what ships, that each template is valid and tested, and `new --template`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.manifests import library
from controller.manifests.catalog import from_load
from controller.manifests.draft import DraftError
from controller.manifests.loader import load_bytes

from ..conftest import run_cli
from .conftest import documents, files_under, validate

TEMPLATES = [t.name for t in library.templates()]
DOCUMENTED = {"welcome-menu", "faq", "order-lookup", "appointment-booking", "lead-capture", "csat-survey", "opt-in", "human-handoff"}


def _diagnostics(text: str, path: str = "t.yaml"):
    return from_load(load_bytes(path, text.encode())).diagnostics


def test_the_library_holds_the_eight_documented_templates():
    assert DOCUMENTED <= set(TEMPLATES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_validates_without_errors_or_warnings(name: str):
    assert _diagnostics(library.get(name).text) == []


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_is_an_unbound_unpublished_flow_with_tests_named_after_it(name: str):
    template = library.get(name)
    docs = [d.data for d in load_bytes("t.yaml", template.text.encode()).documents]
    flows = [d for d in docs if d["kind"] == "Flow"]
    tests = [d for d in docs if d["kind"] == "FlowTest"]
    assert len(flows) == 1 and flows[0]["metadata"]["name"] == name
    assert flows[0]["spec"]["state"] == "unpublished" and "account" not in flows[0]["spec"]["trigger"]
    assert flows[0]["metadata"].get("remark"), "the remark is the one-line description `chatflow templates` shows"
    assert len(tests) >= 2, "FlowTests cover more than one path"
    for test in tests:
        assert test["spec"]["flow"] == name
        assert test["metadata"]["name"].startswith(name + "-")


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_flowtests_wait_at_real_nodes_and_reach_an_end(name: str):
    """The tests expect waits only where the flow can wait, and at least one reaches an end."""
    docs = [d.data for d in load_bytes("t.yaml", library.get(name).text.encode()).documents]
    flow = next(d for d in docs if d["kind"] == "Flow")
    waits = {nid for nid, n in flow["spec"]["nodes"].items() if n["type"] in ("question", "handoff", "http")}
    expectations = [s.get("expect", {}) for d in docs if d["kind"] == "FlowTest" for s in d["spec"]["steps"]]
    assert any(e.get("ended") is True for e in expectations)
    for e in expectations:
        if "node" in e:
            assert e["node"] in waits, f"{e['node']} is not a node a conversation waits at"


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("trigger", library.MESSAGE_TRIGGERS)
def test_each_template_instantiates_without_errors_on_every_message_channel(name: str, trigger: str):
    instance = library.instantiate(library.get(name), "my-flow", trigger=trigger)
    errors = [d for d in _diagnostics(instance.text) if d.is_error]
    assert errors == []
    assert all(t.startswith("my-flow-") for t in instance.tests)


def test_a_template_cannot_switch_between_manual_and_message_triggers():
    with pytest.raises(DraftError, match="built for a whatsapp trigger; it cannot become manual"):
        library.instantiate(library.get("welcome-menu"), "x", trigger="manual")


def test_templates_lists_name_trigger_nodes_and_description():
    result = run_cli("templates")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TEMPLATE", "TRIGGER", "NODES", "DESCRIPTION"]
    row = next(line for line in lines if line.startswith("order-lookup "))
    assert row.split()[:3] == ["order-lookup", "whatsapp", str(library.get("order-lookup").node_count)]
    assert "looks it up over HTTP" in row


def test_templates_json_has_the_documented_shape():
    result = run_cli("templates", "-o", "json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert [t["name"] for t in data["templates"]] == sorted(TEMPLATES)
    faq = next(t for t in data["templates"] if t["name"] == "faq")
    assert faq == {"name": "faq", "displayName": "Frequently asked questions", "trigger": "instagram",
                   "description": library.get("faq").description, "nodes": 14, "tests": 3}


def test_new_from_a_template_writes_the_flow_and_its_renamed_tests(repo: Path):
    result = run_cli("new", "orders", "--template", "order-lookup", "--account", "acme-wa", cwd=repo)
    assert result.returncode == 0, result.stderr
    path = repo / "flows.d" / "orders.yaml"
    assert path.read_text().startswith("# yaml-language-server: $schema=../schemas/chatflow.schema.json\n")
    flow, *tests = documents(path)
    assert flow["metadata"]["name"] == "orders"
    assert flow["metadata"]["annotations"] == {"chatflow/template": "order-lookup"}
    assert flow["spec"]["trigger"]["account"] == "acme-wa" and flow["spec"]["state"] == "unpublished"
    assert [t["metadata"]["name"] for t in tests] == [n.replace("order-lookup", "orders", 1) for n in library.get("order-lookup").tests]
    assert {t["spec"]["flow"] for t in tests} == {"orders"}
    assert "with 4 FlowTests" in result.stdout
    assert "environment variable ORDERS_API_TOKEN" in result.stdout
    assert "# Point `lookup.url` at your order API" in path.read_text(), "the template's comments are kept"
    checked = validate(repo)
    assert checked.returncode == 0, checked.stdout


def test_new_from_a_template_can_change_channel_name_and_remark(repo: Path):
    result = run_cli("new", "ig-welcome", "--template", "welcome-menu", "--trigger", "instagram", "--account", "acme-ig",
                     "--display-name", "IG welcome", "--remark", "Our Instagram front door", cwd=repo)
    assert result.returncode == 0, result.stderr
    flow = documents(repo / "flows.d" / "ig-welcome.yaml")[0]
    assert flow["spec"]["trigger"] == {"type": "instagram", "account": "acme-ig"}
    assert flow["metadata"]["displayName"] == "IG welcome" and flow["metadata"]["remark"] == "Our Instagram front door"
    assert validate(repo).returncode == 0


def test_an_unknown_template_is_refused_with_a_suggestion(repo: Path):
    before = files_under(repo)
    result = run_cli("new", "orders", "--template", "order-lokup", cwd=repo)
    assert result.returncode == 1
    assert "there is no template `order-lokup`; did you mean `order-lookup`?" in result.stderr
    assert files_under(repo) == before


def test_a_template_whose_test_names_are_taken_is_refused(repo: Path):
    (repo / "flows.d" / "old-tests.yaml").write_text(
        "apiVersion: chatflow/v1\nkind: Flow\nmetadata: {name: legacy}\n"
        "spec:\n  trigger: {type: manual}\n  nodes:\n    start: {type: start, next: e}\n    e: {type: end}\n"
        "---\napiVersion: chatflow/v1\nkind: FlowTest\nmetadata: {name: orders-delivered}\n"
        "spec:\n  flow: legacy\n  steps: [{expect: {ended: true}}]\n"
    )
    before = files_under(repo)
    result = run_cli("new", "orders", "--template", "order-lookup", cwd=repo)
    assert result.returncode == 1
    assert "a FlowTest named `orders-delivered` already exists in flows.d/old-tests.yaml" in result.stderr
    assert files_under(repo) == before


def test_the_templates_ship_as_package_data():
    """The wheel carries controller/manifests/templates/*.yaml because the folder is a package."""
    from setuptools import find_packages

    project = Path(__file__).resolve().parents[2]
    assert "controller.manifests.templates" in find_packages(str(project), include=["controller*"])
    assert '"*" = ["*.yaml"' in (project / "pyproject.toml").read_text()
