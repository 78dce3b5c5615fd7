"""Meta Graph API conventions shared by WhatsApp, Messenger and Instagram: handshake, signature, errors."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any, Callable

import httpx

from controller.manifests.models import Account
from controller.manifests.secrets import resolve

from . import signature
from .base import ChannelAdapter, Handshake, SendResult, SignatureCheck, header, response_json, retry_after
from .payload import ident, obj, text

GRAPH_API_VERSION = "v21.0"  # pass graph_version= to an adapter to use another
GRAPH_API_BASE = "https://graph.facebook.com"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY_BYTES = 3 * 1024 * 1024  # WhatsApp documents up to 3 MB; Meta batches page events too
CHALLENGE_MAX = 512

# Graph error codes that clear up by themselves: throttling and temporary failures.
RETRYABLE_CODES = frozenset({
    "1",  # API unknown (often temporary)
    "2",  # API service: temporary
    "4", "17", "32", "613", "80007",  # app / user / page / WABA rate limits
    "1200",  # Messenger: temporary send message failure
    "130429",  # WhatsApp: throughput (80 messages/s per number by default)
    "131000",  # WhatsApp: something went wrong; try again
    "131016",  # WhatsApp: service unavailable
    "131048",  # WhatsApp: spam rate limit
    "131056",  # WhatsApp: (business, consumer) pair rate limit
    "133004",  # WhatsApp: server temporarily unavailable
})

HINTS: dict[str, str] = {
    "131047": "more than 24 hours have passed since the contact last wrote: "
              "send an approved template message (message `template`) to reopen the conversation",
    "131026": "the recipient cannot receive this message (not on WhatsApp, an old app, or terms not accepted)",
    "131051": "WhatsApp does not support this message type",
    "132000": "the template's parameter count does not match: check `template.params`",
    "132001": "the template does not exist in that language, or is not approved yet",
    "190": "the access token is invalid or expired: renew the token the Account references",
    "10/2018278": "outside Messenger's 24-hour window: a reply needs the contact to write first "
                  "(or messaging_type MESSAGE_TAG with an approved tag)",
    "551": "this person isn't available right now (blocked the page or deactivated)",
    "100/2018001": "no such user: the contact id is not a valid page-scoped id for this page",
    "100/2534014": "no such Instagram user for this account",
}


def handshake(query: Mapping[str, str], verify_token: str) -> Handshake:
    """Meta's subscription GET: `hub.mode=subscribe` and the right `hub.verify_token` echo `hub.challenge`."""
    mode = query.get("hub.mode")
    challenge = query.get("hub.challenge")
    if mode != "subscribe" or challenge is None:
        return Handshake(400, "not a subscription handshake: expected hub.mode=subscribe and hub.challenge")
    token = query.get("hub.verify_token") or ""
    if not hmac.compare_digest(token.encode("utf-8"), verify_token.encode("utf-8")):
        return Handshake(403, "hub.verify_token does not match this account's verifyToken")
    if len(challenge) > CHALLENGE_MAX or not challenge.isprintable():
        return Handshake(400, "hub.challenge is not a short printable string")
    return Handshake(200, challenge)


def verify(body: bytes, headers: Mapping[str, str], app_secret: str) -> SignatureCheck:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>`."""
    return signature.check(body, header(headers, SIGNATURE_HEADER), app_secret, prefix="sha256=")


def classify(response: httpx.Response, message_id: Callable[[Any], str | None]) -> SendResult:
    """A Graph API answer: 2xx with an id is sent; errors by code, else by HTTP status."""
    status = response.status_code
    data = response_json(response)
    if 200 <= status < 300:
        found = message_id(data)
        if found is not None:
            return SendResult("sent", message_id=found, http_status=status)
        return SendResult("retryable", code="bad_response", http_status=status, maybe_delivered=True,
                          title="the channel accepted the request but returned no message id")
    error = obj(obj(data).get("error"))
    code = ident(error.get("code"))
    subcode = ident(error.get("error_subcode"))
    details = text(obj(error.get("error_data")).get("details"))
    title = text(error.get("message")) or response.reason_phrase or f"HTTP {status}"
    if details and details not in title:
        title = f"{title}: {details}"
    retryable = code in RETRYABLE_CODES or status == 429 or status >= 500
    hint = HINTS.get(f"{code}/{subcode}") or (HINTS.get(code) if code else None)
    return SendResult(
        "retryable" if retryable else "permanent",
        code=code or f"http_{status}",
        title=title,
        hint=hint,
        http_status=status,
        retry_after=retry_after(response),
    )


class GraphAdapter(ChannelAdapter):
    """What Meta's channels share: Graph API webhooks routed by payload, the `hub.verify_token`
    handshake and the X-Hub-Signature-256 check, with the account's own credentials."""

    max_body_bytes = MAX_BODY_BYTES
    signature_header = SIGNATURE_HEADER
    routing = "payload"
    default_api_base = GRAPH_API_BASE

    def handshake(self, account: Account, query: Mapping[str, str]) -> Handshake:
        return handshake(query, resolve(account.spec.credentials.verifyToken))  # type: ignore[union-attr]

    def verify(self, account: Account, body: bytes, headers: Mapping[str, str]) -> SignatureCheck:
        return verify(body, headers, resolve(account.spec.credentials.appSecret))  # type: ignore[union-attr]
