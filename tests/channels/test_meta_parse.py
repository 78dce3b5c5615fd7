"""Messenger and Instagram webhook bodies parse into channel-neutral events, every field checked."""

from __future__ import annotations

import json

import pytest

from controller.channels import ParseError
from controller.channels.instagram import InstagramAdapter
from controller.channels.messenger import MessengerAdapter
from controller.engine.messages import Contact, InboundEvent, Location, MediaRef, StatusUpdate

from .conftest import FB_PAGE_ID, IG_USER_ID, fixture_names, payload

fb = MessengerAdapter()
ig = InstagramAdapter()
PSID = Contact(address="6822119311157373")
IGSID = Contact(address="7181712345678901")


def fb_event(**fields) -> InboundEvent:
    return InboundEvent(**{"channel": "messenger", "account_channel_id": FB_PAGE_ID, "contact": PSID,
                           "timestamp": 1749416383.0, **fields})


def ig_event(**fields) -> InboundEvent:
    return InboundEvent(**{"channel": "instagram", "account_channel_id": IG_USER_ID, "contact": IGSID,
                           "timestamp": 1749416383.0, **fields})


def one(adapter, channel: str, name: str) -> InboundEvent:
    events = adapter.parse(payload(channel, name))
    assert len(events) == 1
    return events[0]


# -- Messenger -----------------------------------------------------------------------------------


def test_messenger_text_message():
    assert one(fb, "messenger", "text") == fb_event(
        kind="message", type="text", text="hello, world!",
        message_id="m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P")


def test_messenger_quick_reply_tap_gives_its_payload_as_reply_id():
    assert one(fb, "messenger", "quick_reply") == fb_event(
        kind="message", type="quick_reply", text="Red", reply_id="COLOR_RED",
        message_id="m_1457764197618:41d102a3e1ae206a38")


def test_messenger_postback_gives_payload_and_button_title():
    assert one(fb, "messenger", "postback") == fb_event(
        kind="message", type="postback", text="Get Started", reply_id="GET_STARTED",
        message_id="m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0Q")


def test_messenger_image_attachment_is_media_with_its_url():
    assert one(fb, "messenger", "image") == fb_event(
        kind="message", type="media", message_id="m_image000000000000001",
        media=MediaRef(kind="image", url="https://scontent.example/v/t1.15752-9/photo.jpg"),
        detail={"attachment_type": "image"})


def test_messenger_delivery_receipt_is_a_status_of_our_message():
    assert one(fb, "messenger", "delivery") == fb_event(
        kind="status", detail={"watermark": 1749416390.0},
        status=StatusUpdate(
            message_id="m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
            status="delivered"))


def test_messenger_read_receipt_with_only_a_watermark_is_other():
    assert one(fb, "messenger", "read") == fb_event(kind="other", detail={"event": "read", "watermark": 1749416395.0})


def test_messenger_echo_is_other_so_it_is_never_answered():
    assert one(fb, "messenger", "echo") == fb_event(
        kind="other", timestamp=1749416390.0, text="Hi! How can I help?",
        message_id="m_QzE5Nz1uT2hlbGxvRWNob01lc3NhZ2VJZEZvclRlc3RzMTIzNDU2Nzg5MGFiY2RlZg",
        detail={"event": "echo", "app_id": "1517776481860111", "metadata": "chatflow"})


def test_messenger_reaction_is_other():
    assert one(fb, "messenger", "reaction") == fb_event(
        kind="other", timestamp=1749416395.0,
        detail={"event": "reaction", "reaction": "love", "emoji": "❤️", "action": "react",
                "reacted_message_id": "m_QzE5Nz1uT2hlbGxvRWNob01lc3NhZ2VJZEZvclRlc3RzMTIzNDU2Nzg5MGFiY2RlZg"})


# -- Instagram -----------------------------------------------------------------------------------

IG_MID = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI3NjAxOTM5NjY0MjQ2MDgxNjo3MjEzNjI5NTI2NjQxMzUzNz"


def test_instagram_text_message():
    assert one(ig, "instagram", "text") == ig_event(
        kind="message", type="text", text="hi, do you ship to Berlin?", message_id=IG_MID + "I4")


def test_instagram_quick_reply_tap():
    assert one(ig, "instagram", "quick_reply") == ig_event(
        kind="message", type="quick_reply", text="Yes", reply_id="CONFIRM_YES", message_id=IG_MID + "I5")


def test_instagram_postback():
    assert one(ig, "instagram", "postback") == ig_event(
        kind="message", type="postback", text="Talk to us", reply_id="TALK", message_id=IG_MID + "Mw")


def test_instagram_echo_is_other_and_names_the_contact_it_was_sent_to():
    assert one(ig, "instagram", "echo") == ig_event(
        kind="other", timestamp=1749416390.0, text="We ship to Berlin in 2-3 days.",
        message_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOmVjaG8xMjM0NTY3ODkw",
        detail={"event": "echo", "app_id": None, "metadata": None})


