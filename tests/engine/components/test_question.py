"""`question`: expectations, choice matching, re-prompts, on_invalid, timeout, save_as."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.engine import Inbound

from ..helpers import Chat, make_flow, of_type, texts


def ask(**question) -> dict:
    return {
        "start": {"type": "start", "next": "q"},
        "q": {"type": "question", "text": "Your answer?", "save_as": "answer", "next": "ok", **question},
        "ok": {"type": "message", "text": "got {{ vars.answer }}", "next": "done"},
        "done": {"type": "end", "outcome": "answered"},
    }


def chat(**question) -> Chat:
    c = Chat(make_flow(ask(**question)))
    c.start()
    return c


def test_asks_and_waits_at_the_question():
    c = Chat(make_flow(ask()))
    step = c.start()
    assert texts(step) == ["Your answer?"]
    assert step.session.status == "waiting" and step.session.node == "q"


def test_the_message_that_starts_the_flow_is_not_the_answer_to_its_first_wait():
    c = Chat(make_flow(ask(expect="number")))
    step = c.start("42")
    assert texts(step) == ["Your answer?"]
    assert "answer" not in step.session.vars and step.session.node == "q"


@pytest.mark.parametrize(
    "expect, said, saved",
    [
        ("text", "  hello there ", "hello there"),
        ("number", "42", 42),
        ("number", " 3.5 ", 3.5),
        ("number", "1,250", 1250),
        ("email", " ana@example.com ", "ana@example.com"),
        ("phone", "+1 (555) 000-2222", "+15550002222"),
        ("phone", "0612 345 678", "0612345678"),
        ("date", "2026-12-01", "2026-12-01"),
        ("date", "1/12/2026", "2026-12-01"),
    ],
)
def test_a_valid_answer_is_saved_in_its_type_and_the_flow_goes_on(expect, said, saved):
    c = chat(expect=expect)
    step = c.say(said)
    assert step.session.vars["answer"] == saved
    assert step.session.outcome == "answered"
    assert texts(step) == [f"got {saved}"]


@pytest.mark.parametrize(
    "expect, said",
    [
        ("number", "forty-two"),
        ("email", "ana at example"),
        ("email", "ana@localhost"),
        ("phone", "call me"),
        ("phone", "12345"),
        ("date", "next tuesday"),
        ("text", "   "),
    ],
)
def test_an_invalid_answer_is_not_saved_and_re_prompts(expect, said):
    c = chat(expect=expect, invalid_text="Try again")
    step = c.say(said)
    assert texts(step) == ["Try again"]
    assert "answer" not in step.session.vars
    assert step.session.node == "q" and step.session.retries == 1


def test_re_prompt_without_invalid_text_repeats_the_question_with_its_buttons():
    c = chat(buttons=["Yes", "No"])
    step = c.say("maybe")
    [again] = step.messages
    assert again.message.text == "Your answer?"
    assert [b.title for b in again.message.buttons] == ["Yes", "No"]


def test_retries_then_on_invalid():
    nodes = ask(expect="number", retries=2, invalid_text="Digits please", on_invalid="human")
    nodes["human"] = {"type": "handoff", "next": "done"}
    c = Chat(make_flow(nodes))
    c.start()
    assert texts(c.say("a")) == ["Digits please"]
    assert texts(c.say("b")) == ["Digits please"]
    step = c.say("c")
    assert texts(step) == []
    assert step.session.node == "human" and step.session.status == "handed_over"
    assert [e.fields["retry"] for e in of_type(step, "answer.invalid")] == [None]


def test_without_on_invalid_the_conversation_ends_after_the_retries():
    c = chat(expect="number", retries=0)
    step = c.say("nope")
    assert step.session.status == "ended" and step.session.outcome == "invalid"


def test_a_valid_answer_resets_the_retry_count_for_the_next_question():
    nodes = ask(expect="number", retries=1)
    nodes["ok"] = {"type": "question", "text": "Again?", "expect": "number", "retries": 1, "save_as": "second", "next": "done"}
    c = Chat(make_flow(nodes))
    c.start()
    c.say("x")
    assert c.say("1").session.retries == 0
    assert texts(c.say("y")) == ["Again?"]  # one retry is still available at the second question


def test_unsupported_inbound_counts_as_invalid():
    c = chat(expect="text", invalid_text="Text please")
    step = c.apply(Inbound(None, None, "unsupported"))
    assert texts(step) == ["Text please"] and step.session.retries == 1
    step = c.apply(Inbound("a caption", None, "media"))
    assert texts(step) == ["Text please"] and step.session.retries == 2


# ---- choices ------------------------------------------------------------------------------------


def choice_chat() -> Chat:
    return chat(buttons=[{"id": "track", "title": "Track my order"}, {"id": "agent", "title": "Talk to a person"}])


def test_choice_is_the_default_with_buttons_and_saves_the_tapped_option_id():
    c = choice_chat()
    step = c.tap("agent", "Talk to a person")
    assert step.session.vars["answer"] == "agent"
    assert step.session.reply.id == "agent" and step.session.reply.text == "Talk to a person"


def test_typed_text_equal_to_a_title_trimmed_and_case_folded_is_that_choice():
    c = choice_chat()
    assert c.say("  TRACK   my Order ").session.vars["answer"] == "track"


def test_the_number_of_an_option_chooses_it_as_on_channels_that_show_numbered_text():
    c = choice_chat()
    assert c.say("2").session.vars["answer"] == "agent"


def test_anything_else_is_an_invalid_choice():
    c = choice_chat()
    step = c.say("track")  # an id typed is not a title
    assert "answer" not in step.session.vars and step.session.retries == 1
    step = c.say("3")
    assert step.session.retries == 2


def test_a_tap_on_an_unknown_id_falls_back_to_its_title():
    c = choice_chat()
    assert c.tap("old-id", "Track my order").session.vars["answer"] == "track"


def test_list_rows_are_choices_too():
    c = chat(list={"button": "Pick", "sections": [{"rows": [{"id": "r1", "title": "Red"}]}, {"rows": [{"id": "b1", "title": "Blue"}]}]})
    assert c.apply(Inbound("Blue", "b1", "list")).session.vars["answer"] == "b1"


def test_button_titles_are_templates_and_match_as_rendered():
    c = chat(buttons=[{"id": "me", "title": "I am {{ contact.name }}"}])
    assert c.say("i am ana").session.vars["answer"] == "me"


def test_expect_text_with_buttons_takes_any_text_and_notes_a_tapped_id():
    c = chat(expect="text", buttons=["Yes"])
    step = c.tap("Yes", "Yes")
    assert step.session.vars["answer"] == "Yes" and step.session.reply.id == "Yes"


def test_reply_names_the_last_answer_in_templates():
    nodes = ask()
    nodes["ok"] = {"type": "message", "text": "you said {{ reply.text }} / {{ message.text }}", "next": "done"}
    c = Chat(make_flow(nodes))
    c.start("hello")
    assert texts(c.say("blue")) == ["you said blue / blue"]


# ---- timeout ------------------------------------------------------------------------------------


def test_timeout_takes_the_timeout_branch_and_saves_nothing():
    nodes = ask(timeout={"after": "15m", "next": "nudge"})
    nodes["nudge"] = {"type": "message", "text": "Still there?", "next": "done"}
    c = Chat(make_flow(nodes))
    step = c.start()
    assert step.session.deadline.kind == "question"
    assert step.session.deadline.at == c.now + dt.timedelta(minutes=15)
    step = c.fire()
    assert texts(step) == ["Still there?"]
    assert "answer" not in step.session.vars and step.session.is_final


def test_a_re_prompt_restarts_the_timeout():
    c = chat(expect="number", timeout={"after": "10m", "next": "done"})
    c.later(minutes=8)
    step = c.say("x")
    assert step.session.deadline.at == c.now + dt.timedelta(minutes=10)


def test_save_as_is_optional():
    nodes = ask()
    del nodes["q"]["save_as"]
    c = Chat(make_flow(nodes))
    c.start()
    step = c.say("whatever")
    assert step.session.vars == {} and step.session.reply.text == "whatever"


def test_a_channel_event_of_a_tapped_button_answers_a_choice():
    from controller.engine.messages import Contact, InboundEvent

    sticker = InboundEvent("whatsapp", "106540352242922", "message", Contact("15550002222"), "wamid.1", "unsupported")
    tap = InboundEvent("whatsapp", "106540352242922", "message", Contact("15550002222"), "wamid.2", "button", "Talk to a person", "agent")
    c = choice_chat()
    assert c.apply(Inbound.from_event(sticker)).session.retries == 1
    assert c.apply(Inbound.from_event(tap)).session.vars["answer"] == "agent"
