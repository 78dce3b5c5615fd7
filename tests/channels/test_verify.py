"""Request signatures over the raw body bytes, and Meta's subscription handshake."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from controller.channels import adapter
from controller.manifests.secrets import SecretMissing

from .conftest import SECRETS, account, payload

META_SECRETS = {"whatsapp": "CF_TEST_WA_APP_SECRET", "messenger": "CF_TEST_FB_APP_SECRET",
                "instagram": "CF_TEST_IG_APP_SECRET"}
SIGNING = {**{ch: (SECRETS[env], "X-Hub-Signature-256", "sha256=") for ch, env in META_SECRETS.items()},
           "viber": (SECRETS["CF_TEST_VIBER_TOKEN"], "X-Viber-Content-Signature", "")}
FIXTURE = {"whatsapp": "text", "messenger": "text", "instagram": "text", "viber": "message_text"}
CHANNELS = sorted(SIGNING)


def signed(channel: str, body: bytes, secret: str | None = None) -> dict[str, str]:
    key, name, prefix = SIGNING[channel]
    digest = hmac.new((secret or key).encode(), body, hashlib.sha256).hexdigest()
    return {name: prefix + digest}


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_correctly_signed_body_verifies(channel):
    body = payload(channel, FIXTURE[channel])
    assert adapter(channel).verify(account(channel), body, signed(channel, body)) == "ok"


@pytest.mark.parametrize("channel", CHANNELS)
def test_header_names_are_matched_case_insensitively(channel):
    body = payload(channel, FIXTURE[channel])
    [(name, value)] = signed(channel, body).items()
    assert adapter(channel).verify(account(channel), body, {name.lower(): value}) == "ok"


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_body_changed_after_signing_is_invalid(channel):
    body = payload(channel, FIXTURE[channel])
    tampered = body.replace(b"1234", b"9999") if b"1234" in body else body + b" "
    assert adapter(channel).verify(account(channel), tampered, signed(channel, body)) == "invalid"


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_missing_signature_is_reported_as_missing(channel):
    body = payload(channel, FIXTURE[channel])
    assert adapter(channel).verify(account(channel), body, {}) == "missing"
    [(name, _)] = signed(channel, body).items()
    assert adapter(channel).verify(account(channel), body, {name: "  "}) == "missing"


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_signature_made_with_another_secret_is_invalid(channel):
    body = payload(channel, FIXTURE[channel])
    assert adapter(channel).verify(account(channel), body, signed(channel, body, secret="not-the-secret")) == "invalid"


@pytest.mark.parametrize("channel", CHANNELS)
def test_garbage_signature_values_are_invalid(channel):
    body = payload(channel, FIXTURE[channel])
    [(name, _)] = signed(channel, body).items()
    for value in ["sha1=abc", "sha256=", "zz", "sha256=ÿÿ", "sha256=" + "0" * 64]:
        assert adapter(channel).verify(account(channel), body, {name: value}) == "invalid", value


@pytest.mark.parametrize("channel", ["whatsapp", "messenger", "instagram"])
def test_meta_signatures_need_the_sha256_prefix(channel):
    body = payload(channel, FIXTURE[channel])
    bare = signed(channel, body)["X-Hub-Signature-256"].removeprefix("sha256=")
    assert adapter(channel).verify(account(channel), body, {"X-Hub-Signature-256": bare}) == "invalid"


@pytest.mark.parametrize("channel", CHANNELS)
def test_non_ascii_text_is_verified_over_the_raw_bytes_as_sent(channel):
    # Meta sends unicode escaped (\u00e9), Viber raw UTF-8: either way the bytes are what count
    escaped = b'{"object": "page", "entry": [], "text": "caf\\u00e9 \\ud83d\\ude00"}'
    raw_utf8 = '{"event": "message", "text": "café 😀"}'.encode()
    for body in (escaped, raw_utf8):
        assert adapter(channel).verify(account(channel), body, signed(channel, body)) == "ok"
    reserialised = json.dumps(json.loads(escaped), ensure_ascii=False).encode()
    assert reserialised != escaped
    assert adapter(channel).verify(account(channel), reserialised, signed(channel, escaped)) == "invalid"


@pytest.mark.parametrize("channel", CHANNELS)
def test_verifying_without_the_secret_raises_secret_missing_naming_only_the_reference(channel, monkeypatch):
    env = META_SECRETS.get(channel, "CF_TEST_VIBER_TOKEN")
    monkeypatch.delenv(env)
    body = payload(channel, FIXTURE[channel])
    with pytest.raises(SecretMissing, match=env):
        adapter(channel).verify(account(channel), body, signed(channel, body))


# -- handshake -----------------------------------------------------------------------------------

VERIFY = {"whatsapp": "wa-verify-token", "messenger": "fb-verify-token", "instagram": "ig-verify-token"}


@pytest.mark.parametrize("channel", sorted(VERIFY))
def test_handshake_with_the_right_token_echoes_the_challenge(channel):
    answer = adapter(channel).handshake(account(channel), {
        "hub.mode": "subscribe", "hub.verify_token": VERIFY[channel], "hub.challenge": "1158201444"})
    assert (answer.status, answer.body, answer.ok) == (200, "1158201444", True)


@pytest.mark.parametrize("channel", sorted(VERIFY))
def test_handshake_with_a_wrong_or_missing_token_is_forbidden(channel):
    for query in ({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
                  {"hub.mode": "subscribe", "hub.challenge": "1"}):
        answer = adapter(channel).handshake(account(channel), query)
        assert answer.status == 403 and "verify_token" in answer.body


@pytest.mark.parametrize("query", [
    {},
    {"hub.mode": "unsubscribe", "hub.verify_token": "wa-verify-token", "hub.challenge": "1"},
    {"hub.mode": "subscribe", "hub.verify_token": "wa-verify-token"},
    {"hub.mode": "subscribe", "hub.verify_token": "wa-verify-token", "hub.challenge": "x" * 600},
])
def test_a_get_that_is_not_a_subscription_handshake_is_a_bad_request(query):
    assert adapter("whatsapp").handshake(account("whatsapp"), query).status == 400


def test_viber_has_no_handshake():
    assert adapter("viber").handshake(account("viber"), {"hub.mode": "subscribe"}) is None
