"""WhatsApp webhook bodies parse into channel-neutral events, every field checked."""

from __future__ import annotations

import json

import pytest

from controller.channels import ParseError
from controller.channels.whatsapp import WhatsAppAdapter
from controller.engine.messages import Contact, InboundEvent, Location, MediaRef, StatusUpdate

from .conftest import WA_PHONE_NUMBER_ID, fixture_names, payload

wa = WhatsAppAdapter()
SHEENA = Contact(address="16505551234", name="Sheena Nelson", phone="+16505551234")
RECIPIENT = Contact(address="16505551234", name=None, phone="+16505551234")
OUR_MESSAGE = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3NjQ5RUE5QzQyNDAwRTk2MjIA"


def message(**fields) -> InboundEvent:
    base = dict(channel="whatsapp", account_channel_id=WA_PHONE_NUMBER_ID, kind="message", contact=SHEENA,
                timestamp=1749416383.0)
    return InboundEvent(**{**base, **fields})


def parse_one(name: str) -> InboundEvent:
    events = wa.parse(payload("whatsapp", name))
    assert len(events) == 1
    return events[0]


def test_text_message_carries_the_text_the_contact_and_their_profile_name():
    assert parse_one("text") == message(
        message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        type="text", text="Does it come in another color?", detail={"wa_type": "text"})


def test_reply_button_tap_gives_the_button_id_and_title():
    assert parse_one("button_reply") == message(
        message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA=",
        type="button", text="Track my order", reply_id="track",
        detail={"wa_type": "interactive", "interactive_type": "button_reply",
                "context_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"})


def test_list_choice_gives_the_row_id_title_and_description():
    assert parse_one("list_reply") == message(
        message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
        type="list", text="Express", reply_id="priority_express",
        detail={"wa_type": "interactive", "interactive_type": "list_reply", "description": "Next day to 2 days",
                "context_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3NjQ5RUE5QzQyNDAwRTk2MjIA"})


def test_template_quick_reply_button_gives_its_payload_as_reply_id():
    assert parse_one("template_quick_reply") == message(
        message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTcwNjFBNkI1NjgxMTcxRjAxQwA=",
        type="button", text="Stop promotions", reply_id="STOP_PROMOTIONS",
        detail={"wa_type": "button", "context_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIyQjI3MEMzNjU1MkY3QjU3RkMA"})


def test_image_is_media_with_the_id_to_download_and_its_caption():
    assert parse_one("image") == message(
        message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTlFMzY3NkVERjM1MEI1MEUxMwA=", type="media",
        media=MediaRef(kind="image", id="1003383421387256", caption="This is the damaged box", mime_type="image/jpeg"),
        detail={"wa_type": "image"})


def test_shared_location_has_coordinates_name_and_address():
    assert parse_one("location") == message(
        message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTQ5OTU1NTk2MTEzMjQ1QjRGMgA=", type="location",
        location=Location(37.483307, -122.148981, name="Pablo Morales", address="1 Hacker Way, Menlo Park, CA 94025"),
        detail={"wa_type": "location"})


def test_two_messages_in_one_delivery_are_both_returned_in_payload_order():
    assert wa.parse(payload("whatsapp", "two_messages")) == [
        message(message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTAwMDAwMDAwMDAwMDAwMDAwMQA=", type="text",
                text="first", detail={"wa_type": "text"}),
        message(message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTAwMDAwMDAwMDAwMDAwMDAwMgA=", type="text",
                text="second", detail={"wa_type": "text"}),
    ]


def test_unsupported_message_type_is_a_message_of_type_unsupported_with_its_error():
    assert parse_one("unsupported") == message(
        message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTAwMDAwMDAwMDAwMDAwMDAwMwA=", type="unsupported",
        detail={"wa_type": "unsupported", "errors": [
            {"code": "131051", "title": "Message type unknown", "details": "Message type is currently not supported."}]})


@pytest.mark.parametrize("name,state,stamp", [
    ("status_delivered", "delivered", 1749416402.0),
    ("status_read", "read", 1749416460.0),
])
def test_delivery_statuses_name_our_outgoing_message(name, state, stamp):
    assert parse_one(name) == InboundEvent(
        channel="whatsapp", account_channel_id=WA_PHONE_NUMBER_ID, kind="status", contact=RECIPIENT,
        status=StatusUpdate(message_id=OUR_MESSAGE, status=state), timestamp=stamp)


def test_sent_status_keeps_conversation_and_pricing_details():
    assert parse_one("status_sent") == InboundEvent(
        channel="whatsapp", account_channel_id=WA_PHONE_NUMBER_ID, kind="status", contact=RECIPIENT,
        status=StatusUpdate(message_id=OUR_MESSAGE, status="sent"), timestamp=1749416400.0,
        detail={"conversation_id": "6ceb9d929c1ba2e1e1e0d4b6d4a2e47f", "conversation_origin": "service",
                "pricing_category": "service"})


