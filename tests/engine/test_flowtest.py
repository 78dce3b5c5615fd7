"""The FlowTest runner: steps, mocks, expectations, readable failures, reload at every input."""

from __future__ import annotations

from pathlib import Path

from controller.engine import flowtest
from controller.engine.session import Session
from controller.manifests.catalog import load_root
from controller.manifests.models import FlowTest

from .helpers import make_flow

ORDER = make_flow({
    "start": {"type": "start", "next": "ask"},
    "ask": {"type": "question", "text": "Order number?", "expect": "number", "save_as": "order", "retries": 0,
            "timeout": {"after": "1h", "next": "bye"}, "next": "lookup"},
    "lookup": {"type": "http", "url": "https://api.example.com/{{ vars.order }}", "save": {"status": "status"}, "next": "tell", "on_failure": "sorry"},
    "tell": {"type": "message", "text": "It is {{ vars.status }}", "next": "bye"},
    "sorry": {"type": "message", "text": "Lookup failed", "next": "bye"},
    "bye": {"type": "end", "outcome": "done"},
}, name="orders")


def flow_test(steps: list, **spec) -> FlowTest:
    return FlowTest.model_validate({"apiVersion": "chatflow/v1", "kind": "FlowTest", "metadata": {"name": "t"},
                                    "spec": {"flow": "orders", "steps": steps, **spec}})


def run(steps: list, flows=None, **spec) -> flowtest.Result:
    return flowtest.run(flow_test(steps, **spec), flows or {"orders": ORDER})


def test_a_passing_test_has_no_failures():
    result = run([
        {"say": "hi", "expect": {"replies": ["Order number?"], "node": "ask", "ended": False}},
        {"http": {"status": 200, "body": {"status": "shipped"}}},
        {"say": "12", "expect": {"replies": ["It is shipped"], "vars": {"order": 12, "status": "shipped"}, "ended": True, "outcome": "done"}},
    ])
    assert result.ok, result.failures


def test_a_reply_mismatch_names_the_step_and_shows_expected_and_got():
    result = run([{"say": "hi", "expect": {"replies": ["Order id?"]}}])
    [failure] = result.failures
    assert failure.step == 1
    assert failure.message.splitlines()[:3] == [
        "say 'hi': replies differ",
        "  reply 1: expected 'Order id?'",
        "           got      'Order number?'",
    ]


def test_reply_counts_buttons_and_vars_are_compared():
    result = run([{"say": "hi", "expect": {"replies": ["Order number?", "extra"], "vars": {"order": None, "x": 1}}}])
    messages = [f.message for f in result.failures]
    assert "expected 2 replies, got 1" in messages[0]
    assert messages[1] == "say 'hi': vars differ: `x` expected 1, but it is unset"


def test_null_in_vars_means_unset():
    assert run([{"say": "hi"}, {"say": "nope", "expect": {"vars": {"order": None}, "ended": True, "outcome": "invalid"}}]).ok
    result = run([{"say": "hi"}, {"http": {"status": 500}}, {"say": "5", "expect": {"vars": {"order": None}}}])
    assert result.failures[0].message == "say '5': vars differ: `order` expected unset, got 5"


def test_node_ended_and_outcome_mismatches_say_where_the_conversation_is():
    result = run([{"say": "hi", "expect": {"node": "lookup", "ended": True, "outcome": "done"}}])
    assert [f.message for f in result.failures] == [
        "say 'hi': expected to wait at `lookup`, but it waits at `ask`",
        "say 'hi': expected the conversation to have ended, but it waits at `ask`",
        "say 'hi': expected outcome 'done', but it waits at `ask`",
    ]


def test_an_http_call_no_step_answers_fails_the_step():
    result = run([{"say": "hi"}, {"say": "12", "expect": {"replies": ["Lookup failed"]}}])
    [failure] = result.failures
    assert failure.step == 2
    assert "HTTP call GET https://api.example.com/12 that no step answers; add a `http:` step before this one" in failure.message


