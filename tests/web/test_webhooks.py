"""Webhook routes of `chatflow serve` (DESIGN §6): handshakes, signatures, sizes, malformed bodies,
routing by URL and by payload ids, and the Viber welcome. A real process on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from ..runtime.harness import SECRETS, Chat, fake, flow, repo  # noqa: F401  (fixtures)
from ..runtime.payloads import (
    body,
    messenger_echo,
    messenger_text,
    meta_signature,
    viber_signature,
    instagram_text,
    viber_started,
    viber_text,
    wa_text,
)

SECOND_WA = """\
apiVersion: chatflow/v1
kind: Account
metadata: {{name: wa2}}
spec:
  channel: whatsapp
  credentials: {{accessToken: {{env: WA2_TOKEN}}, appSecret: {{env: WA2_SECRET}}, verifyToken: {{env: WA_VERIFY}}}}
  whatsapp: {{phoneNumberId: "222000"}}
  apiBase: {api}
"""
HELLO = """\
    start: {type: start, next: hi}
    hi: {type: message, text: "Hello from {{ account.name }}", next: done}
    done: {type: end}
"""
WELCOME = """\
    start: {type: start, next: ask}
    ask: {type: question, text: "Welcome! Book a visit?", buttons: [Yes, No], save_as: answer, next: thanks}
    thanks: {type: message, text: "You said {{ vars.answer }}", next: done}
    done: {type: end}
"""
INSTAGRAM = """\
    start: {type: start, next: ask}
    ask: {type: question, text: "Shipping to {{ message.text | replace('hi, do you ship to ', '') }}?", buttons: [Yes, No], save_as: ok, next: done}
    done: {type: end}
"""
MESSENGER = """\
    start: {type: start, next: hi}
    hi: {type: message, text: "Hi from the page", next: done}
    done: {type: end}
