"""`delay`: a stored deadline; messages meanwhile change nothing."""

from __future__ import annotations

import datetime as dt

from ..helpers import Chat, make_flow, texts


def flow():
    return make_flow({
        "start": {"type": "start", "next": "wait"},
        "wait": {"type": "delay", "duration": "2h", "next": "later"},
        "later": {"type": "message", "text": "Two hours later", "next": "done"},
        "done": {"type": "end"},
    })


def test_waits_for_its_duration_then_goes_on():
    c = Chat(flow())
    step = c.start()
    assert texts(step) == [] and step.session.status == "waiting"
    assert step.session.deadline.kind == "delay" and step.session.deadline.at == c.now + dt.timedelta(hours=2)
    assert texts(c.fire()) == ["Two hours later"]


def test_a_message_during_the_delay_is_taken_and_changes_nothing():
    c = Chat(flow())
    c.start()
    before = c.session
    step = c.later(minutes=5).say("hello?")
    assert step.handled and texts(step) == []
    assert step.session.node == "wait" and step.session.deadline == before.deadline
    assert step.session.message.text == "hello?"


def test_the_delay_survives_a_restart_as_a_stored_deadline():
    c = Chat(flow())
    c.start()
    stored = c.session.to_json()
    assert stored["wait"] == {"at": (c.now + dt.timedelta(hours=2)).isoformat(), "kind": "delay"}
