"""WhatsApp Cloud API: `whatsapp_business_account` webhooks in, `/{phoneNumberId}/messages` out."""

from __future__ import annotations

from typing import Any

import httpx

from controller.engine.messages import (
    Contact,
    InboundEvent,
    Location,
    MediaRef,
    OutboundMessage,
    StatusUpdate,
)
from controller.manifests.limits import LIMITS
from controller.manifests.models import Account
from controller.manifests.secrets import resolve

from . import graph
from .base import SendResult
from .degrade import check_shape, clip, numbered_text, options
from .payload import arr, bounded, epoch, ident, load, number, obj, objs, text

LIMIT = LIMITS["whatsapp"]
INTERACTIVE_BODY = 1024  # body text of button and list messages
CAPTION = 1024
SECTION_TITLE = 24
DEGRADED_LIST_BUTTON = "Options"  # the list button label when buttons become a list
MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "document", "sticker": "sticker"}
STATUSES = ("sent", "delivered", "read", "failed")


class WhatsAppAdapter(graph.GraphAdapter):
    name = "whatsapp"

    def __init__(self, graph_version: str = graph.GRAPH_API_VERSION) -> None:
        self.graph_version = graph_version

    # -- parse -------------------------------------------------------------------------------

    def parse(self, body: bytes) -> list[InboundEvent]:
        doc = load(body)
        if doc.get("object") != "whatsapp_business_account":
            return [_other(None, {"event": "unexpected_object", "object": bounded(doc.get("object"))})]
        events: list[InboundEvent] = []
        for entry in objs(doc.get("entry")):
            for change in objs(entry.get("changes")):
                events.extend(_change(entry, change))
        return events or [_other(None, {"event": "empty"})]

    # -- render and send ---------------------------------------------------------------------

    def render(self, account: Account, to: str, message: OutboundMessage) -> dict[str, Any]:
        return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                **render_content(message)}

    def endpoint(self, account: Account) -> str:
        return f"{self.api_base(account)}/{self.graph_version}/{account.spec.whatsapp.phoneNumberId}/messages"  # type: ignore[union-attr]

    def auth_headers(self, account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {resolve(account.spec.credentials.accessToken)}"}  # type: ignore[union-attr]

    def classify(self, response: httpx.Response) -> SendResult:
        return graph.classify(response, _sent_id)


def _sent_id(data: Any) -> str | None:
    messages = objs(obj(data).get("messages"))
    return ident(messages[0].get("id")) if messages else None


# -- parse ---------------------------------------------------------------------------------------


def _other(phone_number_id: str | None, detail: dict[str, Any], **fields: Any) -> InboundEvent:
    return InboundEvent(channel="whatsapp", account_channel_id=phone_number_id, kind="other",
                        detail=detail, **fields)


def _change(entry: dict[str, Any], change: dict[str, Any]) -> list[InboundEvent]:
    field = text(change.get("field"))
    value = obj(change.get("value"))
    phone_number_id = ident(obj(value.get("metadata")).get("phone_number_id"))
    if field != "messages":
        # template status updates, account updates, ...: recorded, never a conversation
        return [_other(phone_number_id, {"field": field, "entry_id": ident(entry.get("id")),
                                         "value": bounded(value)})]
    names = {ident(c.get("wa_id")): text(obj(c.get("profile")).get("name")) for c in objs(value.get("contacts"))}
    events: list[InboundEvent] = []
    for key, items in value.items():  # payload order: the arrays as they appear
        if key == "messages":
            events.extend(_message(phone_number_id, names, m) for m in objs(items))
        elif key == "statuses":
            events.extend(_status(phone_number_id, s) for s in objs(items))
        elif key == "errors":
            events.extend(_other(phone_number_id, {"event": "error", **_error(e)}) for e in objs(items))
    return events or [_other(phone_number_id, {"field": field, "value": bounded(value)})]


def _error(error: dict[str, Any]) -> dict[str, Any]:
    return {"code": ident(error.get("code")),
            "title": text(error.get("title")) or text(error.get("message")),
            "details": text(obj(error.get("error_data")).get("details"))}


def _contact(wa_id: str | None, names: dict[str | None, str | None]) -> Contact | None:
    if wa_id is None:
        return None
    return Contact(address=wa_id, name=names.get(wa_id), phone=f"+{wa_id}" if wa_id.isdigit() else None)


def _message(phone_number_id: str | None, names: dict[str | None, str | None], m: dict[str, Any]) -> InboundEvent:
    wa_type = text(m.get("type"))
    common: dict[str, Any] = {
        "channel": "whatsapp",
        "account_channel_id": phone_number_id,
        "contact": _contact(ident(m.get("from")), names),
        "message_id": ident(m.get("id")),
        "timestamp": epoch(m.get("timestamp"), 1),
    }
    detail: dict[str, Any] = {"wa_type": wa_type}
    context = obj(m.get("context"))
    if ident(context.get("id")):
        detail["context_id"] = ident(context.get("id"))
    if "referral" in m:
        detail["referral"] = bounded(m.get("referral"))
    errors = [_error(e) for e in objs(m.get("errors"))]
    if errors:
        detail["errors"] = errors
    content = obj(m.get(wa_type)) if wa_type else {}

    if wa_type == "text" and text(content.get("body")) is not None:
        return InboundEvent(kind="message", type="text", text=text(content.get("body")), detail=detail, **common)
    if wa_type == "interactive":
        return _interactive(content, detail, common)
    if wa_type == "button":  # a tap on a template's quick-reply button
        title = text(content.get("text"))
        payload = text(content.get("payload")) or title
        if payload is not None:
            return InboundEvent(kind="message", type="button", text=title, reply_id=payload, detail=detail, **common)
    if wa_type in MEDIA_TYPES:
        media = MediaRef(kind=MEDIA_TYPES[wa_type], id=ident(content.get("id")), url=text(content.get("url")),  # type: ignore[arg-type]
                         caption=text(content.get("caption")), mime_type=text(content.get("mime_type")))
        if text(content.get("filename")):
            detail["filename"] = text(content.get("filename"))
        if content.get("voice") is True:
            detail["voice"] = True
        return InboundEvent(kind="message", type="media", media=media, detail=detail, **common)
    if wa_type == "location":
        lat, lon = number(content.get("latitude")), number(content.get("longitude"))
        if lat is not None and lon is not None:
            location = Location(lat, lon, name=text(content.get("name")), address=text(content.get("address")))
            return InboundEvent(kind="message", type="location", location=location, detail=detail, **common)
    if wa_type == "contacts":
        detail["contacts"] = [_shared_contact(c) for c in objs(m.get("contacts"))]
        return InboundEvent(kind="message", type="contact", detail=detail, **common)
    if wa_type == "reaction":
        detail.update(event="reaction", emoji=text(content.get("emoji")),
                      reacted_message_id=ident(content.get("message_id")))
        return InboundEvent(kind="other", detail=detail, **common)
    if wa_type in ("system", "request_welcome"):
        detail.update(event=wa_type, body=text(content.get("body")))
        return InboundEvent(kind="other", detail=detail, **common)
    # "unsupported", orders, unknown types, or a known type with a broken body: the contact
    # sent something a flow cannot read; a waiting question counts it as an invalid answer
    return InboundEvent(kind="message", type="unsupported", detail=detail, **common)


def _interactive(content: dict[str, Any], detail: dict[str, Any], common: dict[str, Any]) -> InboundEvent:
    kind = text(content.get("type"))
    detail["interactive_type"] = kind
    if kind in ("button_reply", "list_reply"):
        reply = obj(content.get(kind))
        reply_id = ident(reply.get("id"))
        if reply_id is not None:
            if text(reply.get("description")):
                detail["description"] = text(reply.get("description"))
            return InboundEvent(kind="message", type="button" if kind == "button_reply" else "list",
                                text=text(reply.get("title")), reply_id=reply_id, detail=detail, **common)
    if kind == "nfm_reply":  # a WhatsApp Flow's answer; flows here are ours, not Meta's
        detail["response_json"] = bounded(text(obj(content.get("nfm_reply")).get("response_json")))
    return InboundEvent(kind="message", type="unsupported", detail=detail, **common)


def _shared_contact(card: dict[str, Any]) -> dict[str, Any]:
    return {"name": text(obj(card.get("name")).get("formatted_name")),
            "phones": [p for p in (text(obj(x).get("phone")) for x in arr(card.get("phones"))) if p]}


def _status(phone_number_id: str | None, s: dict[str, Any]) -> InboundEvent:
    message_id = ident(s.get("id"))
    state = text(s.get("status"))
    recipient = ident(s.get("recipient_id"))
    common: dict[str, Any] = {
        "channel": "whatsapp",
        "account_channel_id": phone_number_id,
        "contact": _contact(recipient, {}),
        "timestamp": epoch(s.get("timestamp"), 1),
    }
    if message_id is None or state not in STATUSES:
        return InboundEvent(kind="other", detail={"event": "status", "status": state, "id": message_id}, **common)
    detail: dict[str, Any] = {}
    conversation = obj(s.get("conversation"))
    if ident(conversation.get("id")):
        detail["conversation_id"] = ident(conversation.get("id"))
        detail["conversation_origin"] = text(obj(conversation.get("origin")).get("type"))
    pricing = obj(s.get("pricing"))
    if text(pricing.get("category")):
        detail["pricing_category"] = text(pricing.get("category"))
    errors = [_error(e) for e in objs(s.get("errors"))]
    if errors:
        detail["errors"] = errors
    first = errors[0] if errors else {}
    update = StatusUpdate(message_id=message_id, status=state,  # type: ignore[arg-type]
                          error_code=first.get("code"), error_title=first.get("title"))
    return InboundEvent(kind="status", status=update, detail=detail, **common)


# -- render --------------------------------------------------------------------------------------


def render_content(message: OutboundMessage) -> dict[str, Any]:
    """The message part of a Cloud API send (everything but product, recipient type and `to`)."""
    check_shape(message)
    if message.template is not None:
        template: dict[str, Any] = {"name": message.template.name, "language": {"code": message.template.language}}
        if message.template.params:
            template["components"] = [{"type": "body", "parameters": [
                {"type": "text", "text": p} for p in message.template.params]}]
        return {"type": "template", "template": template}
    if message.media is not None:
        media: dict[str, Any] = {"link": message.media.url}
        if message.media.caption and message.media.kind != "audio":  # audio carries no caption
            media["caption"] = clip(message.media.caption, CAPTION)
        return {"type": message.media.kind, message.media.kind: media}
    assert message.text is not None
    choices = options(message)
    if not choices:
        return {"type": "text", "text": {"preview_url": _has_link(message.text), "body": clip(message.text, LIMIT.text)}}
    body = {"text": clip(message.text, INTERACTIVE_BODY)}
    if message.buttons and len(choices) <= LIMIT.buttons:
        return {"type": "interactive", "interactive": {"type": "button", "body": body, "action": {"buttons": [
            {"type": "reply", "reply": {"id": c.id, "title": clip(c.title, LIMIT.button_title or 20)}}
            for c in choices]}}}
    if len(choices) <= LIMIT.list_rows:
        return {"type": "interactive", "interactive": {"type": "list", "body": body, "action": _list_action(message)}}
    return {"type": "text", "text": {"preview_url": False, "body": numbered_text(message.text, choices, LIMIT.text)}}


def _list_action(message: OutboundMessage) -> dict[str, Any]:
    if message.list is None:  # 4 to 10 buttons: one untitled section
        rows = [{"id": b.id, "title": clip(b.title, LIMIT.row_title)} for b in message.buttons]
        return {"button": DEGRADED_LIST_BUTTON, "sections": [{"rows": rows}]}
    sections = [s for s in message.list.sections if s.rows]
    rendered = []
    for section in sections:
        out: dict[str, Any] = {}
        title = section.title or (DEGRADED_LIST_BUTTON if len(sections) > 1 else None)  # required when several
        if title:
            out["title"] = clip(title, SECTION_TITLE)
        out["rows"] = [_row(r.id, r.title, r.description) for r in section.rows]
        rendered.append(out)
    return {"button": clip(message.list.button, LIMIT.list_button), "sections": rendered}


def _row(row_id: str, title: str, description: str | None) -> dict[str, Any]:
    row = {"id": row_id, "title": clip(title, LIMIT.row_title)}
    if description:
        row["description"] = clip(description, LIMIT.row_description)
    return row


def _has_link(body: str) -> bool:
    return "https://" in body or "http://" in body
