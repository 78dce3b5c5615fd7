"""The runtime API of `chatflow serve`: manual trigger, executions, conversations (list, release,
end) and stateless test conversations."""

from __future__ import annotations

import datetime as dt

import pytest

from .harness import Chat, flow
from .payloads import wa_text

REMINDER = """\
  variables:
    phone: {type: string}
    first_name: {type: string, default: there}
    cart_total: {type: number, default: 0}
"""
REMINDER_NODES = """\
    start: {type: start, next: hello}
    hello: {type: message, text: "Hi {{ vars.first_name }}, your cart holds {{ vars.cart_total }}.", next: ops}
    ops: {type: send, account: wa, to: "{{ vars.phone }}", text: "Reminder sent to {{ contact.name }}", next: ask}
    ask: {type: question, text: "Want it delivered?", buttons: [Yes, No], save_as: deliver, next: done}
    done: {type: end, outcome: reminded}
"""
AGENT_NODES = """\
    start: {type: start, next: agent}
    agent: {type: handoff, note: billing, next: back}
    back: {type: message, text: The bot is back., next: done}
    done: {type: end}
"""


@pytest.fixture
def chat(repo, fake):
    repo.write("flows.d/reminder.yaml", flow("reminder", "manual", None, REMINDER_NODES, extra=REMINDER))
    repo.write("flows.d/draft.yaml", flow("draft", "manual", None, REMINDER_NODES, extra=REMINDER, state="unpublished"))
    repo.commit("manual flows")
    with Chat(repo.path) as served:
        yield served


def trigger(chat: Chat, flow_name: str = "reminder", address: str = "15550004444", **body):
    body.setdefault("contact", {"channel": "whatsapp", "account": "wa", "address": address, "name": "Ana"})
    return chat.client.post(f"/api/v1/flows/{flow_name}/executions", json=body)


# ---- manual trigger --------------------------------------------------------------------------------


def test_a_manual_trigger_starts_the_published_flow_with_its_declared_inputs(chat, fake):
    answer = trigger(chat, variables={"first_name": "Ana", "cart_total": "150", "phone": "15550009999",
                                      "coupon": "SECRET"}, outId="crm-42")
    assert answer.status_code == 201
    execution = answer.json()
    assert answer.headers["location"] == f"/api/v1/executions/{execution['id']}"
    assert (execution["flow"], execution["status"], execution["node"], execution["outId"]) == ("reminder", "waiting", "ask", "crm-42")
    assert execution["context"]["trigger"] == {"first_name": "Ana", "cart_total": 150, "phone": "15550009999"}
    started = next(s for s in execution["steps"] if s["type"] == "flow.started")
    assert started["dropped"] == ["coupon"]  # undeclared inputs are dropped
    fake.wait_for(3)
    assert fake.texts(to="15550004444") == ["Hi Ana, your cart holds 150.", "Want it delivered?"]
    assert fake.texts(to="15550009999") == ["Reminder sent to Ana"]


def test_the_contact_answers_a_manually_started_conversation_through_the_webhook(chat, fake):
    started = trigger(chat, variables={"phone": "15550009999"}).json()
    fake.wait_for(3)
    chat.wa(wa_text("15550004444", "Yes"))
    chat.wait_for(lambda: chat.execution(started["id"])["status"] == "ended", what="the end")
    execution = chat.execution(started["id"])
    assert execution["outcome"] == "reminded" and execution["context"]["vars"]["deliver"] == "Yes"


def test_a_repeated_idempotency_key_returns_the_first_execution(chat, fake):
    first = trigger(chat, idempotencyKey="campaign-7/ana", variables={"phone": "15550009999"})
    again = trigger(chat, idempotencyKey="campaign-7/ana", variables={"phone": "15550009999"}, restart=True)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    fake.wait_for(3)
    assert len(chat.conversations(flow="reminder")) == 1


def test_a_request_past_its_discard_time_is_refused(chat, fake):
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)).isoformat()
    answer = trigger(chat, discardAfter=past)
    assert answer.status_code == 422 and answer.json()["reason"] == "Discarded"
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).isoformat()
    assert trigger(chat, discardAfter=future, variables={"phone": "1555"}).status_code == 201
    assert len(chat.conversations()) == 1


def test_unknown_unpublished_and_message_flows_cannot_be_triggered(chat):
    assert trigger(chat, "nope").status_code == 404
    draft = trigger(chat, "draft")
    assert draft.status_code == 404 and "not published" in draft.json()["error"]
    orders = trigger(chat, "orders")
    assert orders.status_code == 422 and orders.json()["reason"] == "NotManual"
    assert chat.conversations() == []


