"""The Messenger Platform shared by Messenger and Instagram: `messaging[]` webhooks and the Send API."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from controller.engine.messages import (
    Contact,
    InboundEvent,
    Location,
    MediaRef,
    OutboundMessage,
    StatusUpdate,
)
from controller.manifests.limits import ChannelLimits
from controller.manifests.models import Account
from controller.manifests.secrets import resolve

from . import graph
from .base import RenderError, SendResult
from .degrade import check_shape, clip, numbered_text, options
from .payload import bounded, epoch, ident, load, number, obj, objs, text

MESSAGING_TYPE = "RESPONSE"  # a reply inside the 24-hour window; flows answer the contact
ATTACHMENT_MEDIA = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
ENVELOPE_KEYS = ("sender", "recipient", "timestamp")


class MessagingAdapter(graph.GraphAdapter):
    """Messenger and Instagram differ only in the envelope `object`, limits and media types."""

    object_name: ClassVar[str]
    limits: ClassVar[ChannelLimits]
    send_media: ClassVar[frozenset[str]]  # OutMedia kinds sent as attachments; others as a link

    def __init__(self, graph_version: str = graph.GRAPH_API_VERSION, messaging_type: str = MESSAGING_TYPE) -> None:
        self.graph_version = graph_version
        self.messaging_type = messaging_type

    # -- parse -------------------------------------------------------------------------------

    def parse(self, body: bytes) -> list[InboundEvent]:
        doc = load(body)
        if doc.get("object") != self.object_name:
            return [self._other(None, {"event": "unexpected_object", "object": bounded(doc.get("object"))})]
        events: list[InboundEvent] = []
        for entry in objs(doc.get("entry")):
            owner = ident(entry.get("id"))
            for key, items in entry.items():
                if key == "messaging":
                    for ev in objs(items):
                        events.extend(self._messaging(owner, ev))
                elif key == "standby":  # another app owns the thread (handover protocol)
                    events.extend(self._other(owner, {"event": "standby", "value": bounded(ev)}) for ev in objs(items))
                elif key == "changes":  # field subscriptions: comments, mentions, ...
                    events.extend(self._other(owner, {"field": text(ch.get("field")), "value": bounded(ch.get("value"))})
                                  for ch in objs(items))
        return events or [self._other(None, {"event": "empty"})]

    def _other(self, owner: str | None, detail: dict[str, Any], **fields: Any) -> InboundEvent:
        return InboundEvent(channel=self.name, account_channel_id=owner, kind="other", detail=detail, **fields)

    def _messaging(self, owner: str | None, ev: dict[str, Any]) -> list[InboundEvent]:
        sender = ident(obj(ev.get("sender")).get("id"))
        recipient = ident(obj(ev.get("recipient")).get("id"))
        common: dict[str, Any] = {
            "channel": self.name,
            "account_channel_id": owner or recipient,
            "contact": Contact(address=sender) if sender else None,
            "timestamp": epoch(ev.get("timestamp"), 1000),
        }
        if isinstance(ev.get("message"), dict):
            return [self._message(owner, sender, recipient, ev["message"], common)]
        if isinstance(ev.get("postback"), dict):
            pb = ev["postback"]
            detail = {"referral": bounded(pb["referral"])} if "referral" in pb else {}
            payload = text(pb.get("payload")) or text(pb.get("title"))
            if payload is not None:
                # Messenger postbacks may lack a mid: the sender and time make a stable dedupe key
                mid = ident(pb.get("mid")) or f"postback:{sender}:{ident(ev.get('timestamp'))}"
                return [InboundEvent(kind="message", type="postback", message_id=mid, reply_id=payload,
                                     text=text(pb.get("title")), detail=detail, **common)]
            return [InboundEvent(kind="other", detail={"event": "postback", **detail}, **common)]
        if isinstance(ev.get("delivery"), dict):
            return self._receipt(ev["delivery"], "delivered", common)
        if isinstance(ev.get("read"), dict):
            return self._receipt(ev["read"], "read", common)
        if isinstance(ev.get("reaction"), dict):
            r = ev["reaction"]
            return [InboundEvent(kind="other", detail={
                "event": "reaction", "reaction": text(r.get("reaction")), "emoji": text(r.get("emoji")),
                "action": text(r.get("action")), "reacted_message_id": ident(r.get("mid"))}, **common)]
        event = next((k for k in ev if k not in ENVELOPE_KEYS), None)  # optin, referral, handover, ...
        return [InboundEvent(kind="other", detail={"event": event, "value": bounded(ev.get(event)) if event else None},
                             **common)]

    def _receipt(self, receipt: dict[str, Any], state: str, common: dict[str, Any]) -> list[InboundEvent]:
        """Instagram names the message (`read.mid`); Messenger lists `mids`, or gives only a watermark."""
        listed = receipt.get("mids")
        mids = [m for m in (ident(x) for x in (listed if isinstance(listed, list) else [receipt.get("mid")])) if m]
        watermark = epoch(receipt.get("watermark"), 1000)
        if not mids:  # "everything before the watermark": no message id to update
            return [InboundEvent(kind="other", detail={"event": state, "watermark": watermark}, **common)]
        detail = {"watermark": watermark} if watermark is not None else {}
        return [InboundEvent(kind="status", status=StatusUpdate(message_id=mid, status=state),  # type: ignore[arg-type]
                             detail=detail, **common) for mid in mids]

    def _message(self, owner: str | None, sender: str | None, recipient: str | None,
                 msg: dict[str, Any], common: dict[str, Any]) -> InboundEvent:
        mid = ident(msg.get("mid"))
        body = text(msg.get("text"))
        detail: dict[str, Any] = {}
        if "reply_to" in msg:
            detail["reply_to"] = bounded(msg.get("reply_to"))
        if msg.get("is_echo") is True or (sender is not None and sender == owner):
            # the page's own message coming back: recorded, never answered
            detail.update(event="echo", app_id=ident(msg.get("app_id")), metadata=text(msg.get("metadata")))
            echo = {**common, "contact": Contact(address=recipient) if recipient else None,
                    "account_channel_id": owner or sender}
            return InboundEvent(kind="other", message_id=mid, text=body, detail=detail, **echo)
        if msg.get("is_deleted") is True:
            return InboundEvent(kind="other", message_id=mid, detail={"event": "deleted", **detail}, **common)
        quick = obj(msg.get("quick_reply"))
        payload = text(quick.get("payload"))
        if payload is not None:
            return InboundEvent(kind="message", type="quick_reply", message_id=mid, text=body, reply_id=payload,
                                detail=detail, **common)
        attachments = [a for a in objs(msg.get("attachments")) if text(a.get("type")) != "fallback"]
        if attachments:
            if len(attachments) > 1:
                detail["attachments"] = [{"type": text(a.get("type")), "url": text(obj(a.get("payload")).get("url"))}
                                         for a in attachments]
            return self._attachment(attachments[0], mid, body, detail, common)
        if body is not None:
            return InboundEvent(kind="message", type="text", message_id=mid, text=body, detail=detail, **common)
        if msg.get("is_unsupported") is True:
            detail["unsupported"] = True
        return InboundEvent(kind="message", type="unsupported", message_id=mid, detail=detail, **common)

    def _attachment(self, attachment: dict[str, Any], mid: str | None, body: str | None,
                    detail: dict[str, Any], common: dict[str, Any]) -> InboundEvent:
        kind = text(attachment.get("type"))
        payload = obj(attachment.get("payload"))
        url = text(payload.get("url"))
        detail["attachment_type"] = kind
        if kind == "story_mention":  # the contact mentioned the account in a story: not a message to answer
            detail["event"] = "story_mention"
            return InboundEvent(kind="other", message_id=mid, media=MediaRef(kind="story_mention", url=url),
                                detail=detail, **common)
        if kind in ATTACHMENT_MEDIA:
            media_kind = "sticker" if ident(payload.get("sticker_id")) else ATTACHMENT_MEDIA[kind]
            if ident(payload.get("sticker_id")):
                detail["sticker_id"] = ident(payload.get("sticker_id"))
            return InboundEvent(kind="message", type="media", message_id=mid, text=body,
                                media=MediaRef(kind=media_kind, url=url), detail=detail, **common)  # type: ignore[arg-type]
        if kind == "location":
            coordinates = obj(payload.get("coordinates"))
            lat, lon = number(coordinates.get("lat")), number(coordinates.get("long"))
            if lat is not None and lon is not None:
                return InboundEvent(kind="message", type="location", message_id=mid,
                                    location=Location(lat, lon, name=text(attachment.get("title"))),
                                    detail=detail, **common)
        if url:
            detail["url"] = url
        # shares, reels, templates, ...: nothing a flow can read as an answer
        return InboundEvent(kind="message", type="unsupported", message_id=mid, text=body, detail=detail, **common)

    # -- render and send ---------------------------------------------------------------------

    def render(self, account: Account, to: str, message: OutboundMessage) -> dict[str, Any]:
        return {"recipient": {"id": to}, "messaging_type": self.messaging_type, "message": self.render_message(message)}

    def render_message(self, message: OutboundMessage) -> dict[str, Any]:
        check_shape(message)
        if message.template is not None:
            raise RenderError(f"{self.name} has no WhatsApp-style message templates; "
                              f"send text, buttons, a list or media instead")
        if message.media is not None:
            media = message.media
            if media.kind in self.send_media:
                # attachments carry no caption on the Messenger Platform: the caption is dropped
                kind = "file" if media.kind == "document" else media.kind
                return {"attachment": {"type": kind, "payload": {"url": media.url, "is_reusable": True}}}
            link = f"{media.caption}\n{media.url}" if media.caption else media.url
            return {"text": clip(link, self.limits.text)}
        assert message.text is not None
        choices = options(message)
        if not choices:
            return {"text": clip(message.text, self.limits.text)}
        if len(choices) <= self.limits.buttons:
            return {"text": clip(message.text, self.limits.text), "quick_replies": [
                {"content_type": "text", "title": clip(c.title, self.limits.button_title or 20), "payload": c.id}
                for c in choices]}
        return {"text": numbered_text(message.text, choices, self.limits.text)}

    def auth_headers(self, account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {resolve(account.spec.credentials.pageAccessToken)}"}  # type: ignore[union-attr]

    def classify(self, response: httpx.Response) -> SendResult:
        return graph.classify(response, lambda data: ident(obj(data).get("message_id")))
