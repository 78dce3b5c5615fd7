"""Sends against a fake Graph / Viber API on 127.0.0.1: request path, headers, body, and classification."""

from __future__ import annotations

import pytest

from controller.channels import adapter
from controller.channels.whatsapp import WhatsAppAdapter
from controller.engine.messages import OutboundMessage, OutButton, OutTemplate

from .conftest import FB_PAGE_ID, SECRETS, WA_PHONE_NUMBER_ID, account, send

HELLO = OutboundMessage(text="Hello")


def only_request(api):
    assert len(api.requests) == 1
    return api.requests[0]


# -- WhatsApp ------------------------------------------------------------------------------------


def test_whatsapp_send_posts_to_the_phone_number_with_the_bearer_token_and_returns_the_wamid(fake_api):
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "16505551234",
                  OutboundMessage(text="Pick", buttons=(OutButton("a", "A"),)))
    assert result.outcome == "sent" and result.message_id.startswith("wamid.fake") and result.http_status == 200
    request = only_request(fake_api)
    assert (request.method, request.path) == ("POST", f"/v21.0/{WA_PHONE_NUMBER_ID}/messages")
    assert request.headers["authorization"] == f"Bearer {SECRETS['CF_TEST_WA_TOKEN']}"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
                            "type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick"},
                                                                   "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}}


def test_the_graph_api_version_can_be_overridden(fake_api):
    result = send(WhatsAppAdapter(graph_version="v99.0"), account("whatsapp", fake_api.base_url), "1", HELLO)
    assert result.ok and only_request(fake_api).path == f"/v99.0/{WA_PHONE_NUMBER_ID}/messages"


def test_outside_the_24_hour_window_is_permanent_with_code_and_a_template_hint(fake_api):
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "window", HELLO)
    assert (result.outcome, result.code, result.http_status) == ("permanent", "131047", 400)
    assert result.title.startswith("(#131047) Re-engagement message: Message failed to send")
    assert "template" in result.hint


def test_a_bad_recipient_is_permanent(fake_api):
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "bad-recipient", HELLO)
    assert (result.outcome, result.code) == ("permanent", "100")


def test_whatsapp_throughput_limit_is_retryable(fake_api):
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "throughput", HELLO)
    assert (result.outcome, result.code, result.http_status) == ("retryable", "130429", 400)


def test_http_429_is_retryable_and_keeps_retry_after(fake_api):
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "throttle", HELLO)
    assert (result.outcome, result.code, result.http_status, result.retry_after) == ("retryable", "4", 429, 2.0)


def test_http_500_without_a_graph_error_is_retryable(fake_api):
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "boom", HELLO)
    assert (result.outcome, result.code, result.http_status) == ("retryable", "http_500", 500)


def test_a_timeout_is_retryable_and_may_have_been_delivered(fake_api):
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "hang", HELLO, timeout=0.3)
    fake_api.release.set()
    assert (result.outcome, result.code, result.maybe_delivered) == ("retryable", "timeout", True)
    assert len(fake_api.requests) == 1  # it reached the server: a retry could repeat it


def test_connection_refused_is_retryable_and_was_not_delivered(closed_port_url):
    result = send(adapter("whatsapp"), account("whatsapp", closed_port_url), "1", HELLO)
    assert (result.outcome, result.code, result.maybe_delivered) == ("retryable", "connection", False)


def test_a_success_without_a_message_id_is_retryable_and_flagged(fake_api):
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "empty", HELLO)
    assert (result.outcome, result.code, result.maybe_delivered) == ("retryable", "bad_response", True)


def test_template_send_body(fake_api):
    send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "16505551234",
         OutboundMessage(template=OutTemplate("order_update", "en_US", ("A-1",))))
    assert only_request(fake_api).body["template"] == {
        "name": "order_update", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "A-1"}]}]}


def test_a_missing_token_sends_nothing_and_waits_as_retryable(fake_api, monkeypatch):
    monkeypatch.delenv("CF_TEST_WA_TOKEN")
    result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), "1", HELLO)
    assert (result.outcome, result.code) == ("retryable", "secret_missing")
    assert "CF_TEST_WA_TOKEN" in result.title and fake_api.requests == []


