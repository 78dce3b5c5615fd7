"""Which flow an inbound message goes to (DESIGN §7)."""

from __future__ import annotations

from controller.engine.entry import Begin, Resume, Unanswered, route

from .helpers import Chat, make_flow

NODES = {"start": {"type": "start", "next": "q"}, "q": {"type": "question", "text": "?", "next": "done"}, "done": {"type": "end"}}


def flow(name: str, keywords: list[str] | None = None):
    return make_flow(NODES, name=name, trigger={"type": "whatsapp", "account": "acme-wa", "keywords": keywords or []})


def test_a_live_session_takes_the_message_even_when_it_is_a_keyword():
    session = Chat(flow("a")).start().session
    assert route(session, "book", [flow("booking", ["book"])]) == Resume()


def test_a_keyword_equal_to_the_whole_text_trimmed_and_case_folded_starts_its_flow():
    booking = flow("booking", ["Book", "appointment"])
    result = route(None, "  BOOK ", [flow("default"), booking])
    assert isinstance(result, Begin) and result.flow.name == "booking" and result.by == "keyword"


def test_a_keyword_inside_a_longer_text_is_not_a_match_and_the_default_starts():
    result = route(None, "I want to book", [flow("booking", ["book"]), flow("default")])
    assert isinstance(result, Begin) and result.flow.name == "default" and result.by == "default"


def test_an_ended_session_does_not_hold_the_message():
    ended = Chat(make_flow({"start": {"type": "start", "next": "done"}, "done": {"type": "end"}})).start().session
    assert isinstance(route(ended, "hi", [flow("default")]), Begin)


def test_with_no_keyword_match_and_no_default_the_message_is_not_answered():
    assert route(None, "hello", [flow("booking", ["book"])]) == Unanswered()
    assert route(None, None, []) == Unanswered()
