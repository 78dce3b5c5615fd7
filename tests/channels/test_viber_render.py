"""What the Viber adapter sends: text, reply keyboards for choices, media, and the welcome message."""

from __future__ import annotations

import json

import pytest

from controller.channels import RenderError
from controller.channels.viber import ViberAdapter
from controller.engine.messages import OutboundMessage, OutButton, OutList, OutMedia, OutRow, OutSection, OutTemplate

from .conftest import account

viber = ViberAdapter()
USER = "01234567890A="
SENDER = {"name": "Acme Support"}


def render(message: OutboundMessage, **bot) -> dict:
    return viber.render(account("viber", **bot), USER, message)


def key(title: str) -> dict:
    return {"Columns": 6, "Rows": 1, "ActionType": "reply", "ActionBody": title, "Text": title, "TextSize": "regular"}


def test_text():
    assert render(OutboundMessage(text="Hello")) == {"receiver": USER, "sender": SENDER, "type": "text", "text": "Hello"}


def test_sender_avatar_is_sent_when_set():
    assert render(OutboundMessage(text="Hi"), senderAvatar="https://cdn.example.com/bot.png")["sender"] == {
        "name": "Acme Support", "avatar": "https://cdn.example.com/bot.png"}


def test_buttons_become_a_reply_keyboard_and_tracking_data_maps_titles_to_ids():
    body = render(OutboundMessage(text="What do you need?", buttons=(
        OutButton("track", "Track my order"), OutButton("agent", "Talk to a person"))))
    assert body == {
        "receiver": USER, "sender": SENDER, "type": "text", "text": "What do you need?",
        "keyboard": {"Type": "keyboard", "DefaultHeight": False, "Buttons": [key("Track my order"), key("Talk to a person")]},
        "tracking_data": 'chatflow:{"options":[["track","Track my order"],["agent","Talk to a person"]]}',
    }


def test_a_tap_on_the_keyboard_parses_back_to_the_option_id():
    sent = render(OutboundMessage(text="?", buttons=(OutButton("yes_please", "Yes"), OutButton("no_thanks", "No"))))
    callback = {"event": "message", "message_token": 1, "sender": {"id": USER},
                "message": {"type": "text", "text": "No", "tracking_data": sent["tracking_data"]}}
    [event] = viber.parse(json.dumps(callback).encode())
    assert (event.type, event.reply_id, event.text) == ("button", "no_thanks", "No")


def test_a_list_becomes_keyboard_buttons_one_per_row():
    menu = OutList("Choose", (OutSection("Fast", (OutRow("express", "Express", "next day"),)),
                              OutSection("Cheap", (OutRow("standard", "Standard"),))))
    body = render(OutboundMessage(text="How fast?", list=menu))
    assert body["keyboard"]["Buttons"] == [key("Express"), key("Standard")]
    assert body["tracking_data"] == 'chatflow:{"options":[["express","Express"],["standard","Standard"]]}'


def test_more_than_24_choices_become_numbered_text_without_keyboard():
    body = render(OutboundMessage(text="Pick", buttons=tuple(OutButton(f"o{i}", f"O{i}") for i in range(1, 26))))
    assert body == {"receiver": USER, "sender": SENDER, "type": "text",
                    "text": "Pick\n\n" + "\n".join(f"{i}. O{i}" for i in range(1, 26))}


def test_tracking_data_over_4000_characters_is_left_out():
    body = render(OutboundMessage(text="?", buttons=tuple(OutButton("i" * 200, f"T{i}") for i in range(24))))
    assert "tracking_data" not in body and len(body["keyboard"]["Buttons"]) == 24


def test_image_is_a_picture_with_its_caption_cut_to_120():
    assert render(OutboundMessage(media=OutMedia("image", "https://cdn.example.com/p.jpg", "c" * 200))) == {
        "receiver": USER, "sender": SENDER, "type": "picture", "text": "c" * 119 + "…", "media": "https://cdn.example.com/p.jpg"}


@pytest.mark.parametrize("kind", ["video", "audio", "document"])
def test_other_media_go_as_a_link_because_viber_needs_their_size_up_front(kind):
    assert render(OutboundMessage(media=OutMedia(kind, "https://cdn.example.com/f", "Manual")))["text"] == \
        "Manual\nhttps://cdn.example.com/f"


def test_text_over_7000_characters_is_truncated():
    text = render(OutboundMessage(text="v" * 8000))["text"]
    assert len(text) == 7000 and text.endswith("…")


def test_a_template_cannot_be_sent():
    with pytest.raises(RenderError, match="viber has no message templates"):
        render(OutboundMessage(template=OutTemplate("order_update", "en_US")))


def test_the_welcome_message_has_no_receiver():
    assert viber.render_welcome(account("viber"), OutboundMessage(text="Welcome!", buttons=(OutButton("go", "Start"),))) == {
        "sender": SENDER, "type": "text", "text": "Welcome!",
        "keyboard": {"Type": "keyboard", "DefaultHeight": False, "Buttons": [key("Start")]},
        "tracking_data": 'chatflow:{"options":[["go","Start"]]}'}


def test_a_sender_name_over_28_characters_is_cut():
    name = render(OutboundMessage(text="Hi"), senderName="Acme Customer Support Team Berlin")["sender"]["name"]
    assert name == "Acme Customer Support Team …" and len(name) == 28