"""


@pytest.fixture
def served(repo, fake):
    repo.write("flows.d/second.yaml", SECOND_WA.format(api=fake.url))
    repo.write("flows.d/hello2.yaml", flow("hello2", "whatsapp", "wa2", HELLO))
    repo.write("flows.d/welcome.yaml", flow("welcome", "viber", "vb", WELCOME))
    repo.write("flows.d/page.yaml", flow("page", "messenger", "fb", MESSENGER))
    repo.write("flows.d/insta.yaml", flow("insta", "instagram", "ig", INSTAGRAM))
    repo.commit("more accounts and flows")
    with Chat(repo.path, env={"WA2_TOKEN": "wa2-token", "WA2_SECRET": "wa2-app-secret"}) as chat:
        yield chat


def nothing_recorded(chat: Chat, fake) -> None:
    assert chat.conversations() == []
    assert fake.received == []


# ---- Meta's handshake -------------------------------------------------------------------------------


def test_the_subscription_handshake_echoes_the_challenge_for_the_right_verify_token(served):
    query = {"hub.mode": "subscribe", "hub.verify_token": SECRETS["WA_VERIFY"], "hub.challenge": "1158201444"}
    for path in ("/webhooks/whatsapp/wa", "/webhooks/whatsapp"):
        answer = served.client.get(path, params=query)
        assert (answer.status_code, answer.text) == (200, "1158201444")


def test_a_wrong_verify_token_is_forbidden(served):
    query = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    for path in ("/webhooks/whatsapp/wa", "/webhooks/whatsapp"):
        answer = served.client.get(path, params=query)
        assert answer.status_code == 403 and "1158201444" not in answer.text


# ---- signatures -------------------------------------------------------------------------------------


def test_a_missing_or_bad_signature_is_refused_and_records_nothing(served, fake):
    raw = body(wa_text("15550002222", "hi"))
    assert served.client.post("/webhooks/whatsapp/wa", content=raw).status_code == 401
    assert served.client.post("/webhooks/whatsapp/wa", content=raw,
                              headers=meta_signature(raw, "not-the-secret")).status_code == 401
    tampered = raw.replace(b"hi", b"yo")
    assert served.client.post("/webhooks/whatsapp/wa", content=tampered,
                              headers=meta_signature(raw, SECRETS["WA_SECRET"])).status_code == 401
    assert served.client.post("/webhooks/whatsapp", content=raw,
                              headers=meta_signature(raw, "not-the-secret")).status_code == 401
    viber = body(viber_text("u1", "hi", 5491290931018310004))
    assert served.client.post("/webhooks/viber/vb", content=viber, headers=viber_signature(viber, "nope")).status_code == 401
    nothing_recorded(served, fake)


def test_the_per_app_url_tries_each_accounts_secret_and_routes_by_phone_number_id(served, fake):
    answer = served.wa(wa_text("15550009999", "hi", phone_id="222000"), path="/webhooks/whatsapp", secret="wa2-app-secret")
    assert answer.status_code == 200
    (hello,) = fake.wait_for(1)
    assert hello.text == "Hello from wa2" and hello.path == "/v21.0/222000/messages"


def test_an_event_for_an_account_the_signature_does_not_belong_to_is_not_applied(served, fake):
    # signed with wa's secret but naming wa2's number: not wa2's to answer
    answer = served.wa(wa_text("15550009999", "hi", phone_id="222000"), path="/webhooks/whatsapp")
    assert answer.status_code == 200 and answer.json() == {"received": 0}
    nothing_recorded(served, fake)


# ---- routing ----------------------------------------------------------------------------------------


def test_unknown_channels_and_accounts_and_mismatched_urls_are_not_found(served):
    raw = body(wa_text("15550002222", "hi"))
    headers = meta_signature(raw, SECRETS["WA_SECRET"])
    for path in ("/webhooks/telegram/wa", "/webhooks/whatsapp/nobody", "/webhooks/viber/wa", "/webhooks/telegram",
                 "/webhooks/viber"):
        answer = served.client.post(path, content=raw, headers=headers)
        assert answer.status_code == 404, path
        assert answer.json()["error"]


def test_other_methods_and_deeper_paths_are_answered_as_any_route_would_be(served, fake):
    raw = body(wa_text("15550002323", "hi"))
    headers = meta_signature(raw, SECRETS["WA_SECRET"])
    for method in ("PUT", "DELETE", "PATCH"):
        assert served.client.request(method, "/webhooks/whatsapp/wa", content=raw, headers=headers).status_code == 405
    assert served.client.post("/webhooks/whatsapp/wa/extra", content=raw, headers=headers).status_code == 404
    assert served.client.post("/webhooks/", content=raw, headers=headers).status_code == 404
    nothing_recorded(served, fake)


# ---- sizes and bodies -------------------------------------------------------------------------------


def test_a_body_over_the_channels_limit_is_refused_before_it_is_read(served, fake):
    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    assert served.client.post("/webhooks/whatsapp/wa", content=big,
                              headers=meta_signature(big, SECRETS["WA_SECRET"])).status_code == 413
    viber = body({**viber_text("u1", "x" * 31 * 1024, 5491290931018310004)})
    assert served.client.post("/webhooks/viber/vb", content=viber,
                              headers=viber_signature(viber, SECRETS["VB_TOKEN"])).status_code == 413


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(served):
    def chunks():
        for _ in range(40):
            yield b"x" * 1024  # 40 KiB, over Viber's 30 KB, sent chunked

    answer = served.client.post("/webhooks/viber/vb", content=chunks(),
                                headers={"X-Viber-Content-Signature": "00"})
    assert answer.status_code == 413


def test_a_signed_body_streamed_in_chunks_is_applied_as_one(served, fake):
    raw = body(wa_text("15550003333", "hi", phone_id="222000"))

    def chunks():
        for at in range(0, len(raw), 100):
            yield raw[at:at + 100]  # no Content-Length: sent chunked, in pieces the server joins
            time.sleep(0.02)  # each its own packet, so the server reads it as its own ASGI message

    answer = served.client.post("/webhooks/whatsapp/wa2", content=chunks(),
                                headers=meta_signature(raw, "wa2-app-secret"))
    assert answer.status_code == 200 and answer.json() == {"received": 1}
    assert answer.headers["content-type"] == "application/json"
    (hello,) = fake.wait_for(1)
    assert hello.text == "Hello from wa2"


def test_malformed_json_is_a_logged_bad_request_never_a_server_error(served, fake):
    for raw in (b"{not json", b"[1, 2, 3]", b"", "\"caf\u00e9\"".encode(), b"\xff\xfe"):
        answer = served.client.post("/webhooks/whatsapp/wa", content=raw, headers=meta_signature(raw, SECRETS["WA_SECRET"]))
        assert answer.status_code == 400, raw
    assert "malformed webhook body" in served.output()
    nothing_recorded(served, fake)


def test_json_of_unknown_shapes_is_accepted_and_answers_nobody(served, fake):
    for doc in ({"object": "whatsapp_business_account", "entry": "nonsense"}, {"hello": "world"},
                {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "account_update", "value": {}}]}]}):
        raw = body(doc)
        answer = served.client.post("/webhooks/whatsapp/wa", content=raw, headers=meta_signature(raw, SECRETS["WA_SECRET"]))
        assert answer.status_code == 200, doc
    nothing_recorded(served, fake)


# ---- what is not answered ----------------------------------------------------------------------------


def test_a_messenger_echo_of_the_pages_own_message_is_never_answered(served, fake):
    assert served.fb(messenger_echo("6822119311157373", "Hi from the page")).status_code == 200
    assert served.fb(messenger_text("6822119311157373", "hello")).status_code == 200
    (reply,) = fake.wait_for(1)
    assert reply.text == "Hi from the page" and reply.to == "6822119311157373"
    assert served.fb(messenger_echo("6822119311157373", "Hi from the page")).status_code == 200
    served.wait_for(lambda: all(m["status"] == "sent" for m in served.outbox("6822119311157373")), what="settled")
    assert len(fake.received) == 1 and len(served.conversations()) == 1


def test_an_instagram_message_on_metas_per_app_url_is_answered_with_quick_replies(served, fake):
    raw = body(instagram_text("7181712345678901", "hi, do you ship to Berlin"))
    answer = served.client.post("/webhooks/instagram", content=raw, headers=meta_signature(raw, SECRETS["FB_SECRET"]))
    assert answer.status_code == 200 and answer.json() == {"received": 1}
    (reply,) = fake.wait_for(1)
    assert reply.path == "/v21.0/me/messages" and reply.headers["authorization"] == f"Bearer {SECRETS['IG_TOKEN']}"
    assert reply.body["recipient"] == {"id": "7181712345678901"}
    assert (reply.text, reply.buttons) == ("Shipping to Berlin?", ["Yes", "No"])


# ---- Viber --------------------------------------------------------------------------------------------


def test_viber_conversation_started_answers_the_welcome_inline_and_the_reply_resumes_it(served, fake):
    started = served.viber(viber_started("01234567890A=", 5491290931018310001))
    assert started.status_code == 200
    welcome = started.json()
    assert welcome["sender"] == {"name": "Acme Clinic"} and "receiver" not in welcome
    assert welcome["text"] == "Welcome! Book a visit?"
    assert [b["Text"] for b in welcome["keyboard"]["Buttons"]] == ["Yes", "No"]
    again = served.viber(viber_started("01234567890A=", 5491290931018310001))  # Viber retries: the same answer
    assert again.status_code == 200 and again.json() == welcome
    assert served.viber(viber_text("01234567890A=", "Yes", 5491290931018310004)).status_code == 200
    (thanks,) = fake.wait_for(1)
    assert (thanks.text, thanks.to, thanks.path) == ("You said Yes", "01234567890A=", "/pa/send_message")
    assert thanks.headers["x-viber-auth-token"] == SECRETS["VB_TOKEN"]
    (conversation,) = served.conversations(flow="welcome")
    assert conversation["status"] == "ended"


def test_a_viber_contact_who_unsubscribes_ends_their_live_conversation(served):
    served.viber(viber_started("u-leaving", 5491290931018310001))
    (live,) = served.conversations(status="live")
    gone = {"event": "unsubscribed", "timestamp": 1749416383000, "user_id": "u-leaving",
            "message_token": 5491290931018310099}
    assert served.viber(gone).status_code == 200
    ended = served.execution(live["id"])
    assert (ended["status"], ended["outcome"]) == ("ended", "unsubscribed")


def test_viber_message_tokens_above_two_to_the_53_stay_distinct(served, fake):
    served.viber(viber_started("u-big", 5491290931018310001))
    # tokens that a float would round to one number
    assert served.viber(viber_text("u-big", "Yes", 9007199254740993)).status_code == 200
    assert served.viber(viber_text("u-other", "Yes", 9007199254740992)).status_code == 200
    served.wait_for(lambda: len(served.conversations()) == 2, what="two conversations")


# ---- secrets missing ------------------------------------------------------------------------------------


def test_an_account_whose_secrets_are_missing_answers_503_and_its_flows_still_test(repo, fake):
    with Chat(repo.path, env={"WA_SECRET": "", "WA_VERIFY": ""}) as chat:
        raw = body(wa_text("15550002222", "hi"))
        assert chat.client.post("/webhooks/whatsapp/wa", content=raw,
                                headers=meta_signature(raw, SECRETS["WA_SECRET"])).status_code == 503
        assert chat.client.post("/webhooks/whatsapp", content=raw,
                                headers=meta_signature(raw, SECRETS["WA_SECRET"])).status_code == 503
        shake = chat.client.get("/webhooks/whatsapp/wa", params={"hub.mode": "subscribe", "hub.verify_token": "x",
                                                                  "hub.challenge": "1"})
        assert shake.status_code == 503
        tested = chat.client.post("/api/v1/flows/orders/test", json={"say": ["hi"], "contact": {"name": "Ana"}})
        assert tested.status_code == 200
        assert tested.json()["steps"][0]["replies"][0]["text"] == "Hi Ana! What do you need?"
        nothing_recorded(chat, fake)
        wa = next(a for a in chat.status()["accounts"] if a["name"] == "wa")
        assert next(c for c in wa["conditions"] if c["type"] == "Ready")["reason"] == "SecretMissing"
