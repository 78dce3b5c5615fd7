"""`chatflow import --from twilio-studio`: Studio exports become chatflow components, or marked nodes and warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controller.manifests import expressions, twilio
from controller.manifests.draft import DraftError

from ..conftest import run_cli
from .conftest import FIXTURES, documents, files_under, git_repo, validate

REMINDER = FIXTURES / "studio-appointment-reminder.json"
SUPPORT = FIXTURES / "studio-support-bot.json"
FLEX = FIXTURES / "studio-flex-messaging.json"
BILLING_SID = "FW9d3f5c6d1a2b3c4d5e6f708192a3b4c5"


def _import(repo: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    result = run_cli("import", *args, cwd=repo)
    assert result.returncode == 0, result.stderr
    name = args[args.index("--name") + 1] if "--name" in args else None
    path = next((repo / "flows.d").glob(f"{name or '*'}.yaml"))
    (flow,) = documents(path)
    return result, flow


def _branch(node: dict[str, Any], context: dict[str, Any]) -> str:
    """Where a converted condition sends a conversation (first true branch, else default)."""
    for b in node["branches"]:
        if expressions.evaluate(b["when"], context):
            return b["next"]
    return node["default"]


# ---- a REST-triggered reminder: set-variables, send-and-wait, split, http, Liquid filters ----------


@pytest.fixture(scope="module")
def reminder(tmp_path_factory) -> tuple[Path, Any, dict[str, Any]]:
    """One import shared by the read-only tests below."""
    repo = git_repo(tmp_path_factory.mktemp("reminder") / "repo")
    result, flow = _import(repo, str(REMINDER), "--from", "twilio-studio", "--name", "reminder")
    return repo, result, flow


@pytest.fixture(scope="module")
def support(tmp_path_factory) -> tuple[Path, Any, dict[str, Any]]:
    repo = git_repo(tmp_path_factory.mktemp("support") / "repo")
    result, flow = _import(repo, str(SUPPORT), "--name", "support-bot", "--account", "acme-wa")
    return repo, result, flow


@pytest.fixture(scope="module")
def flex(tmp_path_factory) -> tuple[Path, Any, dict[str, Any]]:
    repo = git_repo(tmp_path_factory.mktemp("flex") / "repo")
    result, flow = _import(repo, str(FLEX), "--trigger", "messenger")
    return repo, result, flow


def test_reminder_becomes_a_valid_manual_flow(reminder):
    repo, result, flow = reminder
    assert validate(repo).returncode == 0
    spec = flow["spec"]
    assert spec["state"] == "unpublished" and spec["trigger"] == {"type": "manual"}
    assert flow["metadata"]["displayName"] == "Appointment reminder and confirmation"
    assert flow["metadata"]["annotations"] == {"chatflow/imported-from": "twilio-studio"}
    types = {nid: n["type"] for nid, n in spec["nodes"].items()}
    assert types == {
        "start": "start", "set_attempts": "set", "ask_confirm": "question", "check_reply": "condition",
        "count_attempt": "set", "too_many": "condition", "confirm_appointment": "http", "confirmed": "message",
        "cancel_appointment": "http", "cancelled": "message", "no_reply": "message", "call_us": "message", "done": "end",
    }
    # flow.data.X are the REST trigger's inputs: declared, so they arrive as vars
    assert set(spec["variables"]) == {"first_name", "date", "time", "appointment_id"}


def test_reminder_question_keeps_its_timeout_path_and_saves_the_reply(reminder):
    ask = reminder[2]["spec"]["nodes"]["ask_confirm"]
    assert ask["timeout"] == {"after": "1d", "next": "no_reply"}
    assert ask["save_as"] == "ask_confirm_reply" and ask["next"] == "check_reply"
    text = expressions.render(ask["text"], {"vars": {"first_name": "Ana", "date": "2026-12-01", "time": "10:00"}})
    assert text == ("Hi Ana, this is Acme Dental. You have an appointment on 2026-12-01 at 10:00.\n"
                    "Reply YES to confirm or NO to cancel.")


@pytest.mark.parametrize("reply, goes_to", [
    ("YES", "confirm_appointment"), ("  y ", "confirm_appointment"), ("Confirm", "confirm_appointment"),
    ("no", "cancel_appointment"), ("CANCEL", "cancel_appointment"), ("maybe", "count_attempt"), ("", "count_attempt"),
])
def test_reminder_split_matches_like_studio_trimmed_and_case_insensitive(reminder, reply, goes_to):
    node = reminder[2]["spec"]["nodes"]["check_reply"]
    assert _branch(node, {"vars": {"ask_confirm_reply": reply}}) == goes_to


def test_reminder_counter_and_numeric_split(reminder):
    nodes = reminder[2]["spec"]["nodes"]
    plus_one = nodes["count_attempt"]["values"]["attempts"]
    assert expressions.evaluate(plus_one, {"vars": {"attempts": "0"}}) == 1
    assert expressions.evaluate(plus_one, {"vars": {"attempts": 2}}) == 3
    too_many = nodes["too_many"]
    assert _branch(too_many, {"vars": {"attempts": 3}}) == "call_us"
    assert _branch(too_many, {"vars": {"attempts": "2"}}) == "ask_confirm"
    assert _branch(too_many, {"vars": {"attempts": "many"}}) == "ask_confirm"


def test_reminder_http_requests_keep_body_and_save_what_later_widgets_read(reminder):
    nodes = reminder[2]["spec"]["nodes"]
    confirm = nodes["confirm_appointment"]
    assert confirm["method"] == "POST" and confirm["next"] == "confirmed" and confirm["on_failure"] == "call_us"
    assert confirm["url"] == "https://dental.example.com/api/appointments/{{ vars.appointment_id }}/status"
    assert confirm["body"] == {"appointment_id": "{{ vars.appointment_id }}", "status": "confirmed",
                               "phone": "{{ contact.phone }}", "attempts": "{{ vars.attempts }}"}
    assert confirm["save"] == {"confirm_appointment_dentist_name": "dentist.name", "confirm_appointment_room": "room"}
    cancel = nodes["cancel_appointment"]
    assert cancel["body_type"] == "form" and cancel["body"] == {"appointment_id": "{{ vars.appointment_id }}", "status": "cancelled"}
    message = nodes["confirmed"]
    assert message["media"]["kind"] == "image" and message["media"]["url"].endswith("/map.png")
    caption = expressions.render(message["media"]["caption"], {"vars": {
        "first_name": "Ana", "confirm_appointment_dentist_name": "Dr Lee", "confirm_appointment_room": "4"}})
    assert caption == "Thanks Ana! You're confirmed with Dr Lee in room 4."


# ---- a message-triggered bot: Liquid tags, regex/starts_with/blank, subflow, Flex, run-function ----


def test_support_bot_marks_what_has_no_equivalent_and_warns_by_name(support):
    repo, result, flow = support
    nodes = flow["spec"]["nodes"]
    assert nodes["log_contact"] == {"type": "end", "outcome": "unsupported-run-function"}
    assert nodes["billing_subflow"] == {"type": "end", "outcome": "unsupported-run-subflow"}
    assert flow["metadata"]["annotations"]["chatflow/unsupported"] == "log_contact (run-function), Billing_Subflow (run-subflow)"
    assert "warning: widget `log_contact` (run-function): no chatflow equivalent" in result.stderr
    assert f"pass --subflow {BILLING_SID}=NAME" in result.stderr
    assert flow["spec"]["trigger"] == {"type": "whatsapp", "account": "acme-wa"}
    assert validate(repo).returncode == 0


def test_support_bot_subflow_maps_to_start_flow(repo: Path):
    assert run_cli("new", "billing", "--trigger", "whatsapp", cwd=repo).returncode == 0
    result, flow = _import(repo, str(SUPPORT), "--name", "support-bot", "--subflow", f"{BILLING_SID}=billing")
    node = flow["spec"]["nodes"]["billing_subflow"]
    assert node == {"type": "start_flow", "flow": "billing", "variables": {"customer": "contact.phone", "source": "'support-bot'"}}
    assert "Studio returns to `goodbye` after the subflow" in result.stderr
    assert validate(repo).returncode == 0


def test_support_bot_first_message_is_kept_for_later_and_routes(support):
    flow = support[2]
    nodes = flow["spec"]["nodes"]
    assert nodes["start"]["next"] == "trigger_message"
    assert nodes["trigger_message"] == {"type": "set", "values": {"trigger_body": "message.text"}, "next": "greet_check"}
    assert _branch(nodes["greet_check"], {"vars": {"trigger_body": "I want an AGENT please"}}) == "send_to_agent"
    assert _branch(nodes["greet_check"], {"vars": {"trigger_body": "hello"}}) == "main_menu"
    menu = nodes["route_menu"]
    assert _branch(menu, {"vars": {"main_menu_reply": "1 please"}}) == "ask_order"
    assert _branch(menu, {"vars": {"main_menu_reply": "billing"}}) == "billing_subflow"
    assert _branch(menu, {"vars": {"main_menu_reply": " 3 "}}) == "send_to_agent"
    assert _branch(menu, {"vars": {"main_menu_reply": "what?"}}) == "main_menu"
    assert _branch(nodes["check_order_number"], {"vars": {"ask_order_reply": "  "}}) == "ask_order"


def test_support_bot_liquid_filters_and_tags_render_the_same(support):
    flow = support[2]
    nodes = flow["spec"]["nodes"]
    greeting = expressions.render(nodes["main_menu"]["text"], {"contact": {"name": "ana"}})
    assert greeting.startswith("Hi ANA! Reply:\n1 - order status")
    assert expressions.render(nodes["main_menu"]["text"], {"contact": {}}).startswith("Hi THERE!")
    status = nodes["order_status"]["text"]
    context = {"vars": {"ask_order_reply": "77", "fetch_order_status": "shipped", "fetch_order_tracking": "1Z99"}}
    assert expressions.render(status, context) == "Order 77: shipped, tracking 1Z99."
    context["vars"]["fetch_order_tracking"] = ""
    assert expressions.render(status, context) == "Order 77: shipped."
    fetch = nodes["fetch_order"]
    assert fetch["method"] == "GET" and fetch["query"] == {"order": "{{ vars.ask_order_reply | trim }}", "customer": "{{ contact.phone }}"}
    assert fetch["save"] == {"fetch_order_status": "status", "fetch_order_tracking": "tracking"}
    agent = nodes["send_to_agent"]
    assert agent["type"] == "handoff" and agent["timeout"] == "1h" and agent["next"] == "done"


# ---- a Flex flow fetched from the REST API: voice widgets, unknown widget, time conditions ----------


def test_flex_flow_from_the_rest_api_keeps_chat_and_marks_voice(flex):
    repo, result, flow = flex
    assert flow["metadata"]["name"] == "flex-messaging-and-voice-flow"
    assert flow["metadata"]["displayName"] == "Flex Messaging and Voice Flow"
    assert flow["metadata"]["remark"] == "Routes messages and calls to the right queue"
    nodes = flow["spec"]["nodes"]
    for widget, kind in (("welcome_call", "say-play"), ("gather_menu", "gather-input-on-call"), ("voice_queue", "enqueue-call")):
        assert nodes[widget] == {"type": "end", "outcome": f"unsupported-{kind}"}
        assert f"widget `{widget}` ({kind}): no chatflow equivalent" in result.stderr
    assert nodes["survey_widget"]["outcome"] == "unsupported-send-to-autopilot-v9"
    assert "widget `survey_widget` (send-to-autopilot-v9): an unknown widget type" in result.stderr
    assert "trigger event incomingCall (to `welcome_call`) is not imported" in result.stderr
    assert "condition 'office open' (is_after_time) has no chatflow equivalent (conditions have no clock)" in result.stderr
    assert nodes["check_hours"]["branches"] == [{"when": "false", "next": "ask_age_media"}]
    assert nodes["ask_age_media"] == {"type": "message", "media": {"kind": "image", "url": "https://cdn.example.com/welcome.jpg"},
                                      "next": "ask_age"}
    assert [nodes[q]["type"] for q in ("queue_youth", "queue_senior", "queue_general")] == ["handoff"] * 3
    assert validate(repo).returncode == 0


@pytest.mark.parametrize("age, queue", [("12", "queue_youth"), ("70", "queue_senior"), ("999", "queue_general"),
                                        ("35", "queue_general"), ("old", "queue_general")])
def test_flex_flow_numeric_conditions(flex, age: str, queue: str):
    flow = flex[2]
    assert _branch(flow["spec"]["nodes"]["route_age"], {"vars": {"ask_age_reply": age}}) == queue


# ---- refusals ------------------------------------------------------------------------------


def _studio(tmp_path: Path, states: list[dict[str, Any]], name: str = "studio.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"description": "t", "states": states, "initial_state": "Trigger",
                                "flags": {"allow_concurrent_calls": True}}))
    return path


def test_a_voice_only_flow_is_refused(repo: Path, tmp_path: Path):
    path = _studio(tmp_path, [
        {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": "hello"}], "properties": {}},
        {"name": "hello", "type": "say-play", "transitions": [{"event": "audioComplete"}], "properties": {"say": "Hi"}},
    ])
    before = files_under(repo)
    result = run_cli("import", str(path), cwd=repo)
    assert result.returncode == 1
    assert "this Studio flow handles only calls (incomingCall): voice has no chat equivalent" in result.stderr
    assert files_under(repo) == before


def test_a_transition_to_a_missing_state_is_refused(repo: Path, tmp_path: Path):
    path = _studio(tmp_path, [
        {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingMessage", "next": "helo"}], "properties": {}},
        {"name": "hello", "type": "send-message", "transitions": [{"event": "sent"}], "properties": {"body": "Hi"}},
    ])
    result = run_cli("import", str(path), "--from", "twilio-studio", cwd=repo)
    assert result.returncode == 1
    assert "transition `incomingMessage` of state `Trigger` leads to `helo`, which is not a state" in result.stderr


def test_a_studio_flow_that_would_spin_is_refused_with_the_diagnostic(repo: Path, tmp_path: Path):
    path = _studio(tmp_path, [
        {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingMessage", "next": "bump"}], "properties": {}},
        {"name": "bump", "type": "set-variables", "transitions": [{"event": "next", "next": "check"}],
         "properties": {"variables": [{"key": "n", "value": "{{flow.variables.n | plus: 1}}"}]}},
        {"name": "check", "type": "split-based-on", "properties": {"input": "{{flow.variables.n}}"},
         "transitions": [{"event": "noMatch", "next": "bump"},
                         {"event": "match", "next": "done_msg", "conditions": [
                             {"friendly_name": "n > 3", "arguments": ["{{flow.variables.n}}"], "type": "greater_than", "value": "3"}]}]},
        {"name": "done_msg", "type": "send-message", "transitions": [{"event": "sent"}], "properties": {"body": "done"}},
    ])
    before = files_under(repo)
    result = run_cli("import", str(path), cwd=repo)
    assert result.returncode == 1
    assert "was not written" in result.stderr and "CF105" in result.stderr and "would spin" in result.stderr
    assert files_under(repo) == before


def test_a_corrupt_studio_file_is_refused(repo: Path, tmp_path: Path):
    path = tmp_path / "flow.json"
    path.write_text('{"states": [{"name": "Trigger", "type": "trigger"}], "initial_state": "Trigger"')
    result = run_cli("import", str(path), "--from", "twilio-studio", cwd=repo)
    assert result.returncode == 1 and "is not valid JSON" in result.stderr


def test_from_twilio_studio_on_a_chatflow_export_is_refused(repo: Path, tmp_path: Path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "chatflow.export/v1", "name": "x", "spec": {}}))
    result = run_cli("import", str(path), "--from", "twilio-studio", cwd=repo)
    assert result.returncode == 1
    assert "is not a Twilio Studio flow definition: it has no `states` and `initial_state`" in result.stderr


# ---- Liquid, piece by piece ------------------------------------------------------------------


def _convert(states: list[dict[str, Any]], **kwargs: Any):
    return twilio.convert({"states": states, "initial_state": "Trigger"}, "t", **kwargs)


def _one_message(body: str):
    imported = _convert([
        {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingMessage", "next": "m"}]},
        {"name": "m", "type": "send-message", "transitions": [{"event": "sent"}], "properties": {"body": body}},
    ], trigger="whatsapp")
    return imported.flow["spec"]["nodes"]["m"]["text"], imported


@pytest.mark.parametrize("liquid, jinja", [
    ("Hello", "Hello"),
    ("Hi {{contact.channel.address}}", "Hi {{ contact.phone }}"),
    ("{{flow.variables.Full-Name | downcase}}", "{{ vars.full_name | lower }}"),
    ("{{ flow.variables.x | append: '!' }}", "{{ vars.x ~ '!' }}"),
    ("{{- flow.variables.x -}}", "{{- vars.x -}}"),
    ("{% unless flow.variables.vip %}Standard{% endunless %}", "{% if not (vars.vip) %}Standard{% endif %}"),
    ("{% if flow.variables.n > 1 %}many{% elsif flow.variables.n == 1 %}one{% else %}none{% endif %}",
     "{% if vars.n > 1 %}many{% elif vars.n == 1 %}one{% else %}none{% endif %}"),
    ("{% for item in flow.variables.items %}{{item}};{% endfor %}", "{% for item in vars.items %}{{ item }};{% endfor %}"),
])
def test_liquid_templates_become_jinja(liquid: str, jinja: str):
    text, imported = _one_message(liquid)
    assert text == jinja
    assert imported.warnings == []


def test_an_unknown_liquid_filter_is_left_out_with_a_warning():
    text, imported = _one_message("{{flow.variables.d | date: '%Y'}}")
    assert text == "{{ vars.d }}"
    assert imported.warnings == ["widget `m`: Liquid filter `date` has no equivalent; it is left out"]


def test_an_unconvertible_tag_is_kept_as_literal_text_with_a_warning():
    text, imported = _one_message("{% case flow.variables.x %}{% when 'a' %}A{% endcase %}")
    assert text.startswith("{% raw %}{% case") and text.endswith("{% endraw %}")
    assert expressions.render(text, {}) == "{% case flow.variables.x %}{% when 'a' %}A{% endcase %}"
    assert "could not be converted (the `case` tag has no equivalent); it is kept as literal text" in imported.warnings[0]


def test_a_variable_without_equivalent_is_declared_empty_and_named_in_a_warning():
    text, imported = _one_message("Call SID {{trigger.call.CallSid}}")
    assert text == "Call SID {{ vars.studio_trigger_call_callsid }}"
    assert imported.flow["spec"]["variables"] == {"studio_trigger_call_callsid": {"type": "string", "default": ""}}
    assert "reads {{trigger.call.CallSid}}, which has no chatflow equivalent" in imported.warnings[0]


def test_the_initial_state_must_be_a_trigger():
    with pytest.raises(DraftError, match="initial_state `Trigger` is a send-message, not a trigger"):
        _convert([{"name": "Trigger", "type": "send-message", "transitions": []}])


def test_two_states_with_one_name_are_refused():
    with pytest.raises(DraftError, match="two states named `a`"):
        _convert([{"name": "Trigger", "type": "trigger", "transitions": []},
                  {"name": "a", "type": "send-message"}, {"name": "a", "type": "send-message"}])
