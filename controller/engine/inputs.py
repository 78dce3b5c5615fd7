"""What can happen to a conversation: the inputs the engine takes."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from .messages import Contact, InboundEvent
from .session import ConversationKey

ANSWER_TYPES = frozenset({"text", "button", "list", "quick_reply", "postback"})
"""Inbound types that can answer a question; anything else (media, location, sticker...) cannot."""


@dataclass(frozen=True)
class Inbound:
    """A message from the contact, channel-neutral: typed text, a tapped option, or something else."""

    text: str | None = None
    reply_id: str | None = None  # the id of the button / list row / quick reply tapped
    type: str = "text"  # a messages.MessageType

    @property
    def answers(self) -> bool:
        """Whether it can be an answer at all (an unsupported type never is)."""
        return self.type in ANSWER_TYPES and (bool(self.text and self.text.strip()) or self.reply_id is not None)

    @classmethod
    def from_event(cls, event: InboundEvent) -> "Inbound":
        return cls(text=event.text, reply_id=event.reply_id, type=event.type or "unsupported")


@dataclass(frozen=True)
class Start:
    """Start `flow` for a conversation; a live session of that conversation is ended first.

    `variables` are the trigger inputs (manual trigger, start_flow): only declared ones are kept.
    `message` is the inbound that started it, if any: templates see it as `message`, and it is
    never taken as the answer to the flow's first wait.
    """

    key: ConversationKey
    revision: str
    contact: Contact | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    message: Inbound | None = None
    session_id: str | None = None  # the host's id for it; else services.new_id()
    account_phone: str | None = None


@dataclass(frozen=True)
class TimerFired:
    """A scheduled deadline came due; `at` is the deadline it was set for (a stale one does nothing)."""

    at: _dt.datetime


@dataclass(frozen=True)
class Release:
    """End a handoff (an agent or the API gives the conversation back to the bot)."""


@dataclass(frozen=True)
class Stop:
    """End the conversation now (API `end`)."""

    reason: str = "stopped"


Input = Union[Start, Inbound, TimerFired, Release, Stop]
