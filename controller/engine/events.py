"""What the engine tells its host: outgoing messages, execution events, and flow starts."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from .messages import OutboundMessage
from .session import Session

# Execution event types (DESIGN §7, plus the engine's own detail). The host stores them when the
# flow has `spec.logging: true`.
FLOW_STARTED = "flow.started"
FLOW_ENDED = "flow.ended"
NODE_ENTERED = "node.entered"
NODE_LEFT = "node.left"
MESSAGE_QUEUED = "message.queued"
MESSAGE_RECEIVED = "message.received"
ANSWER_INVALID = "answer.invalid"
VAR_SET = "var.set"
HTTP_CALL = "http.call"
LLM_CALL = "llm.call"
TIMER_SET = "timer.set"
TIMER_FIRED = "timer.fired"
HANDOFF_STARTED = "handoff.started"
HANDOFF_RELEASED = "handoff.released"
ERROR = "error"


@dataclass(frozen=True)
class Outgoing:
    """A rendered message to send. `account`/`to` are set by a `send` node (another recipient);
    otherwise it goes to the conversation's contact through the conversation's account."""

    message: OutboundMessage
    node: str
    account: str | None = None
    to: str | None = None

    @property
    def to_contact(self) -> bool:
        return self.to is None


@dataclass(frozen=True)
class Execution:
    """One structured execution event."""

    type: str
    conversation: str
    flow: str
    revision: str
    node: str | None
    time: _dt.datetime
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "conversation": self.conversation,
            "flow": self.flow,
            "revision": self.revision,
            "node": self.node,
            "time": self.time.isoformat(),
            **dict(self.fields),
        }


@dataclass(frozen=True)
class StartFlowRequest:
    """A `start_flow` node asks the host to start `flow` for the same conversation."""

    flow: str
    variables: Mapping[str, Any]
    node: str


Event = Union[Outgoing, Execution, StartFlowRequest]


@dataclass(frozen=True)
class Step:
    """The result of one input: the new session and what happened, in order.

    `handled` is False when the input did nothing to the conversation (a stale timer, a message
    to a session that has ended or that ended on the deadline it had passed): a host may then
    route an inbound message as a new conversation (DESIGN §7).
    """

    session: Session
    events: tuple[Event, ...] = ()
    handled: bool = True
    unrecorded: int = 0  # Execution events left out because the host asked not to record them

    @property
    def messages(self) -> list[Outgoing]:
        return [e for e in self.events if isinstance(e, Outgoing)]

    @property
    def executions(self) -> list[Execution]:
        return [e for e in self.events if isinstance(e, Execution)]

    @property
    def start_flow(self) -> StartFlowRequest | None:
        return next((e for e in self.events if isinstance(e, StartFlowRequest)), None)