def test_a_contact_in_a_live_conversation_is_a_conflict_unless_restart(chat, fake):
    first = trigger(chat, variables={"phone": "15550009999"}).json()
    clash = trigger(chat, variables={"phone": "15550009999"})
    assert clash.status_code == 409 and clash.json()["session"] == first["id"]
    restarted = trigger(chat, variables={"phone": "15550009999"}, restart=True)
    assert restarted.status_code == 201
    assert chat.execution(first["id"])["status"] == "ended" and chat.execution(first["id"])["outcome"] == "restarted"
    assert chat.execution(restarted.json()["id"])["status"] == "waiting"


def test_bad_trigger_requests_say_what_is_wrong(chat):
    cases = [
        ({"contact": {"channel": "telegram", "account": "wa", "address": "1"}}, 422, "contact.channel"),
        ({"contact": {"channel": "whatsapp", "account": "wa"}}, 422, "contact.address"),
        ({"contact": {"channel": "whatsapp", "account": "wa", "address": "1"}, "extra": 1}, 422, "extra"),
        ({"contact": {"channel": "whatsapp", "account": "wa", "address": "1"}, "discardAfter": "tomorrow"}, 422, "discardAfter"),
    ]
    for body, status, where in cases:
        answer = chat.client.post("/api/v1/flows/reminder/executions", json=body)
        assert answer.status_code == status, body
        assert any(p["path"].startswith(where) for p in answer.json()["problems"]), answer.json()
    broken = chat.client.post("/api/v1/flows/reminder/executions", content=b"{oops")
    assert broken.status_code == 400
    wrong_channel = trigger(chat, contact={"channel": "viber", "account": "wa", "address": "1"})
    assert wrong_channel.status_code == 422 and wrong_channel.json()["reason"] == "ChannelMismatch"
    nobody = trigger(chat, contact={"channel": "whatsapp", "account": "ghost", "address": "1"})
    assert nobody.status_code == 422 and nobody.json()["reason"] == "UnknownAccount"
    assert chat.conversations() == []


# ---- executions and conversations ---------------------------------------------------------------


def test_an_execution_shows_its_steps_context_and_messages(chat, fake):
    started = trigger(chat, variables={"phone": "15550009999", "first_name": "Ana"}).json()
    fake.wait_for(3)
    chat.wait_for(lambda: all(m["status"] == "sent" for m in chat.execution(started["id"])["messages"]), what="sent")
    execution = chat.execution(started["id"])
    nodes = [s["node"] for s in execution["steps"] if s["type"] == "node.entered"]
    assert nodes == ["start", "hello", "ops", "ask"]
    assert execution["context"]["contact"] == {"id": "15550004444", "name": "Ana", "phone": "+15550004444"}
    assert [(m["to"], m["status"]) for m in execution["messages"]] == [
        ("15550004444", "sent"), ("15550009999", "sent"), ("15550004444", "sent")]
    assert chat.client.get("/api/v1/executions/nope").status_code == 404


def test_conversations_are_listed_by_flow_and_status(chat, fake):
    trigger(chat, address="1", variables={"phone": "9"})
    chat.wa(wa_text("15550002222", "hi"))
    chat.wait_for(lambda: len(chat.conversations()) == 2, what="two conversations")
    assert [c["flow"] for c in chat.conversations(flow="orders")] == ["orders"]
    assert len(chat.conversations(status="waiting")) == 2 and chat.conversations(status="ended") == []
    assert chat.client.get("/api/v1/conversations", params={"status": "sleeping"}).status_code == 400


def test_release_ends_a_handoff_and_end_stops_a_conversation(repo, fake):
    repo.write("flows.d/orders.yaml", flow("orders", "whatsapp", "wa", AGENT_NODES))
    repo.commit("handoff")
    with Chat(repo.path) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        chat.wait_for(lambda: chat.conversations(status="handed_over"), what="handed over")
        (conversation,) = chat.conversations()
        released = chat.client.post(f"/api/v1/conversations/{conversation['id']}/release")
        assert released.status_code == 200 and released.json()["status"] == "ended"
        (back,) = fake.wait_for(1)
        assert back.text == "The bot is back."
        again = chat.client.post(f"/api/v1/conversations/{conversation['id']}/release")
        assert again.status_code == 409 and again.json()["reason"] == "NotHandedOver"
        chat.wa(wa_text("15550003333", "hi"))
        chat.wait_for(lambda: len(chat.conversations(status="handed_over")) == 1, what="second handoff")
        (second,) = chat.conversations(status="handed_over")
        ended = chat.client.post(f"/api/v1/conversations/{second['id']}/end")
        assert ended.status_code == 200 and (ended.json()["status"], ended.json()["outcome"]) == ("ended", "stopped")
        assert chat.client.post(f"/api/v1/conversations/{second['id']}/end").status_code == 409
        assert chat.client.post("/api/v1/conversations/nope/end").status_code == 404


