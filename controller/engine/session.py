"""The session: everything the engine remembers about one conversation between two inputs.

A host stores `session.to_json()` and gives `Session.from_json(...)` back with the next input;
the FlowTest runner does exactly that before every input, so a test also proves the session
survives a restart at every wait.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, fields
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal, Mapping, get_args

from .messages import Contact

Status = Literal["active", "waiting", "handed_over", "ended", "expired"]
DeadlineKind = Literal["question", "delay", "handoff", "expiry"]
FINAL: frozenset[str] = frozenset({"ended", "expired"})
FORMAT = 1  # version of the JSON shape; bump with a reader for the old one


class SessionFormatError(ValueError):
    """Stored session JSON that cannot be read back."""


@dataclass(frozen=True)
class ConversationKey:
    """Who talks to whom: the channel, our account's name, and the contact's channel address."""

    channel: str
    account: str
    address: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.account}:{self.address}"


@dataclass(frozen=True)
class Deadline:
    """When a waiting session must move on by itself, and why."""

    at: _dt.datetime
    kind: DeadlineKind


@dataclass(frozen=True)
class Said:
    """The last incoming message, as templates see it (`message.text`, `message.type`)."""

    text: str | None
    type: str


@dataclass(frozen=True)
class Reply:
    """The last valid answer to a question (`reply.text`, `reply.id`)."""

    text: str | None
    id: str | None


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Session:
    id: str
    key: ConversationKey
    flow: str
    revision: str
    node: str | None  # where the conversation is (waits), or the node it ended at
    status: Status
    started_at: _dt.datetime
    updated_at: _dt.datetime
    vars: Mapping[str, Any] = field(default_factory=dict)
    trigger: Mapping[str, Any] = field(default_factory=dict)  # the declared inputs it started with
    contact: Contact = Contact(address="")
    account_phone: str | None = None
    wait: Deadline | None = None  # the waiting node's own deadline (question/delay/handoff)
    expires_at: _dt.datetime | None = None  # a waiting session past this ends as expired
    retries: int = 0  # invalid answers given to the current question
    jumps: Mapping[str, int] = field(default_factory=dict)  # goto node id -> jumps taken
    message: Said | None = None
    reply: Reply | None = None
    outcome: str | None = None  # set when it ended

    def __post_init__(self) -> None:
        object.__setattr__(self, "vars", _frozen(self.vars))
        object.__setattr__(self, "trigger", _frozen(self.trigger))
        object.__setattr__(self, "jumps", _frozen(self.jumps))

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @property
    def is_waiting(self) -> bool:
        return self.status in ("waiting", "handed_over")

    @cached_property
    def deadline(self) -> Deadline | None:
        """The one deadline a host schedules: the earlier of the node's own and expiry."""
        if self.is_final:
            return None
        expiry = Deadline(self.expires_at, "expiry") if self.expires_at is not None else None
        if self.wait is None or (expiry is not None and expiry.at < self.wait.at):
            return expiry
        return self.wait

    def evolve(self, **changes: Any) -> "Session":
        """A copy with `changes` (what `dataclasses.replace` does, without running every field
        through `__init__` again: this is on every step's path)."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"Session has no field(s) {', '.join(sorted(unknown))}")
        new = object.__new__(Session)
        values = new.__dict__
        values.update(self.__dict__)
        values.pop("deadline", None)  # computed from the fields: the copy works it out again
        for name, value in changes.items():
            values[name] = _frozen(value) if name in _MAPPINGS else value
        return new

    # ---- JSON -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": self.id,
            "key": {"channel": self.key.channel, "account": self.key.account, "address": self.key.address},
            "flow": self.flow,
            "revision": self.revision,
            "node": self.node,
            "status": self.status,
            "startedAt": _time(self.started_at),
            "updatedAt": _time(self.updated_at),
            "vars": dict(self.vars),
            "trigger": dict(self.trigger),
            "contact": {"address": self.contact.address, "name": self.contact.name, "phone": self.contact.phone},
            "accountPhone": self.account_phone,
            "wait": {"at": _time(self.wait.at), "kind": self.wait.kind} if self.wait else None,
            "expiresAt": _time(self.expires_at) if self.expires_at else None,
            "retries": self.retries,
            "jumps": dict(self.jumps),
            "message": {"text": self.message.text, "type": self.message.type} if self.message else None,
            "reply": {"text": self.reply.text, "id": self.reply.id} if self.reply else None,
            "outcome": self.outcome,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Session":
        """Read what `to_json` wrote; anything else raises SessionFormatError saying what is wrong."""
        if not isinstance(data, Mapping):
            raise SessionFormatError(f"a stored session is a JSON object, not {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise SessionFormatError(f"stored session has format {data.get('format')!r}; this engine reads format {FORMAT}")
        try:
            key, contact = data["key"], data["contact"]
            wait, message, reply = data["wait"], data["message"], data["reply"]
            status = data["status"]
            if status not in _STATUSES:
                raise SessionFormatError(f"stored session has unknown status {status!r}")
            if wait is not None and wait["kind"] not in _DEADLINE_KINDS:
                raise SessionFormatError(f"stored session has unknown deadline kind {wait['kind']!r}")
            return cls(
                id=str(data["id"]),
                key=ConversationKey(str(key["channel"]), str(key["account"]), str(key["address"])),
                flow=str(data["flow"]),
                revision=str(data["revision"]),
                node=data["node"],
                status=status,
                started_at=_parse_time(data["startedAt"]),
                updated_at=_parse_time(data["updatedAt"]),
                vars=dict(data["vars"]),
                trigger=dict(data["trigger"]),
                contact=Contact(address=str(contact["address"]), name=contact["name"], phone=contact["phone"]),
                account_phone=data["accountPhone"],
                wait=Deadline(_parse_time(wait["at"]), wait["kind"]) if wait is not None else None,
                expires_at=_parse_time(data["expiresAt"]) if data["expiresAt"] is not None else None,
                retries=int(data["retries"]),
                jumps={str(k): int(v) for k, v in dict(data["jumps"]).items()},
                message=Said(message["text"], str(message["type"])) if message is not None else None,
                reply=Reply(reply["text"], reply["id"]) if reply is not None else None,
                outcome=data["outcome"],
            )
        except SessionFormatError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionFormatError(f"stored session is malformed: {type(exc).__name__} {exc}") from None


_FIELDS = frozenset(f.name for f in fields(Session))
_MAPPINGS = frozenset({"vars", "trigger", "jumps"})
_STATUSES = frozenset(get_args(Status))
_DEADLINE_KINDS = frozenset(get_args(DeadlineKind))


def _time(value: _dt.datetime) -> str:
    return value.isoformat()


def _parse_time(text: Any) -> _dt.datetime:
    value = _dt.datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone")
    return value