def test_instagram_seen_names_the_message_and_is_a_read_status():
    assert one(ig, "instagram", "seen") == ig_event(
        kind="status", timestamp=1749416399.0,
        status=StatusUpdate(message_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOmVjaG8xMjM0NTY3ODkw",
                            status="read"))


def test_instagram_story_mention_is_recorded_as_other_with_its_media():
    assert one(ig, "instagram", "story_mention") == ig_event(
        kind="other", timestamp=1749416410.0,
        message_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOnN0b3J5bWVudGlvbjE",
        media=MediaRef(kind="story_mention", url="https://lookaside.example/ig_messaging_cdn/?asset_id=1790000000000001"),
        detail={"attachment_type": "story_mention", "event": "story_mention"})


@pytest.mark.parametrize("adapter,channel", [(fb, "messenger"), (ig, "instagram")])
def test_every_fixture_parses_to_events_of_its_channel(adapter, channel):
    for name in fixture_names(channel):
        events = adapter.parse(payload(channel, name))
        assert events and all(e.channel == channel for e in events), name


def test_an_instagram_body_at_the_messenger_adapter_is_other():
    [event] = fb.parse(payload("instagram", "text"))
    assert event.kind == "other" and event.detail == {"event": "unexpected_object", "object": "instagram"}


# -- shapes the fixtures do not cover ------------------------------------------------------------


def page(*messaging: dict, **entry: object) -> bytes:
    return json.dumps({"object": "page", "entry": [
        {"id": FB_PAGE_ID, "time": 1, "messaging": list(messaging), **entry}]}).encode()


def user_event(**fields) -> dict:
    return {"sender": {"id": "6822119311157373"}, "recipient": {"id": FB_PAGE_ID}, "timestamp": 1000, **fields}


def test_delivery_of_several_messages_gives_one_status_each():
    events = fb.parse(page(user_event(delivery={"mids": ["m_1", "m_2"], "watermark": 5000})))
    assert [(e.kind, e.status.message_id, e.status.status) for e in events] == [
        ("status", "m_1", "delivered"), ("status", "m_2", "delivered")]


def test_a_message_from_the_page_itself_is_an_echo_even_without_the_flag():
    [event] = fb.parse(page({"sender": {"id": FB_PAGE_ID}, "recipient": {"id": "42"}, "timestamp": 1,
                             "message": {"mid": "m_x", "text": "hello"}}))
    assert event.kind == "other" and event.detail["event"] == "echo" and event.contact == Contact(address="42")


def test_location_attachment_is_a_location_message():
    [event] = fb.parse(page(user_event(message={"mid": "m_loc", "attachments": [
        {"type": "location", "title": "Home", "payload": {"coordinates": {"lat": 52.5, "long": 13.4}}}]})))
    assert (event.type, event.location) == ("location", Location(52.5, 13.4, name="Home"))


def test_sticker_is_media_of_kind_sticker():
    [event] = fb.parse(page(user_event(message={"mid": "m_st", "attachments": [
        {"type": "image", "payload": {"url": "https://x/s.png", "sticker_id": 369239263222822}}]})))
    assert event.media == MediaRef(kind="sticker", url="https://x/s.png")
    assert event.detail["sticker_id"] == "369239263222822"


def test_shared_post_is_an_unsupported_message():
    [event] = ig.parse(json.dumps({"object": "instagram", "entry": [{"id": IG_USER_ID, "messaging": [
        {"sender": {"id": "7"}, "recipient": {"id": IG_USER_ID}, "timestamp": 1,
         "message": {"mid": "m_s", "attachments": [{"type": "ig_reel", "payload": {"url": "https://r"}}]}}]}]}).encode())
    assert (event.kind, event.type) == ("message", "unsupported")


def test_postback_without_mid_gets_a_stable_dedupe_key():
    body = page(user_event(postback={"title": "Start", "payload": "START"}))
    [first], [again] = fb.parse(body), fb.parse(body)
    assert first.message_id == again.message_id == "postback:6822119311157373:1000"


@pytest.mark.parametrize("key", ["optin", "referral", "account_linking", "pass_thread_control"])
def test_other_messaging_events_are_other_and_named(key):
    [event] = fb.parse(page(user_event(**{key: {"ref": "x"}})))
    assert event.kind == "other" and event.detail == {"event": key, "value": {"ref": "x"}}


def test_standby_and_changes_are_recorded_as_other():
    events = fb.parse(page(standby=[user_event(message={"mid": "m_sb", "text": "hi"})],
                           changes=[{"field": "feed", "value": {"item": "comment"}}]))
    assert [e.kind for e in events] == ["other", "other"]
    assert events[0].detail["event"] == "standby" and events[1].detail["field"] == "feed"


@pytest.mark.parametrize("body", [b"", b"<html>", b'"page"', b"[]"])
def test_malformed_bodies_raise_parse_error(body):
    with pytest.raises(ParseError):
        ig.parse(body)
