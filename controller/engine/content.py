"""Rendering the message fields of message, question and send nodes into an OutboundMessage."""

from __future__ import annotations

from dataclasses import dataclass

from controller.manifests.components import Button, ListSpec, _Content

from .messages import OutboundMessage, OutButton, OutList, OutMedia, OutRow, OutSection, OutTemplate
from .run import Run


@dataclass(frozen=True)
class Option:
    """One choice a question offers: a button or a list row, with its rendered title."""

    id: str
    title: str


def options(node: _Content, run: Run) -> list[Option]:
    """The choices, titles rendered (button titles are templates; list rows are plain text)."""
    if node.buttons:
        return [Option(b.id, run.render(b.title)) for b in node.button_models()]
    if node.list is not None:
        return [Option(r.id, r.title) for r in node.list.rows()]
    return []


def render_message(node: _Content, run: Run, text: str | None = None) -> OutboundMessage:
    """The node's message with every template filled in; `text` replaces the node's text."""
    body = run.render(text if text is not None else node.text) if (text is not None or node.text is not None) else None
    fields = node.__dict__  # a pydantic model's field values; getattr of a field a node lacks costs an exception
    media = fields.get("media")
    template = fields.get("template")
    return OutboundMessage(
        text=body,
        buttons=tuple(_buttons(node.button_models(), run)),
        list=_list(node.list) if node.list is not None else None,
        media=OutMedia(media.kind, run.render(media.url), run.render(media.caption) if media.caption is not None else None)
        if media is not None
        else None,
        template=OutTemplate(template.name, template.language, tuple(run.render(p) for p in template.params))
        if template is not None
        else None,
    )


def _buttons(buttons: list[Button], run: Run) -> list[OutButton]:
    return [OutButton(b.id, run.render(b.title)) for b in buttons]


def _list(spec: ListSpec) -> OutList:
    return OutList(
        spec.button,
        tuple(OutSection(s.title, tuple(OutRow(r.id, r.title, r.description) for r in s.rows)) for s in spec.sections),
    )
