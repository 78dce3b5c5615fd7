"""Webhook bodies as the channels send them (shapes of ../shared/fixtures), built per test, and
their signatures."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

WA_PHONE_ID = "106540352242922"
FB_PAGE_ID = "107311555555555"
IG_USER_ID = "17841400000000001"
_ids = itertools.count(1)


def body(doc: dict[str, Any]) -> bytes:
    # Meta sends unicode-escaped JSON; the signature is over these exact bytes
    return json.dumps(doc).encode("ascii")


def meta_signature(raw: bytes, secret: str) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


def viber_signature(raw: bytes, token: str) -> dict[str, str]:
    return {"X-Viber-Content-Signature": hmac.new(token.encode(), raw, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


def new_wamid() -> str:
    return f"wamid.in{next(_ids):08d}"


def wa_envelope(value: dict[str, Any], phone_id: str = WA_PHONE_ID) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_id}, **value}}]}]}


def wa_message(sender: str, text: str | None = None, *, button: tuple[str, str] | None = None,
               msg_id: str | None = None, name: str = "Ana") -> dict[str, Any]:
    m: dict[str, Any] = {"from": sender, "timestamp": "1749416383", "id": msg_id or new_wamid()}
    if button is not None:
        m.update(type="interactive", interactive={"type": "button_reply",
                                                  "button_reply": {"id": button[0], "title": button[1]}})
    else:
        m.update(type="text", text={"body": text})
    return m


def wa_messages(*messages: dict[str, Any], phone_id: str = WA_PHONE_ID) -> dict[str, Any]:
    contacts = [{"profile": {"name": "Ana"}, "wa_id": m["from"]} for m in messages]
    return wa_envelope({"contacts": contacts, "messages": list(messages)}, phone_id)


def wa_text(sender: str, text: str, msg_id: str | None = None, phone_id: str = WA_PHONE_ID) -> dict[str, Any]:
    return wa_messages(wa_message(sender, text, msg_id=msg_id), phone_id=phone_id)


def wa_button(sender: str, option_id: str, title: str, msg_id: str | None = None) -> dict[str, Any]:
    return wa_messages(wa_message(sender, button=(option_id, title), msg_id=msg_id))


def wa_status(message_id: str, status: str, recipient: str, code: int | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"id": message_id, "recipient_id": recipient, "timestamp": "1749416401", "status": status}
    if code is not None:
        s["errors"] = [{"code": code, "title": "Re-engagement message", "message": "Re-engagement message"}]
    return wa_envelope({"statuses": [s]})


def messenger_echo(psid: str, text: str, page_id: str = FB_PAGE_ID) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": page_id, "time": 1749416390000, "messaging": [{
        "sender": {"id": page_id}, "recipient": {"id": psid}, "timestamp": 1749416390000,
        "message": {"is_echo": True, "app_id": 1517776481860111, "mid": f"m_echo{next(_ids)}", "text": text}}]}]}


def messenger_text(psid: str, text: str, page_id: str = FB_PAGE_ID) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": page_id, "time": 1749416390000, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": 1749416390000,
        "message": {"mid": f"m_in{next(_ids)}", "text": text}}]}]}


def viber_started(user: str, token: int) -> dict[str, Any]:
    return {"event": "conversation_started", "timestamp": 1749416383000, "chat_hostname": "SN-CHAT-01_",
            "message_token": token, "type": "open", "user": {"id": user, "name": "John McClane", "api_version": 10},
            "subscribed": False}


def viber_text(user: str, text: str, token: int) -> dict[str, Any]:
    return {"event": "message", "timestamp": 1749416383000, "chat_hostname": "SN-CHAT-01_", "message_token": token,
            "sender": {"id": user, "name": "John McClane", "api_version": 10},
            "message": {"type": "text", "text": text}, "silent": False}


def instagram_text(igsid: str, text: str, ig_user_id: str = IG_USER_ID) -> dict[str, Any]:
    return {"object": "instagram", "entry": [{"id": ig_user_id, "time": 1749416383000, "messaging": [{
        "sender": {"id": igsid}, "recipient": {"id": ig_user_id}, "timestamp": 1749416383000,
        "message": {"mid": f"aWdfZAG{next(_ids)}", "text": text}}]}]}