# ---- test conversations --------------------------------------------------------------------------


def test_the_test_api_runs_a_stateless_transcript(chat, fake):
    answer = chat.client.post("/api/v1/flows/orders/test", json={
        "say": ["hi", {"button": "track"}, "12"], "contact": {"name": "Bo"}})
    assert answer.status_code == 200
    steps = answer.json()["steps"]
    assert [s["replies"] for s in steps] == [
        [{"text": "Hi Bo! What do you need?", "buttons": ["Track my order", "Talk to a person"]}],
        [{"text": "Your order number?"}],
        [{"text": "Order 12 is on its way."}, {"text": "Bye!"}],
    ]
    assert steps[1]["node"] == "ask" and steps[2]["ended"] is True and steps[2]["vars"] == {"choice": "track", "order": 12}
    assert chat.conversations() == [] and fake.received == []  # nothing stored, nothing sent


def test_the_test_api_starts_a_manual_flow_with_its_variables_and_names_revisions(chat):
    answer = chat.client.post("/api/v1/flows/reminder/test", json={"variables": {"first_name": "Al", "phone": "1555"}, "revision": "1",
                                                                    "say": [{"timeout": True}]})
    assert answer.status_code == 200
    steps = answer.json()["steps"]
    assert [r["text"] for r in steps[0]["replies"]] == ["Hi Al, your cart holds 0.", "Reminder sent to ", "Want it delivered?"]
    assert steps[0]["replies"][1]["to"] == "1555" and steps[0]["node"] == "ask"
    assert (steps[1]["ended"], steps[1]["outcome"]) == (True, "expired")  # its only deadline: expireAfter
    assert chat.client.post("/api/v1/flows/reminder/test", json={"revision": "9"}).status_code == 404
    assert chat.client.post("/api/v1/flows/ghost/test", json={}).status_code == 404
    assert chat.client.post("/api/v1/flows/orders/test", json={"say": [{"say": "a", "button": "b"}]}).status_code == 422


def test_the_api_needs_the_token_when_one_is_set(repo):
    with Chat(repo.path, env={"CHATFLOW_API_TOKEN": "tok3n"}) as chat:
        for method, path in (("GET", "/api/v1/conversations"), ("POST", "/api/v1/flows/orders/test"),
                             ("GET", "/api/v1/executions/x"), ("POST", "/api/v1/flows/orders/executions"),
                             ("POST", "/api/v1/conversations/x/release"), ("POST", "/api/v1/conversations/x/end"),
                             ("GET", "/api/v1/flows/orders/events")):
            assert chat.client.request(method, path).status_code == 401, path
        assert chat.client.get("/api/v1/conversations", headers={"Authorization": "Bearer tok3n"}).status_code == 200
        assert chat.client.get("/api/v1/flows/orders/events", headers={"Authorization": "Bearer tok3n"}).status_code == 200
        described = chat.client.get("/openapi.json")  # open, like /healthz
        assert described.status_code == 200
        assert described.json()["paths"]["/api/v1/conversations"]["get"]["security"] == [{"bearer": []}]


def test_openapi_describes_the_requests_with_the_models_that_validate_them():
    from controller.web.openapi import document
    from controller.web.runtime_api import TestIn, TriggerIn

    doc = document()
    schemas = doc["components"]["schemas"]
    trigger = TriggerIn.model_json_schema(ref_template="#/components/schemas/{model}")
    trigger.pop("$defs")
    assert schemas["TriggerIn"] == trigger and "ContactIn" in schemas and "SayIn" in schemas
    post = doc["paths"]["/api/v1/flows/{name}/executions"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TriggerIn"}
    assert set(post["responses"]) == {"200", "201", "404", "409", "422"}
    assert doc["paths"]["/api/v1/flows/{name}/test"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TestIn"}
    assert TestIn.__name__ in schemas
    assert "security" not in doc["paths"]["/webhooks/{channel}/{account}"]["post"]
    events = doc["paths"]["/api/v1/flows/{name}/events"]["get"]
    assert [q["name"] for q in events["parameters"]] == ["name", "conversation", "since", "limit", "after"]
    assert set(events["responses"]) == {"200", "400", "404"} and events["security"] == [{"bearer": []}]