def test_the_token_never_appears_in_a_result(fake_api):
    for to in ["ok", "window", "boom", "throttle"]:
        result = send(adapter("whatsapp"), account("whatsapp", fake_api.base_url), to, HELLO)
        assert SECRETS["CF_TEST_WA_TOKEN"] not in repr(result)


# -- Messenger and Instagram ---------------------------------------------------------------------


def test_messenger_send_posts_to_the_page_with_the_page_token(fake_api):
    result = send(adapter("messenger"), account("messenger", fake_api.base_url), "6822119311157373", HELLO)
    assert result.outcome == "sent" and result.message_id.startswith("m_fake")
    request = only_request(fake_api)
    assert request.path == f"/v21.0/{FB_PAGE_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {SECRETS['CF_TEST_FB_TOKEN']}"
    assert request.body == {"recipient": {"id": "6822119311157373"}, "messaging_type": "RESPONSE",
                            "message": {"text": "Hello"}}


def test_instagram_send_posts_to_me_messages_with_its_page_token(fake_api):
    result = send(adapter("instagram"), account("instagram", fake_api.base_url), "7181712345678901", HELLO)
    request = only_request(fake_api)
    assert result.ok and request.path == "/v21.0/me/messages"
    assert request.headers["authorization"] == f"Bearer {SECRETS['CF_TEST_IG_TOKEN']}"


def test_messenger_outside_the_window_is_permanent_with_a_hint(fake_api):
    result = send(adapter("messenger"), account("messenger", fake_api.base_url), "outside-window", HELLO)
    assert (result.outcome, result.code) == ("permanent", "10") and "24-hour" in result.hint


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_meta_page_5xx_429_and_timeouts_are_retryable(channel, fake_api):
    acct = account(channel, fake_api.base_url)
    assert send(adapter(channel), acct, "boom", HELLO).outcome == "retryable"
    assert send(adapter(channel), acct, "throttle", HELLO).outcome == "retryable"
    hung = send(adapter(channel), acct, "hang", HELLO, timeout=0.3)
    fake_api.release.set()
    assert (hung.outcome, hung.code) == ("retryable", "timeout")


def test_a_message_the_channel_cannot_carry_fails_permanently_without_a_request(fake_api):
    result = send(adapter("messenger"), account("messenger", fake_api.base_url), "1",
                  OutboundMessage(template=OutTemplate("t", "en")))
    assert (result.outcome, result.code) == ("permanent", "render") and fake_api.requests == []


# -- Viber ---------------------------------------------------------------------------------------


def test_viber_send_uses_the_auth_token_header_and_keeps_the_token_exact(fake_api):
    result = send(adapter("viber"), account("viber", fake_api.base_url), "01234567890A=", HELLO)
    assert (result.outcome, result.message_id) == ("sent", "5741311803571721087")
    request = only_request(fake_api)
    assert request.path == "/pa/send_message"
    assert request.headers["x-viber-auth-token"] == SECRETS["CF_TEST_VIBER_TOKEN"]
    assert "authorization" not in request.headers
    assert request.body == {"receiver": "01234567890A=", "sender": {"name": "Acme Support"}, "type": "text",
                            "text": "Hello"}


def test_viber_not_subscribed_is_permanent(fake_api):
    result = send(adapter("viber"), account("viber", fake_api.base_url), "not-subscribed", HELLO)
    assert (result.outcome, result.code, result.title) == ("permanent", "6", "receiverNotSubscribed")
    assert "subscribe" in result.hint


def test_viber_rate_limit_status_is_retryable(fake_api):
    result = send(adapter("viber"), account("viber", fake_api.base_url), "busy", HELLO)
    assert (result.outcome, result.code) == ("retryable", "12")


def test_viber_http_errors_and_refused_connections(fake_api, closed_port_url):
    assert send(adapter("viber"), account("viber", fake_api.base_url), "boom", HELLO).code == "http_500"
    assert send(adapter("viber"), account("viber", fake_api.base_url), "throttle", HELLO).outcome == "retryable"
    refused = send(adapter("viber"), account("viber", closed_port_url), "u", HELLO)
    assert (refused.outcome, refused.code) == ("retryable", "connection")


def test_an_adapter_refuses_an_account_of_another_channel():
    with pytest.raises(ValueError, match="is a viber account, not whatsapp"):
        send(adapter("whatsapp"), account("viber"), "1", HELLO)
