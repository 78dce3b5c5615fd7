"""Viber callbacks parse into channel-neutral events, every field checked; tokens stay exact."""

from __future__ import annotations

import json

import pytest

from controller.channels import ParseError
from controller.channels.viber import ViberAdapter
from controller.engine.messages import Contact, InboundEvent, Location, MediaRef, StatusUpdate

from .conftest import fixture_names, payload

viber = ViberAdapter()
JOHN = Contact(address="01234567890A=", name="John McClane")
USER = Contact(address="01234567890A=")


def event(**fields) -> InboundEvent:
    return InboundEvent(**{"channel": "viber", "account_channel_id": None, "timestamp": 1749416383.0, **fields})


def one(name: str) -> InboundEvent:
    events = viber.parse(payload("viber", name))
    assert len(events) == 1
    return events[0]


def test_text_message_keeps_the_64_bit_token_exact_and_the_tracking_data():
    assert one("message_text") == event(
        kind="message", contact=JOHN, message_id="5491290931018310004", type="text", text="a message to the service",
        detail={"viber_type": "text", "tracking_data": "node=ask"})


def test_picture_is_media_with_url_and_caption():
    assert one("message_picture") == event(
        kind="message", contact=JOHN, message_id="5491290931018310005", type="media",
        media=MediaRef(kind="image", url="https://media.example.com/p.jpg", caption="look"),
        detail={"viber_type": "picture", "file_name": "p.jpg"})


def test_location_message():
    assert one("message_location") == event(
        kind="message", contact=JOHN, message_id="5491290931018310006", type="location",
        location=Location(50.76891, 6.11499), detail={"viber_type": "location"})


def test_conversation_started_names_the_user_and_the_context():
    assert one("conversation_started") == event(
        kind="conversation_started", contact=JOHN, message_id="5491290931018310001",
        detail={"type": "open", "context": "campaign-2026", "subscribed": False})


def test_subscribed_and_unsubscribed():
    assert one("subscribed") == event(kind="subscribed", contact=JOHN, message_id="5491290931018310002")
    assert one("unsubscribed") == event(kind="unsubscribed", contact=USER, message_id="5491290931018310003")


@pytest.mark.parametrize("name,state,title", [
    ("delivered", "delivered", None), ("seen", "read", None), ("failed", "failed", "failure description")])
def test_receipts_are_statuses_of_our_message_by_its_exact_token(name, state, title):
    assert one(name) == event(kind="status", contact=USER, status=StatusUpdate(
        message_id="4912661846655238145", status=state, error_title=title))


def test_webhook_callback_is_other():
    assert one("webhook") == event(kind="other", message_id="5491290931018310000", detail={"event": "webhook"})


def test_every_fixture_parses():
    for name in fixture_names("viber"):
        assert viber.parse(payload("viber", name)), name


def test_tokens_that_differ_only_beyond_float_precision_stay_distinct():
    tokens = [2**63 - 1, 2**63 - 2]
    ids = {viber.parse(json.dumps({"event": "seen", "message_token": t, "user_id": "u"}).encode())[0].status.message_id
           for t in tokens}
    assert ids == {"9223372036854775807", "9223372036854775806"}


# -- shapes the fixtures do not cover ------------------------------------------------------------


def user_message(message: dict) -> InboundEvent:
    [parsed] = viber.parse(json.dumps({"event": "message", "timestamp": 1, "message_token": 7,
                                       "sender": {"id": "u1", "name": "Ann"}, "message": message}).encode())
    return parsed


def test_keyboard_tap_is_a_button_reply_with_the_option_id_from_our_tracking_data():
    tracking = 'chatflow:{"options":[["track","Track my order"],["agent","Talk to a person"]]}'
    tapped = user_message({"type": "text", "text": "Talk to a person", "tracking_data": tracking})
    assert (tapped.type, tapped.reply_id, tapped.text) == ("button", "agent", "Talk to a person")
    typed = user_message({"type": "text", "text": "something else", "tracking_data": tracking})
    assert (typed.type, typed.reply_id) == ("text", None)


def test_broken_tracking_data_is_ignored():
    for tracking in ["chatflow:{", "chatflow:" + "[" * 5000, 'chatflow:{"options": 3}', "chatflow:[]"]:
        assert user_message({"type": "text", "text": "x", "tracking_data": tracking}).type == "text"


@pytest.mark.parametrize("kind,media_kind", [("video", "video"), ("file", "document"), ("sticker", "sticker")])
def test_other_media_messages(kind, media_kind):
    parsed = user_message({"type": kind, "media": "https://m/x"})
    assert (parsed.type, parsed.media.kind, parsed.media.url) == ("media", media_kind, "https://m/x")


def test_contact_and_url_messages():
    card = user_message({"type": "contact", "contact": {"name": "Ann", "phone_number": "+15550100"}})
    assert card.type == "contact" and card.detail["contacts"] == [{"name": "Ann", "phones": ["+15550100"]}]
    assert user_message({"type": "url", "media": "https://example.com"}).text == "https://example.com"


def test_rich_media_and_unknown_types_are_unsupported():
    assert user_message({"type": "rich_media", "rich_media": {}}).type == "unsupported"
    assert user_message({"type": "text"}).type == "unsupported"


def test_unknown_event_is_other():
    [parsed] = viber.parse(b'{"event": "client_status", "user_id": "u"}')
    assert parsed.kind == "other" and parsed.detail == {"event": "client_status"} and parsed.contact == Contact("u")


@pytest.mark.parametrize("body", [b"", b"{]", b"null"])
def test_malformed_bodies_raise_parse_error(body):
    with pytest.raises(ParseError):
        viber.parse(body)