def test_failed_status_carries_the_error_code_and_title():
    assert parse_one("status_failed") == InboundEvent(
        channel="whatsapp", account_channel_id=WA_PHONE_NUMBER_ID, kind="status", contact=RECIPIENT,
        status=StatusUpdate(message_id=OUR_MESSAGE, status="failed", error_code="131047",
                            error_title="Re-engagement message"),
        timestamp=1749416401.0,
        detail={"errors": [{"code": "131047", "title": "Re-engagement message",
                            "details": "Message failed to send because more than 24 hours have passed since "
                                       "the customer last replied to this number."}]})


def test_error_only_delivery_is_recorded_as_other():
    assert parse_one("errors") == InboundEvent(
        channel="whatsapp", account_channel_id=WA_PHONE_NUMBER_ID, kind="other",
        detail={"event": "error", "code": "131000", "title": "Something went wrong",
                "details": "Unsupported webhook payload"})


def test_other_webhook_field_is_other_and_never_a_conversation():
    assert parse_one("template_status_update") == InboundEvent(
        channel="whatsapp", account_channel_id=None, kind="other",
        detail={"field": "message_template_status_update", "entry_id": "102290129340398",
                "value": {"event": "APPROVED", "message_template_id": 1234567890123456,
                          "message_template_name": "order_update", "message_template_language": "en_US",
                          "reason": "NONE"}})


def test_every_fixture_parses_to_at_least_one_event_of_this_channel():
    for name in fixture_names("whatsapp"):
        events = wa.parse(payload("whatsapp", name))
        assert events and all(e.channel == "whatsapp" for e in events), name


# -- shapes the fixtures do not cover ------------------------------------------------------------


def envelope(value: dict, field: str = "messages") -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": field, "value": {"messaging_product": "whatsapp",
                                   "metadata": {"phone_number_id": WA_PHONE_NUMBER_ID}, **value}}]}]}).encode()


def one_message(m: dict) -> InboundEvent:
    [event] = wa.parse(envelope({"messages": [{"from": "16505551234", "id": "wamid.X", "timestamp": "1", **m}]}))
    return event


def test_reaction_is_recorded_as_other_not_a_message():
    event = one_message({"type": "reaction", "reaction": {"message_id": "wamid.OURS", "emoji": "👍"}})
    assert (event.kind, event.message_id) == ("other", "wamid.X")
    assert event.detail == {"wa_type": "reaction", "event": "reaction", "emoji": "👍",
                            "reacted_message_id": "wamid.OURS"}


def test_shared_contact_card_is_a_contact_message_with_names_and_phones():
    event = one_message({"type": "contacts", "contacts": [
        {"name": {"formatted_name": "Ana Li"}, "phones": [{"phone": "+1 555 0100", "type": "CELL"}]}]})
    assert (event.kind, event.type) == ("message", "contact")
    assert event.detail["contacts"] == [{"name": "Ana Li", "phones": ["+1 555 0100"]}]


@pytest.mark.parametrize("kind", ["video", "audio", "document", "sticker"])
def test_other_media_kinds_are_media_messages(kind):
    event = one_message({"type": kind, kind: {"id": "77", "mime_type": "x/y"}})
    assert (event.type, event.media) == ("media", MediaRef(kind=kind, id="77", mime_type="x/y"))


def test_order_and_unknown_types_count_as_unsupported_messages():
    assert one_message({"type": "order", "order": {"catalog_id": "1"}}).type == "unsupported"
    assert one_message({"type": "hologram"}).type == "unsupported"


def test_system_message_is_other():
    event = one_message({"type": "system", "system": {"body": "User changed number"}})
    assert event.kind == "other" and event.detail["event"] == "system"


def test_statuses_and_messages_in_one_value_keep_payload_order():
    body = envelope({"statuses": [{"id": "wamid.S", "status": "read", "recipient_id": "1"}],
                     "messages": [{"from": "1", "id": "wamid.M", "type": "text", "text": {"body": "hi"}}]})
    assert [e.kind for e in wa.parse(body)] == ["status", "message"]


def test_unknown_status_value_is_other():
    [event] = wa.parse(envelope({"statuses": [{"id": "wamid.S", "status": "deleted"}]}))
    assert event.kind == "other" and event.detail["status"] == "deleted"


def test_a_message_from_another_product_object_is_other():
    [event] = wa.parse(b'{"object": "page", "entry": []}')
    assert event.kind == "other" and event.detail == {"event": "unexpected_object", "object": "page"}


def test_an_empty_envelope_still_gives_one_other_event():
    assert [e.kind for e in wa.parse(b'{"object": "whatsapp_business_account", "entry": []}')] == ["other"]


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xff\xfe\x00", b"[1, 2]", b"42", b'{"a": NaN}'])
def test_malformed_bodies_raise_parse_error(body):
    with pytest.raises(ParseError):
        wa.parse(body)


def test_a_lone_surrogate_escape_in_a_text_becomes_a_question_mark_not_a_failure():
    body = payload("whatsapp", "text").decode().replace("Does it come in another color?", "hi \\ud83d and \\ud83d\\ude00")
    [event] = wa.parse(body.encode())
    assert event.text == "hi ? and 😀"
    event.text.encode("utf-8")  # storable
