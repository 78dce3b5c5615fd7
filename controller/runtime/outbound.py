"""An OutboundMessage as the JSON an outbox row keeps, and back."""

from __future__ import annotations

from typing import Any, Mapping

from controller.engine.messages import OutboundMessage, OutButton, OutList, OutMedia, OutRow, OutSection, OutTemplate


def message_json(message: OutboundMessage) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if message.text is not None:
        out["text"] = message.text
    if message.buttons:
        out["buttons"] = [{"id": b.id, "title": b.title} for b in message.buttons]
    if message.list is not None:
        out["list"] = {
            "button": message.list.button,
            "sections": [
                {"title": s.title, "rows": [{"id": r.id, "title": r.title, "description": r.description} for r in s.rows]}
                for s in message.list.sections
            ],
        }
    if message.media is not None:
        out["media"] = {"kind": message.media.kind, "url": message.media.url, "caption": message.media.caption}
    if message.template is not None:
        out["template"] = {"name": message.template.name, "language": message.template.language,
                           "params": list(message.template.params)}
    return out


def message_from_json(data: Mapping[str, Any]) -> OutboundMessage:
    """Read what message_json wrote (KeyError/TypeError for anything else)."""
    listing = data.get("list")
    media = data.get("media")
    template = data.get("template")
    return OutboundMessage(
        text=data.get("text"),
        buttons=tuple(OutButton(b["id"], b["title"]) for b in data.get("buttons", ())),
        list=OutList(
            listing["button"],
            tuple(OutSection(s.get("title"), tuple(OutRow(r["id"], r["title"], r.get("description")) for r in s["rows"]))
                  for s in listing["sections"]),
        ) if listing is not None else None,
        media=OutMedia(media["kind"], media["url"], media.get("caption")) if media is not None else None,
        template=OutTemplate(template["name"], template["language"], tuple(template.get("params", ())))
        if template is not None else None,
    )


def preview(data: Mapping[str, Any]) -> str:
    """One line of what a stored message says, for listings."""
    if data.get("template"):
        t = data["template"]
        return f"template {t.get('name')}({', '.join(map(str, t.get('params', [])))})"
    if data.get("media"):
        m = data["media"]
        return f"[{m.get('kind')}] {m.get('caption') or m.get('url')}"
    return str(data.get("text") or "")