def test_a_mock_that_is_never_used_fails():
    result = run([{"http": {"status": 200}}, {"say": "hi"}])
    assert [(f.step, f.message) for f in result.failures] == [(1, "http 200: this mocked HTTP answer was never used")]


def test_timeout_fires_the_pending_deadline_and_fails_when_there_is_none():
    assert run([{"say": "hi"}, {"timeout": True, "expect": {"ended": True, "replies": []}}]).ok
    result = run([{"say": "hi"}, {"timeout": True}, {"timeout": True}, {"say": "never reached"}])
    assert [(f.step, f.message) for f in result.failures] == [(3, "timeout: nothing waits for a timeout: the conversation has ended")]


def test_the_session_is_stored_and_reloaded_before_every_input(monkeypatch):
    reads = []
    original = Session.from_json.__func__

    def spy(cls, data):
        reads.append(data["node"])
        return original(cls, data)

    monkeypatch.setattr(Session, "from_json", classmethod(spy))
    assert run([{"say": "hi"}, {"say": "x"}, {"say": "hi again"}]).ok
    assert reads == ["ask", "ask"]  # before the 2nd and 3rd inputs; the 3rd restarts an ended flow


def test_a_step_without_input_starts_a_manual_flow_with_the_test_variables():
    manual = make_flow({"start": {"type": "start", "next": "m"}, "m": {"type": "message", "text": "Hi {{ vars.name }}", "next": "e"},
                        "e": {"type": "end"}}, name="orders", trigger={"type": "manual"}, variables={"name": {"type": "string"}})
    result = run([{"expect": {"replies": ["Hi Bo"], "ended": True}}], {"orders": manual}, variables={"name": "Bo"})
    assert result.ok, result.failures


def test_start_flow_continues_in_the_named_flow():
    first = make_flow({"start": {"type": "start", "next": "go"}, "go": {"type": "start_flow", "flow": "second", "variables": {"n": "7"}}}, name="orders")
    second = make_flow({"start": {"type": "start", "next": "q"}, "q": {"type": "question", "text": "n={{ vars.n }}?", "next": "e"},
                        "e": {"type": "end"}}, name="second", variables={"n": {"type": "number"}})
    result = run([{"say": "hi", "expect": {"replies": ["n=7?"], "node": "q"}}], {"orders": first, "second": second})
    assert result.ok, result.failures


def test_contact_fields_reach_templates():
    greet = make_flow({"start": {"type": "start", "next": "m"}, "m": {"type": "message", "text": "{{ contact.name }} {{ contact.phone }}", "next": "e"},
                       "e": {"type": "end"}}, name="orders")
    assert run([{"say": "hi", "expect": {"replies": ["Ana +1555"]}}], {"orders": greet}, contact={"name": "Ana", "phone": "+1555"}).ok


def test_failures_become_cf160_diagnostics_at_the_failing_step(tmp_path: Path):
    (tmp_path / "flow.yaml").write_text(
        "apiVersion: chatflow/v1\nkind: Flow\nmetadata: {name: greet}\nspec:\n  trigger: {type: manual}\n  nodes:\n"
        "    start: {type: start, next: hi}\n    hi: {type: message, text: Hello, next: done}\n    done: {type: end}\n"
    )
    (tmp_path / "test.yaml").write_text(
        "apiVersion: chatflow/v1\nkind: FlowTest\nmetadata: {name: greet-test}\nspec:\n  flow: greet\n  steps:\n"
        "    - expect: {replies: [Hello]}\n    - expect: {ended: false}\n"
    )
    catalog = load_root(tmp_path, tmp_path)
    [diagnostic] = flowtest.diagnostics(catalog)
    assert (diagnostic.code, diagnostic.path, diagnostic.line, diagnostic.severity.value) == ("CF160", "test.yaml", 8, "error")
    assert diagnostic.message == ("FlowTest `greet-test` failed at step 2: (no input): expected the conversation to go on, "
                                  "but it has ended at `done`")
