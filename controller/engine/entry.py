"""Which flow an inbound message goes to (DESIGN §7).

The live session, else the flow whose keyword is the whole text, else the account's default
flow, else none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from controller.manifests.models import Flow, fold_keyword

from .session import Session


@dataclass(frozen=True)
class Resume:
    """Give the message to the live session (keywords never interrupt one)."""


@dataclass(frozen=True)
class Begin:
    """Start `flow` with the message (it is never the answer to the flow's first wait)."""

    flow: Flow
    by: str  # "keyword" | "default"


@dataclass(frozen=True)
class Unanswered:
    """No flow takes it: record the message and do not answer."""


Route = Resume | Begin | Unanswered


def route(session: Session | None, text: str | None, flows: Iterable[Flow]) -> Route:
    """`flows` are the published flows bound to the account the message came to. When the engine
    answers a resumed message with `handled=False` (its session had just ended), route again."""
    if session is not None and not session.is_final:
        return Resume()
    candidates = sorted(flows, key=lambda f: f.name)
    typed = fold_keyword(text or "")
    if typed:
        for flow in candidates:
            if typed in flow.spec.trigger.folded_keywords():
                return Begin(flow, "keyword")
    default = next((f for f in candidates if f.spec.trigger.is_message and not f.spec.trigger.keywords), None)
    return Begin(default, "default") if default is not None else Unanswered()
