"""Viber REST bot API: event callbacks in (per-account URL), `/pa/send_message` out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from controller.engine.messages import Contact, InboundEvent, Location, MediaRef, OutboundMessage, StatusUpdate
from controller.manifests.limits import LIMITS, VIBER_SENDER_NAME
from controller.manifests.models import Account
from controller.manifests.secrets import resolve

from . import signature
from .base import ChannelAdapter, RenderError, SendResult, SignatureCheck, header, response_json, retry_after
from .degrade import Option, check_shape, clip, numbered_text, options
from .payload import arr, bounded, epoch, ident, load, number, obj, text

LIMIT = LIMITS["viber"]
SIGNATURE_HEADER = "X-Viber-Content-Signature"
AUTH_HEADER = "X-Viber-Auth-Token"
MAX_BODY_BYTES = 30 * 1024  # Viber's documented request maximum
PICTURE_TEXT = 120  # a picture's description
TRACKING_DATA = 4000
TRACKING_PREFIX = "chatflow:"  # our tracking_data: which keyboard reply means which option id
RECEIPTS = {"delivered": "delivered", "seen": "read", "failed": "failed"}
MEDIA_TYPES = {"picture": "image", "video": "video", "file": "document", "sticker": "sticker"}

STATUS_NAMES = {
    "1": "invalidUrl", "2": "invalidAuthToken", "3": "badData", "4": "missingData",
    "5": "receiverNotRegistered", "6": "receiverNotSubscribed", "7": "publicAccountBlocked",
    "8": "publicAccountNotFound", "9": "publicAccountSuspended", "10": "webhookNotSet",
    "11": "receiverNoSuitableDevice", "12": "tooManyRequests", "13": "apiVersionNotSupported",
    "14": "incompatibleWithVersion", "15": "publicAccountNotAuthorized",
}
RETRYABLE_STATUSES = frozenset({"12"})
HINTS = {
    "2": "the auth token is wrong: check the secret the Account's authToken references",
    "5": "the receiver is not a Viber user",
    "6": "the contact has not subscribed to the bot (or unsubscribed); a bot may only message subscribers",
    "10": "no webhook is set for the bot: set it to this account's /webhooks/viber/<account> URL",
    "12": "Viber's rate limit: the message is retried later",
}


class ViberAdapter(ChannelAdapter):
    name = "viber"
    max_body_bytes = MAX_BODY_BYTES
    signature_header = SIGNATURE_HEADER
    routing = "url"  # Viber callbacks carry no id of the bot: one URL per account
    default_api_base = "https://chatapi.viber.com"

    # -- verify ------------------------------------------------------------------------------

    def verify(self, account: Account, body: bytes, headers: Mapping[str, str]) -> SignatureCheck:
        token = resolve(account.spec.credentials.authToken)  # type: ignore[union-attr]
        return signature.check(body, header(headers, SIGNATURE_HEADER), token)

    # -- parse -------------------------------------------------------------------------------

    def parse(self, body: bytes) -> list[InboundEvent]:
        doc = load(body)
        event = text(doc.get("event"))
        common: dict[str, Any] = {
            "channel": "viber",
            "account_channel_id": None,
            "message_id": ident(doc.get("message_token")),  # exact: a 64-bit integer as text
            "timestamp": epoch(doc.get("timestamp"), 1000),
        }
        if event == "message":
            sender = obj(doc.get("sender"))
            return [_message(obj(doc.get("message")), {**common, "contact": _contact(sender)})]
        if event in ("conversation_started", "subscribed"):
            detail: dict[str, Any] = {}
            if event == "conversation_started":
                detail = {"type": text(doc.get("type")), "context": text(doc.get("context")),
                          "subscribed": doc.get("subscribed") is True}
            return [InboundEvent(kind=event, contact=_contact(obj(doc.get("user"))), detail=detail, **common)]
        user_id = ident(doc.get("user_id"))
        contact = Contact(address=user_id) if user_id else None
        if event == "unsubscribed":
            return [InboundEvent(kind="unsubscribed", contact=contact, **common)]
        token = common["message_id"]
        if event in RECEIPTS and token is not None:
            # a receipt's token names OUR message, so it goes in the status, as on every channel
            update = StatusUpdate(message_id=token, status=RECEIPTS[event],  # type: ignore[arg-type]
                                  error_title=text(doc.get("desc")) if event == "failed" else None)
            return [InboundEvent(kind="status", contact=contact, status=update, **{**common, "message_id": None})]
        return [InboundEvent(kind="other", contact=contact, detail={"event": event}, **common)]

    # -- render and send ---------------------------------------------------------------------

    def render(self, account: Account, to: str, message: OutboundMessage) -> dict[str, Any]:
        return {"receiver": to, **self.render_welcome(account, message)}

    def render_welcome(self, account: Account, message: OutboundMessage) -> dict[str, Any]:
        """The message without a receiver: the body of the HTTP answer to conversation_started."""
        bot = account.spec.viber  # type: ignore[union-attr]
        sender = {"name": clip(bot.senderName, VIBER_SENDER_NAME)}
        if bot.senderAvatar:
            sender["avatar"] = bot.senderAvatar
        return {"sender": sender, **render_content(message)}

    def endpoint(self, account: Account) -> str:
        return f"{self.api_base(account)}/pa/send_message"

    def auth_headers(self, account: Account) -> dict[str, str]:
        return {AUTH_HEADER: resolve(account.spec.credentials.authToken)}  # type: ignore[union-attr]

    def classify(self, response: httpx.Response) -> SendResult:
        """Viber answers HTTP 200 with `status` 0 (sent) or an error status in the JSON body."""
        http = response.status_code
        if http != 200:
            retryable = http == 429 or http >= 500
            return SendResult("retryable" if retryable else "permanent", code=f"http_{http}",
                              title=response.reason_phrase or f"HTTP {http}", http_status=http,
                              retry_after=retry_after(response))
        data = obj(response_json(response))
        status = data.get("status")
        if status == 0 and not isinstance(status, bool):
            token = ident(data.get("message_token"))
            if token is not None:
                return SendResult("sent", message_id=token, http_status=http)
        code = ident(status)
        if code is None or code == "0":
            return SendResult("retryable", code="bad_response", http_status=http, maybe_delivered=True,
                              title="Viber answered without a status and message token")
        return SendResult("retryable" if code in RETRYABLE_STATUSES else "permanent", code=code,
                          title=text(data.get("status_message")) or STATUS_NAMES.get(code, "generalError"),
                          hint=HINTS.get(code), http_status=http)


# -- parse ---------------------------------------------------------------------------------------


def _contact(user: dict[str, Any]) -> Contact | None:
    user_id = ident(user.get("id"))
    return Contact(address=user_id, name=text(user.get("name"))) if user_id else None


def _message(msg: dict[str, Any], common: dict[str, Any]) -> InboundEvent:
    kind = text(msg.get("type"))
    detail: dict[str, Any] = {"viber_type": kind}
    tracking = text(msg.get("tracking_data"))
    if tracking:
        detail["tracking_data"] = bounded(tracking)
    body = text(msg.get("text"))
    url = text(msg.get("media"))
    if kind == "text" and body is not None:
        reply_id = _reply_id(tracking, body)
        if reply_id is not None:  # a tap on our keyboard: its ActionBody is the option's title
            return InboundEvent(kind="message", type="button", text=body, reply_id=reply_id, detail=detail, **common)
        return InboundEvent(kind="message", type="text", text=body, detail=detail, **common)
    if kind == "url" and url is not None:
        return InboundEvent(kind="message", type="text", text=url, detail=detail, **common)
    if kind in MEDIA_TYPES:
        if text(msg.get("file_name")):
            detail["file_name"] = text(msg.get("file_name"))
        if ident(msg.get("sticker_id")):
            detail["sticker_id"] = ident(msg.get("sticker_id"))
        media = MediaRef(kind=MEDIA_TYPES[kind], url=url, caption=body)  # type: ignore[arg-type]
        return InboundEvent(kind="message", type="media", media=media, detail=detail, **common)
    if kind == "location":
        place = obj(msg.get("location"))
        lat, lon = number(place.get("lat")), number(place.get("lon"))
        if lat is not None and lon is not None:
            location = Location(lat, lon, address=text(place.get("address")))
            return InboundEvent(kind="message", type="location", location=location, detail=detail, **common)
    if kind == "contact":
        card = obj(msg.get("contact"))
        detail["contacts"] = [{"name": text(card.get("name")),
                               "phones": [p for p in [text(card.get("phone_number"))] if p]}]
        return InboundEvent(kind="message", type="contact", detail=detail, **common)
    return InboundEvent(kind="message", type="unsupported", detail=detail, **common)


def _reply_id(tracking: str | None, body: str) -> str | None:
    """The option id whose title is exactly `body`, from the tracking_data we sent with the keyboard."""
    if not tracking or not tracking.startswith(TRACKING_PREFIX):
        return None
    try:
        data = json.loads(tracking[len(TRACKING_PREFIX):])
    except (ValueError, RecursionError):
        return None
    for pair in arr(obj(data).get("options")):
        if isinstance(pair, list) and len(pair) == 2 and pair[1] == body and isinstance(pair[0], str):
            return pair[0]
    return None


# -- render --------------------------------------------------------------------------------------


def render_content(message: OutboundMessage) -> dict[str, Any]:
    """A send_message body without receiver and sender."""
    check_shape(message)
    if message.template is not None:
        raise RenderError("viber has no message templates; send text, buttons, a list or media instead")
    if message.media is not None:
        media = message.media
        if media.kind == "image":
            return {"type": "picture", "text": clip(media.caption or "", PICTURE_TEXT), "media": media.url}
        # video and file messages need the size in bytes up front, which a link does not give
        link = f"{media.caption}\n{media.url}" if media.caption else media.url
        return {"type": "text", "text": clip(link, LIMIT.text)}
    assert message.text is not None
    choices = options(message)
    if not choices:
        return {"type": "text", "text": clip(message.text, LIMIT.text)}
    if len(choices) > LIMIT.buttons:
        return {"type": "text", "text": numbered_text(message.text, choices, LIMIT.text)}
    content: dict[str, Any] = {"type": "text", "text": clip(message.text, LIMIT.text), "keyboard": _keyboard(choices)}
    tracking = _tracking(choices)
    if tracking is not None:
        content["tracking_data"] = tracking
    return content


def _keyboard(choices: list[Option]) -> dict[str, Any]:
    # a reply button sends its ActionBody as the contact's message, shown in the chat: the title
    return {"Type": "keyboard", "DefaultHeight": False, "Buttons": [
        {"Columns": 6, "Rows": 1, "ActionType": "reply", "ActionBody": c.title, "Text": c.title,
         "TextSize": "regular"} for c in choices]}


def _tracking(choices: list[Option]) -> str | None:
    data = TRACKING_PREFIX + json.dumps({"options": [[c.id, c.title] for c in choices]},
                                        ensure_ascii=False, separators=(",", ":"))
    return data if len(data) <= TRACKING_DATA else None
