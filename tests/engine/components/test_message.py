"""`message`: rendered text, media, templates, buttons and lists; goes straight on."""

from __future__ import annotations

from controller.engine.messages import OutButton, OutMedia, OutTemplate

from ..helpers import Chat, make_flow, of_type, texts


def test_text_is_rendered_with_contact_and_vars_then_the_flow_goes_on():
    flow = make_flow({
        "start": {"type": "start", "next": "set"},
        "set": {"type": "set", "values": {"n": "2 + 3"}, "next": "hello"},
        "hello": {"type": "message", "text": "Hi {{ contact.name }}, {{ vars.n }} items on {{ channel }}", "next": "done"},
        "done": {"type": "end"},
    })
    step = Chat(flow).start()
    assert texts(step) == ["Hi Ana, 5 items on whatsapp"]
    assert step.session.is_final


def test_unset_names_render_empty_never_as_none():
    flow = make_flow({
        "start": {"type": "start", "next": "hello"},
        "hello": {"type": "message", "text": "[{{ vars.missing }}][{{ reply.text }}][{{ trigger.x }}]", "next": "done"},
        "done": {"type": "end"},
    })
    assert texts(Chat(flow).start()) == ["[][][]"]


def test_buttons_as_strings_and_objects_keep_ids_and_render_titles():
    flow = make_flow({
        "start": {"type": "start", "next": "hello"},
        "hello": {"type": "message", "text": "Pick", "buttons": ["Yes", {"id": "n", "title": "No, {{ contact.name }}"}], "next": "done"},
        "done": {"type": "end"},
    })
    message = Chat(flow).start().messages[0].message
    assert message.buttons == (OutButton("Yes", "Yes"), OutButton("n", "No, Ana"))


def test_list_is_passed_with_sections_and_rows():
    flow = make_flow({
        "start": {"type": "start", "next": "hello"},
        "hello": {"type": "message", "text": "Menu", "next": "done",
                  "list": {"button": "Choose", "sections": [{"title": "Food", "rows": [{"id": "p", "title": "Pizza", "description": "hot"}]}]}},
        "done": {"type": "end"},
    })
    out = Chat(flow).start().messages[0].message.list
    assert out.button == "Choose"
    assert [(s.title, [(r.id, r.title, r.description) for r in s.rows]) for s in out.sections] == [("Food", [("p", "Pizza", "hot")])]


def test_media_and_template_fields_are_rendered():
    flow = make_flow({
        "start": {"type": "start", "next": "pic"},
        "pic": {"type": "message", "media": {"kind": "image", "url": "https://cdn.example/{{ contact.phone }}.png", "caption": "For {{ contact.name }}"}, "next": "tpl"},
        "tpl": {"type": "message", "template": {"name": "hello", "language": "en", "params": ["{{ contact.name }}", "x"]}, "next": "done"},
        "done": {"type": "end"},
    })
    pic, tpl = Chat(flow).start().messages
    assert pic.message.media == OutMedia("image", "https://cdn.example/+15550002222.png", "For Ana")
    assert tpl.message.template == OutTemplate("hello", "en", ("Ana", "x"))
    assert pic.to_contact and tpl.to_contact


def test_a_template_that_fails_at_run_time_is_logged_and_ends_the_conversation():
    flow = make_flow({
        "start": {"type": "start", "next": "hello"},
        "hello": {"type": "message", "text": "{{ 1 / 0 }}", "next": "done"},
        "done": {"type": "end", "outcome": "fine"},
    })
    step = Chat(flow).start()
    assert step.messages == []
    [error] = of_type(step, "error")
    assert error.node == "hello" and "division by zero" in error.fields["message"]
    assert step.session.status == "ended" and step.session.outcome == "failed"


def test_every_message_is_logged_as_queued():
    flow = make_flow({
        "start": {"type": "start", "next": "a"},
        "a": {"type": "message", "text": "one", "next": "b"},
        "b": {"type": "message", "text": "two", "next": "done"},
        "done": {"type": "end"},
    })
    step = Chat(flow).start()
    assert [e.node for e in of_type(step, "message.queued")] == ["a", "b"]
