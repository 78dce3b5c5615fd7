"""What the WhatsApp adapter sends for each message shape, and how it degrades the rest."""

from __future__ import annotations

import pytest

from controller.channels import RenderError
from controller.channels.whatsapp import WhatsAppAdapter
from controller.engine.messages import (
    OutboundMessage,
    OutButton,
    OutList,
    OutMedia,
    OutRow,
    OutSection,
    OutTemplate,
)

from .conftest import account

wa = WhatsAppAdapter()
TO = "16505551234"
ENVELOPE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO}


def render(message: OutboundMessage) -> dict:
    return wa.render(account("whatsapp"), TO, message)


def buttons(n: int) -> tuple[OutButton, ...]:
    return tuple(OutButton(f"b{i}", f"Choice {i}") for i in range(1, n + 1))


def test_text():
    assert render(OutboundMessage(text="Hello!")) == {
        **ENVELOPE, "type": "text", "text": {"preview_url": False, "body": "Hello!"}}


def test_text_with_a_link_asks_for_a_preview():
    assert render(OutboundMessage(text="See https://example.com"))["text"]["preview_url"] is True


def test_up_to_three_buttons_are_reply_buttons():
    assert render(OutboundMessage(text="What do you need?", buttons=(
            OutButton("track", "Track my order"), OutButton("agent", "Talk to a person")))) == {
        **ENVELOPE, "type": "interactive", "interactive": {
            "type": "button", "body": {"text": "What do you need?"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": "track", "title": "Track my order"}},
                {"type": "reply", "reply": {"id": "agent", "title": "Talk to a person"}}]}}}


def test_four_to_ten_buttons_become_a_list_message():
    assert render(OutboundMessage(text="Pick one", buttons=buttons(4))) == {
        **ENVELOPE, "type": "interactive", "interactive": {
            "type": "list", "body": {"text": "Pick one"}, "action": {"button": "Options", "sections": [{"rows": [
                {"id": "b1", "title": "Choice 1"}, {"id": "b2", "title": "Choice 2"},
                {"id": "b3", "title": "Choice 3"}, {"id": "b4", "title": "Choice 4"}]}]}}}
    assert len(render(OutboundMessage(text="Pick", buttons=buttons(10)))["interactive"]["action"]["sections"][0]["rows"]) == 10


def test_more_than_ten_buttons_become_numbered_text():
    body = render(OutboundMessage(text="Pick one", buttons=buttons(11)))
    assert body == {**ENVELOPE, "type": "text", "text": {"preview_url": False, "body": (
        "Pick one\n\n" + "\n".join(f"{i}. Choice {i}" for i in range(1, 12)))}}


def test_list_message():
    menu = OutList(button="Delivery", sections=(
        OutSection("Fast", (OutRow("express", "Express", "Next day to 2 days"),)),
        OutSection("Cheap", (OutRow("standard", "Standard"),)),
    ))
    assert render(OutboundMessage(text="How fast?", list=menu)) == {
        **ENVELOPE, "type": "interactive", "interactive": {
            "type": "list", "body": {"text": "How fast?"}, "action": {"button": "Delivery", "sections": [
                {"title": "Fast", "rows": [{"id": "express", "title": "Express", "description": "Next day to 2 days"}]},
                {"title": "Cheap", "rows": [{"id": "standard", "title": "Standard"}]}]}}}


def test_several_sections_without_titles_get_one_because_whatsapp_requires_it():
    menu = OutList(button="Go", sections=(OutSection(None, (OutRow("a", "A"),)), OutSection(None, (OutRow("b", "B"),))))
    sections = render(OutboundMessage(text="?", list=menu))["interactive"]["action"]["sections"]
    assert [s["title"] for s in sections] == ["Options", "Options"]


