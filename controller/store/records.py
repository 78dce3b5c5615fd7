"""The runtime's rows: sessions, dedupe records, outbox messages, timers, and one unit of work."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from controller.engine.events import Execution
from controller.engine.session import ConversationKey, Session

OutboxStatus = Literal["pending", "sending", "sent", "delivered", "read", "failed"]
OUTBOX_STATUSES: tuple[str, ...] = ("pending", "sending", "sent", "delivered", "read", "failed")
UNSENT: tuple[str, ...] = ("pending", "sending")
DeliveryState = Literal["sent", "delivered", "read", "failed"]


def stamp(value: _dt.datetime) -> str:
    """A time as fixed-width UTC text (`2026-01-05T09:00:00.000000+00:00`), so stored times sort as text."""
    if value.tzinfo is not _dt.timezone.utc:
        if value.tzinfo is None:
            raise ValueError("store times must be timezone-aware")
        value = value.astimezone(_dt.timezone.utc)
    return value.isoformat(timespec="microseconds")


def unstamp(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text)


# ---- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    """A stored conversation. `version` grows with every write: a writer names the version it
    read, and the store refuses the write when another writer got there first."""

    session: Session
    version: int
    out_id: str | None = None  # the manual trigger's external id

    @property
    def id(self) -> str:
        return self.session.id

    @property
    def key(self) -> ConversationKey:
        return self.session.key


@dataclass(frozen=True)
class Seen:
    """A dedupe record: the event was applied at `at`; `result` is what a redelivery answers."""

    scope: str
    key: str
    at: _dt.datetime
    result: str | None = None


@dataclass(frozen=True)
class TimerRow:
    """A session's one deadline, as the engine set it. `token` is the deadline's time: the
    scheduler fires TimerFired(token), which a session that moved on ignores."""

    session_id: str
    key: ConversationKey
    due_at: _dt.datetime
    kind: str

    @property
    def token(self) -> _dt.datetime:
        return self.due_at


@dataclass(frozen=True)
class OutboxRow:
    """One outgoing message. `repeats` counts attempts that may have reached the channel besides
    the one recorded (a timeout after the request went out, a crash mid-send)."""

    id: int
    conversation: str  # the ordering key: sends of one conversation go out in id order
    channel: str
    account: str
    to: str
    message: Mapping[str, Any]  # the OutboundMessage as JSON
    status: OutboxStatus
    attempts: int
    next_attempt_at: _dt.datetime
    channel_message_id: str | None
    error_code: str | None
    error_title: str | None
    repeats: int
    session_id: str | None
    flow: str | None
    revision: str | None
    node: str | None
    logging: bool
    created_at: _dt.datetime
    updated_at: _dt.datetime


# ---- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dedupe:
    """Record that an inbound event was applied; a second commit with the same key writes nothing."""

    scope: str  # the channel (or `api:<flow>` for idempotency keys)
    key: str  # the channel's message id (statuses: `status:<id>:<state>`)
    result: str | None = None


@dataclass(frozen=True)
class SessionWrite:
    """Store `session`. `expected_version` None inserts a new conversation (refused while the
    same conversation has another live session); otherwise the row must still be at that version."""

    session: Session
    expected_version: int | None
    out_id: str | None = None


@dataclass(frozen=True)
class NewMessage:
    """An outbox row to add. `failed` rows are recorded as refused before any send (e.g. a `send`
    node naming an account that does not exist)."""

    conversation: str
    channel: str
    account: str
    to: str
    message: Mapping[str, Any]
    session_id: str | None = None
    flow: str | None = None
    revision: str | None = None
    node: str | None = None
    logging: bool = False
    status: Literal["pending", "failed"] = "pending"
    error_code: str | None = None
    error_title: str | None = None


@dataclass(frozen=True)
class StatusChange:
    """A channel's delivery status of one of our messages, by the id the channel gave it."""

    channel: str
    message_id: str
    status: DeliveryState
    error_code: str | None = None
    error_title: str | None = None


@dataclass(frozen=True)
class Work:
    """Everything one inbound event (or timer, or API call) changes, committed as ONE transaction.

    The session's deadline becomes its timer (set, moved or cleared) in the same transaction.
    """

    now: _dt.datetime
    dedupe: Dedupe | None = None
    sessions: tuple[SessionWrite, ...] = ()
    messages: tuple[NewMessage, ...] = ()
    events: tuple[Execution, ...] = ()
    statuses: tuple[StatusChange, ...] = ()


@dataclass(frozen=True)
class Committed:
    """How a commit went: `applied`; `duplicate` (the dedupe key was there: nothing written,
    `result` is the stored one); `conflict` (a session changed meanwhile: nothing written)."""

    outcome: Literal["applied", "duplicate", "conflict"]
    result: str | None = None
    message_ids: tuple[int, ...] = ()
    detail: str = ""

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


@dataclass(frozen=True)
class SendResult:
    """What the dispatcher learned from one attempt: `sent`, `retry` at `next_attempt_at`, or
    `failed` for good. `maybe_delivered` on a retry: the request may have reached the channel."""

    id: int
    outcome: Literal["sent", "retry", "failed"]
    message_id: str | None = None
    error_code: str | None = None
    error_title: str | None = None
    maybe_delivered: bool = False
    next_attempt_at: _dt.datetime | None = None


@dataclass(frozen=True)
class Retention:
    """Prune what is older than these times: dedupe records (and statuses that matched no
    message), finished outbox rows, ended sessions and execution events."""

    dedupe_before: _dt.datetime
    outbox_before: _dt.datetime
    sessions_before: _dt.datetime
    events_before: _dt.datetime


@dataclass(frozen=True)
class Pruned:
    dedupe: int = 0
    outbox: int = 0
    sessions: int = 0
    events: int = 0
    statuses: int = 0

    def to_json(self) -> dict[str, int]:
        return {"dedupe": self.dedupe, "outbox": self.outbox, "sessions": self.sessions,
                "events": self.events, "statuses": self.statuses}


@dataclass(frozen=True)
class EventQuery:
    """Which execution events to read (all filters optional), oldest first; at most `limit` of
    them: the oldest ones, or with `newest` the newest ones (still returned oldest first)."""

    session_id: str | None = None
    flow: str | None = None
    since: _dt.datetime | None = None
    after_seq: int | None = None
    limit: int = 1000
    types: tuple[str, ...] = field(default_factory=tuple)
    newest: bool = False


@dataclass(frozen=True)
class EventRow:
    seq: int
    event: Execution


@dataclass(frozen=True)
class RuntimeCounts:
    """What the runtime holds now (metrics read it at scrape time): outbox messages by (channel,
    status) with their counted possible repeats, live sessions by status, and timers set."""

    outbox: Mapping[tuple[str, str], int]
    repeats: Mapping[str, int]
    sessions: Mapping[str, int]
    timers: int
