"""`chatflow test` and FlowTests in `chatflow validate`, end to end in real processes."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from controller.engine import flowtest
from controller.manifests.catalog import load_root

from .conftest import EXAMPLES, run_cli
from .engine.fakeserver import Answer, FakeServer


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for name, text in files.items():
        path = tmp_path / "flows.d" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


GREET = """\
    apiVersion: chatflow/v1
    kind: Flow
    metadata: {name: greet}
    spec:
      trigger: {type: manual}
      variables: {name: {type: string, default: friend}}
      nodes:
        start: {type: start, next: hi}
        hi: {type: message, text: "Hello {{ vars.name }}", next: done}
        done: {type: end, outcome: greeted}
    """

FAILING_TEST = """\
    apiVersion: chatflow/v1
    kind: FlowTest
    metadata: {name: greet-says-hi}
    spec:
      flow: greet
      variables: {name: Bo}
      steps:
        - expect:
            replies: [Hi Bo]
    """


# ---- the examples ------------------------------------------------------------------------------


def test_every_example_flow_has_flowtests_and_they_all_pass():
    catalog = load_root(EXAMPLES, EXAMPLES.parent)
    tested = {t.spec.flow for t in catalog.tests.values()}
    assert set(catalog.flows) <= tested, f"flows without FlowTests: {set(catalog.flows) - tested}"
    results = flowtest.run_all(catalog)
    assert len(results) == len(catalog.tests)
    assert [r.test for _, r in results if not r.ok] == []


def test_all_runs_the_example_flowtests_and_exits_0():
    result = run_cli("test", "--all")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS order-status-happy-path" in result.stdout
    assert " 0 failed" in result.stdout


# ---- one conversation --------------------------------------------------------------------------


def test_say_prints_the_transcript_and_an_http_node_offline_takes_on_failure():
    result = run_cli("test", "order-status", "--name", "Ana", "--say", "hi", "--say", "Track my order", "--say", "1234")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "you: hi\nbot: Hi Ana! What do you need?\n     [Track my order]  [Talk to a person]" in out
    assert "waiting at menu · times out in 1h" in out
    assert ("http GET https://orders.example.com/api/orders/1234: not made: `chatflow test` makes no HTTP calls without "
            "--live-http; taking on_failure -> agent") in out
    assert "handed over at agent" in out


def test_json_transcript_has_the_documented_shape():
    result = run_cli("test", "viber-appointments", "--say", "book", "--say", "2026-12-01", "-o", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["flow"] == "viber-appointments"
    first, second = data["steps"]
    assert first == {"say": "book", "replies": [{"text": "Which day suits you? Send a date like 2026-12-01."}],
                     "vars": {"clinic": "Central"}, "node": "ask_day", "ended": False, "outcome": None, "notes": []}
    assert second["replies"] == [{"text": "Morning or afternoon on 2026-12-01?", "buttons": ["Morning", "Afternoon"]}]
    assert second["vars"] == {"clinic": "Central", "day": "2026-12-01"} and second["node"] == "ask_slot"


def test_manual_flow_starts_with_vars_and_reports_dropped_inputs(tmp_path):
    repo = _repo(tmp_path, {"greet.yaml": GREET})
    result = run_cli("test", "greet", "--var", "name=Bo", "--var", "coupon=X", cwd=repo, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "bot: Hello Bo" in result.stdout
    assert "dropped inputs the flow does not declare: coupon" in result.stdout
    assert "ended (outcome 'greeted')" in result.stdout


def test_messages_can_come_from_standard_input_with_commands():
    result = subprocess.run(
        [*_python(), "test", "order-status", "-o", "json"], input="hi\n/timeout\n", capture_output=True, text=True,
        cwd=EXAMPLES.parent, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert [s["say"] for s in steps] == ["hi", None]
    assert steps[1]["ended"] is True and steps[1]["outcome"] == "done"


def test_live_http_makes_the_call(tmp_path):
    with FakeServer() as server:
        server.routes["/status"] = Answer(200, {"state": "green"})
        repo = _repo(tmp_path, {"probe.yaml": f"""\
            apiVersion: chatflow/v1
            kind: Flow
            metadata: {{name: probe}}
            spec:
              trigger: {{type: manual}}
              nodes:
                start: {{type: start, next: call}}
                call: {{type: http, url: "{server.url}/status", save: {{state: state}}, next: tell, on_failure: down}}
                tell: {{type: message, text: "state {{{{ vars.state }}}}", next: done}}
                down: {{type: message, text: down, next: done}}
                done: {{type: end}}
            """})
        offline = run_cli("test", "probe", cwd=repo)
        live = run_cli("test", "probe", "--live-http", cwd=repo)
    assert "bot: down" in offline.stdout and server.seen[0].path == "/status"
    assert len(server.seen) == 1
    assert "bot: state green" in live.stdout, live.stdout + live.stderr


def test_an_unknown_flow_is_an_error_that_lists_the_flows():
    result = run_cli("test", "order-stats", "--say", "hi")
    assert result.returncode == 1
    assert "no flow `order-stats`" in result.stderr and "order-status" in result.stderr


def test_flow_and_all_together_is_a_usage_error():
    result = run_cli("test", "order-status", "--all")
    assert result.returncode == 2 and "not both" in result.stderr


# ---- failing FlowTests --------------------------------------------------------------------------


def test_all_exits_1_with_the_step_and_the_diff(tmp_path):
    repo = _repo(tmp_path, {"greet.yaml": GREET, "tests/greet.yaml": FAILING_TEST})
    result = run_cli("test", "--all", cwd=repo)
    assert result.returncode == 1
    assert "FAIL greet-says-hi" in result.stdout
    assert "step 1: (no input): replies differ" in result.stdout
    assert "expected 'Hi Bo'" in result.stdout and "got      'Hello Bo'" in result.stdout


def test_all_json(tmp_path):
    repo = _repo(tmp_path, {"greet.yaml": GREET, "tests/greet.yaml": FAILING_TEST})
    data = json.loads(run_cli("test", "--all", "-o", "json", cwd=repo).stdout)
    assert data["ok"] is False and data["passed"] == 0 and data["failed"] == 1
    [test] = data["tests"]
    assert test["name"] == "greet-says-hi" and test["path"] == "flows.d/tests/greet.yaml"
    assert test["failures"][0]["step"] == 1


def test_all_fails_when_a_file_does_not_load(tmp_path):
    repo = _repo(tmp_path, {"greet.yaml": GREET, "tests/broken.yaml": "kind: FlowTest\nspec: [\n"})
    result = run_cli("test", "--all", cwd=repo)
    assert result.returncode == 1 and "CF003" in result.stdout


def test_validate_reports_a_failing_flowtest_as_cf160_at_its_step(tmp_path):
    repo = _repo(tmp_path, {"greet.yaml": GREET, "tests/greet.yaml": FAILING_TEST})
    result = run_cli("validate", cwd=repo)
    assert result.returncode == 1
    assert "flows.d/tests/greet.yaml:8:7 error CF160 FlowTest `greet-says-hi` failed at step 1: (no input): replies differ" in result.stdout
    fixed = _repo(tmp_path, {"tests/greet.yaml": FAILING_TEST.replace("Hi Bo", "Hello Bo")})
    assert run_cli("validate", cwd=fixed).returncode == 0


def _python() -> list[str]:
    import sys

    return [sys.executable, "-m", "controller"]


def test_all_lists_flowtests_of_an_invalid_flow_as_not_run(tmp_path):
    broken = GREET.replace("next: done}", "next: nowhere}")
    repo = _repo(tmp_path, {"greet.yaml": broken, "tests/greet.yaml": FAILING_TEST})
    result = run_cli("test", "--all", cwd=repo)
    assert result.returncode == 1
    assert "NOT RUN greet-says-hi: flow `greet` is missing or invalid" in result.stdout
    assert "CF103" in result.stdout
