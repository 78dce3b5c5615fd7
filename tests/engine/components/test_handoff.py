"""`handoff`: silent until released by the API or by its timeout."""

from __future__ import annotations

import datetime as dt

from controller.engine import Release

from ..helpers import Chat, make_flow, of_type, texts


def flow(timeout: str | None = "4h"):
    node = {"type": "handoff", "note": "help {{ contact.name }}", "next": "back"}
    if timeout:
        node["timeout"] = timeout
    return make_flow({
        "start": {"type": "start", "next": "human"},
        "human": node,
        "back": {"type": "message", "text": "The bot is back", "next": "done"},
        "done": {"type": "end"},
    })


def test_hands_over_with_the_rendered_note():
    step = Chat(flow()).start()
    assert step.session.status == "handed_over" and step.session.node == "human"
    assert of_type(step, "handoff.started")[0].fields["note"] == "help Ana"


def test_the_bot_is_silent_while_handed_over():
    c = Chat(flow())
    c.start()
    for text in ("hello?", "menu", "stop"):
        step = c.say(text)
        assert step.handled and texts(step) == [] and step.session.status == "handed_over"


def test_release_goes_on_at_next():
    c = Chat(flow())
    c.start()
    step = c.apply(Release())
    assert texts(step) == ["The bot is back"]
    assert of_type(step, "handoff.released")[0].fields["by"] == "release"


def test_timeout_releases_too():
    c = Chat(flow("4h"))
    step = c.start()
    assert step.session.deadline.kind == "handoff" and step.session.deadline.at == c.now + dt.timedelta(hours=4)
    step = c.fire()
    assert texts(step) == ["The bot is back"]
    assert of_type(step, "handoff.released")[0].fields["by"] == "timeout"


def test_release_of_a_conversation_that_is_not_handed_over_does_nothing():
    f = make_flow({
        "start": {"type": "start", "next": "q"},
        "q": {"type": "question", "text": "?", "next": "done"},
        "done": {"type": "end"},
    })
    c = Chat(f)
    c.start()
    step = c.apply(Release())
    assert not step.handled and step.events == () and step.session == c.steps[0].session


def test_without_a_timeout_a_handoff_still_expires():
    c = Chat(flow(None))
    step = c.start()
    assert step.session.deadline.kind == "expiry"
    assert c.fire().session.status == "expired"


def test_a_note_that_fails_to_render_is_logged_and_ends_the_conversation():
    f = make_flow({
        "start": {"type": "start", "next": "human"},
        "human": {"type": "handoff", "note": "{{ 1 / 0 }}", "next": "done"},
        "done": {"type": "end"},
    })
    step = Chat(f).start()
    assert step.session.outcome == "failed" and of_type(step, "handoff.started") == []
    assert "note:" in of_type(step, "error")[0].fields["message"]