def test_a_list_over_ten_rows_becomes_numbered_text_with_section_lines():
    menu = OutList(button="Go", sections=(
        OutSection("Fruit", tuple(OutRow(f"f{i}", f"Fruit {i}") for i in range(1, 7))),
        OutSection("Veg", tuple(OutRow(f"v{i}", f"Veg {i}", "fresh") for i in range(1, 6))),
    ))
    body = render(OutboundMessage(text="Pick", list=menu))["text"]["body"]
    assert body == ("Pick\n\nFruit\n" + "\n".join(f"{i}. Fruit {i}" for i in range(1, 7)) + "\nVeg\n"
                    + "\n".join(f"{i + 6}. Veg {i} - fresh" for i in range(1, 6)))


def test_titles_longer_than_whatsapp_allows_are_cut_with_an_ellipsis():
    body = render(OutboundMessage(text="?", buttons=(OutButton("x", "A title much longer than twenty"),)))
    assert body["interactive"]["action"]["buttons"][0]["reply"]["title"] == "A title much longer…"
    menu = OutList(button="A very long list button label",
                   sections=(OutSection("S" * 30, (OutRow("r", "R" * 30, "D" * 80),)),))
    action = render(OutboundMessage(text="?", list=menu))["interactive"]["action"]
    assert action == {"button": "A very long list bu…", "sections": [{"title": "S" * 23 + "…", "rows": [
        {"id": "r", "title": "R" * 23 + "…", "description": "D" * 71 + "…"}]}]}


def test_text_over_4096_characters_is_truncated_not_split():
    body = render(OutboundMessage(text="a" * 5000))["text"]["body"]
    assert len(body) == 4096 and body.endswith("…")


def test_interactive_body_is_cut_to_1024_characters():
    body = render(OutboundMessage(text="b" * 2000, buttons=buttons(2)))["interactive"]["body"]["text"]
    assert len(body) == 1024 and body.endswith("…")


def test_numbered_text_cuts_the_prose_and_keeps_every_choice():
    body = render(OutboundMessage(text="p" * 5000, buttons=buttons(12)))["text"]["body"]
    assert len(body) <= 4096 and body.endswith("\n12. Choice 12") and "…\n\n1. Choice 1" in body


@pytest.mark.parametrize("kind", ["image", "video", "document"])
def test_media_by_link_with_caption(kind):
    assert render(OutboundMessage(media=OutMedia(kind, "https://cdn.example.com/f", "Your receipt"))) == {
        **ENVELOPE, "type": kind, kind: {"link": "https://cdn.example.com/f", "caption": "Your receipt"}}


def test_audio_carries_no_caption():
    assert render(OutboundMessage(media=OutMedia("audio", "https://cdn.example.com/a.ogg", "ignored"))) == {
        **ENVELOPE, "type": "audio", "audio": {"link": "https://cdn.example.com/a.ogg"}}


def test_template_with_body_parameters():
    assert render(OutboundMessage(template=OutTemplate("order_update", "en_US", ("Ana", "A-1001")))) == {
        **ENVELOPE, "type": "template", "template": {"name": "order_update", "language": {"code": "en_US"},
                                                     "components": [{"type": "body", "parameters": [
                                                         {"type": "text", "text": "Ana"},
                                                         {"type": "text", "text": "A-1001"}]}]}}


def test_template_without_parameters_has_no_components():
    assert render(OutboundMessage(template=OutTemplate("hello_world", "en_US")))["template"] == {
        "name": "hello_world", "language": {"code": "en_US"}}


@pytest.mark.parametrize("message,reason", [
    (OutboundMessage(), "exactly one of text, media or template"),
    (OutboundMessage(text="x", media=OutMedia("image", "https://x")), "exactly one"),
    (OutboundMessage(text="x", buttons=buttons(1), list=OutList("b", (OutSection(None, (OutRow("r", "R"),)),))),
     "buttons or a list, not both"),
    (OutboundMessage(media=OutMedia("image", "https://x"), buttons=buttons(1)), "go with a text message"),
    (OutboundMessage(text="   "), "text is empty"),
    (OutboundMessage(text="x", list=OutList("b", (OutSection(None, ()),))), "no rows"),
])
def test_messages_no_channel_can_send_are_render_errors(message, reason):
    with pytest.raises(RenderError, match=reason):
        render(message)
