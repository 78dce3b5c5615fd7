"""What execution events keep: message bodies only when configured, secrets never."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.engine.events import Execution
from controller.logs import SECRETS
from controller.runtime.privacy import EventPolicy, recorded

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
KEEP, WITHHOLD = EventPolicy(bodies=True), EventPolicy(bodies=False)


def event(type_: str, **fields) -> Execution:
    return Execution(type_, "s1", "shop", "a1a1a1a1a1a1", "ask", T0, fields)


@pytest.mark.parametrize("type_, fields, withheld", [
    ("message.received", {"type": "text", "text": "my card is 4111", "reply_id": None}, {"text": "[withheld]"}),
    ("message.queued", {"text": "Hi Ana, your order 42 is late"}, {"text": "[withheld]"}),
    ("var.set", {"name": "order", "value": 42}, {"value": "[withheld]"}),
    ("handoff.started", {"note": "Ana wants a refund"}, {"note": "[withheld]"}),
    ("http.call", {"method": "GET", "url": "https://api.example/orders/x?order=42&lang=en", "status": 200},
     {"url": "https://api.example/orders/x?order=[withheld]&lang=[withheld]"}),
])
def test_bodies_are_kept_by_default_and_withheld_when_configured(type_, fields, withheld):
    assert dict(recorded(event(type_, **fields), KEEP).fields) == fields
    quiet = recorded(event(type_, **fields), WITHHOLD)
    assert dict(quiet.fields) == {**fields, **withheld}
    assert (quiet.type, quiet.conversation, quiet.node, quiet.time) == (type_, "s1", "ask", T0)


def test_what_carries_no_body_is_kept_whole_either_way():
    for e in (event("flow.started", inputs=["order"], dropped=[]), event("node.entered", type="question"),
              event("flow.ended", outcome="told", status="ended"), event("message.queued", account="wa", to="1555"),
              event("var.set", name="order", value=None)):
        assert recorded(e, WITHHOLD).fields == e.fields


def test_secrets_are_masked_whatever_the_policy():
    SECRETS.add("resolved-secret-value-77")
    for policy in (KEEP, WITHHOLD):
        kept = recorded(event("error", message="POST failed: 401 for resolved-secret-value-77"), policy)
        assert kept.fields["message"] == "POST failed: 401 for ***"
        token = recorded(event("var.set", name="api_token", value="abc123"), policy)
        assert token.fields["value"] == "***"
        header = recorded(event("http.call", url="https://u:p@api.example/x", authorization="Bearer x"), policy)
        assert header.fields["authorization"] == "***" and "u:p@" not in header.fields["url"]
