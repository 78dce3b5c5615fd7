"""What the Messenger and Instagram adapters send, and how they degrade buttons, lists and media."""

from __future__ import annotations

import pytest

from controller.channels import RenderError
from controller.channels.instagram import InstagramAdapter
from controller.channels.messenger import MessengerAdapter
from controller.engine.messages import OutboundMessage, OutButton, OutList, OutMedia, OutRow, OutSection, OutTemplate

from .conftest import account

fb = MessengerAdapter()
ig = InstagramAdapter()
PSID = "6822119311157373"


def render(adapter, message: OutboundMessage) -> dict:
    return adapter.render(account(adapter.name), PSID, message)


def envelope(message: dict) -> dict:
    return {"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": message}


def quick(option_id: str, title: str) -> dict:
    return {"content_type": "text", "title": title, "payload": option_id}


@pytest.mark.parametrize("adapter", [fb, ig])
def test_text_is_a_response(adapter):
    assert render(adapter, OutboundMessage(text="Hi there")) == envelope({"text": "Hi there"})


@pytest.mark.parametrize("adapter", [fb, ig])
def test_buttons_are_quick_replies_with_the_id_as_payload(adapter):
    assert render(adapter, OutboundMessage(text="Pick", buttons=(OutButton("red", "Red"), OutButton("blue", "Blue")))) \
        == envelope({"text": "Pick", "quick_replies": [quick("red", "Red"), quick("blue", "Blue")]})


@pytest.mark.parametrize("adapter", [fb, ig])
def test_thirteen_buttons_are_quick_replies_and_fourteen_numbered_text(adapter):
    thirteen = tuple(OutButton(f"o{i}", f"Option {i}") for i in range(1, 14))
    assert len(render(adapter, OutboundMessage(text="Pick", buttons=thirteen))["message"]["quick_replies"]) == 13
    fourteen = thirteen + (OutButton("o14", "Option 14"),)
    assert render(adapter, OutboundMessage(text="Pick", buttons=fourteen)) == envelope(
        {"text": "Pick\n\n" + "\n".join(f"{i}. Option {i}" for i in range(1, 15))})


@pytest.mark.parametrize("adapter", [fb, ig])
def test_a_list_becomes_quick_replies_titles_cut_to_twenty(adapter):
    menu = OutList("Choose", (OutSection("Speed", (OutRow("express", "Express delivery today!", "fast"),
                                                   OutRow("standard", "Standard"))),))
    assert render(adapter, OutboundMessage(text="How fast?", list=menu)) == envelope(
        {"text": "How fast?", "quick_replies": [quick("express", "Express delivery to…"), quick("standard", "Standard")]})


@pytest.mark.parametrize("adapter", [fb, ig])
def test_a_list_of_more_than_thirteen_rows_becomes_numbered_text_with_descriptions(adapter):
    rows = tuple(OutRow(f"r{i}", f"Row {i}", "about it" if i == 1 else None) for i in range(1, 15))
    body = render(adapter, OutboundMessage(text="Pick", list=OutList("Go", (OutSection("All", rows),))))
    assert body == envelope({"text": "Pick\n\nAll\n1. Row 1 - about it\n" + "\n".join(f"{i}. Row {i}" for i in range(2, 15))})


@pytest.mark.parametrize("adapter,limit", [(fb, 2000), (ig, 1000)])
def test_text_over_the_channel_limit_is_truncated(adapter, limit):
    text = render(adapter, OutboundMessage(text="x" * 3000))["message"]["text"]
    assert len(text) == limit and text.endswith("…")


@pytest.mark.parametrize("adapter,kind,sent_as", [
    (fb, "image", "image"), (fb, "video", "video"), (fb, "audio", "audio"), (fb, "document", "file"),
    (ig, "image", "image"), (ig, "video", "video"), (ig, "audio", "audio")])
def test_media_is_an_attachment_by_url_and_the_caption_is_dropped(adapter, kind, sent_as):
    assert render(adapter, OutboundMessage(media=OutMedia(kind, "https://cdn.example.com/f", "caption"))) == envelope(
        {"attachment": {"type": sent_as, "payload": {"url": "https://cdn.example.com/f", "is_reusable": True}}})


def test_instagram_sends_a_document_as_a_link_under_its_caption():
    assert render(ig, OutboundMessage(media=OutMedia("document", "https://cdn.example.com/r.pdf", "Your receipt"))) \
        == envelope({"text": "Your receipt\nhttps://cdn.example.com/r.pdf"})


@pytest.mark.parametrize("adapter", [fb, ig])
def test_a_whatsapp_template_cannot_be_sent(adapter):
    with pytest.raises(RenderError, match="no WhatsApp-style message templates"):
        render(adapter, OutboundMessage(template=OutTemplate("order_update", "en_US")))


def test_messaging_type_can_be_set_for_business_initiated_sends():
    update = MessengerAdapter(messaging_type="UPDATE")
    assert render(update, OutboundMessage(text="Your order shipped"))["messaging_type"] == "UPDATE"
