"""What adapters do with content a channel cannot show: cut text, flatten choices, number them."""

from __future__ import annotations

from dataclasses import dataclass

from controller.engine.messages import OutboundMessage

from .base import RenderError

ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the last one an ellipsis when anything was cut.

    Over-long text is truncated, not split: one outgoing message stays one channel request with
    one message id, so a retry can never repeat half of it. Validation rejects literal text
    over the limit (CF131); only templates that expand at run time reach this.
    """
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""


@dataclass(frozen=True)
class Option:
    """A button or list row, flattened: what the contact may choose."""

    id: str
    title: str
    description: str | None = None
    section: str | None = None  # the list section it opens, for numbered text


def options(message: OutboundMessage) -> list[Option]:
    """The choices of a message in order: its buttons, or its list rows across sections."""
    if message.buttons:
        return [Option(b.id, b.title) for b in message.buttons]
    if message.list is None:
        return []
    result: list[Option] = []
    for section in message.list.sections:
        for i, row in enumerate(section.rows):
            result.append(Option(row.id, row.title, row.description,
                                 section.title if i == 0 else None))
    return result


def numbered_text(text: str | None, choices: list[Option], limit: int) -> str:
    """The text followed by the choices as `1. Title - description` lines, within `limit`.

    Numbers run on across list sections (section titles are plain lines), so the Nth line is
    the Nth option; the contact answers with the number or the title. When it does not fit,
    the prose is cut first and the choices kept.
    """
    lines: list[str] = []
    for n, option in enumerate(choices, start=1):
        if option.section:
            lines.append(option.section)
        line = f"{n}. {option.title}"
        if option.description:
            line += f" - {option.description}"
        lines.append(line)
    block = "\n".join(lines)
    if not text:
        return clip(block, limit)
    room = limit - len(block) - 2
    if room < 1:
        return clip(f"{text}\n\n{block}", limit)
    return f"{clip(text, room)}\n\n{block}"


def check_shape(message: OutboundMessage) -> None:
    """Exactly one of text / media / template, and buttons or a list only with text."""
    given = [name for name in ("text", "media", "template") if getattr(message, name) is not None]
    if len(given) != 1:
        found = ", ".join(given) if given else "none"
        raise RenderError(f"a message has exactly one of text, media or template (found {found})")
    if message.buttons and message.list is not None:
        raise RenderError("a message has buttons or a list, not both")
    if (message.buttons or message.list is not None) and message.text is None:
        raise RenderError("buttons and lists go with a text message")
    if message.text is not None and not message.text.strip():
        raise RenderError("the message text is empty")
    if message.list is not None and not any(s.rows for s in message.list.sections):
        raise RenderError("the list has no rows")
