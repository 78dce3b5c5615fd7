"""One input being applied: the working copy of a session, the events so far, and the moves."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Literal

from controller.manifests.expressions import evaluate, render
from controller.manifests.models import Flow

from . import events as ev
from .events import Event, Execution, Outgoing, StartFlowRequest
from .messages import OutboundMessage
from .services import Services
from .session import Deadline, Reply, Said, Session
from .variables import jsonable

# ---- moves: what a component does next -----------------------------------------------------


@dataclass(frozen=True)
class Go:
    """Continue at another node."""

    node: str


@dataclass(frozen=True)
class Wait:
    """Stop here until an input arrives (or the deadline)."""

    status: Literal["waiting", "handed_over"] = "waiting"
    deadline: Deadline | None = None


@dataclass(frozen=True)
class Stay:
    """The input was taken and changes nothing: keep waiting as before (e.g. a message during a delay)."""


@dataclass(frozen=True)
class Finish:
    """End the conversation."""

    outcome: str | None = None
    status: Literal["ended", "expired"] = "ended"


Move = Go | Wait | Stay | Finish


# ---- the run ---------------------------------------------------------------------------------


class Run:
    """The state one input works on. Executors read and change it; `engine` turns it back into a
    frozen Session. It lives for one call only, so the engine stays a pure function."""

    def __init__(self, flow: Flow, session: Session, now: _dt.datetime, services: Services,
                 record: bool = True) -> None:
        self.flow = flow
        self.session = session
        self.now = now
        self.services = services
        self.record = record
        self.unrecorded = 0  # execution events not built because `record` is off
        self.vars: dict[str, Any] = dict(session.vars)
        self.jumps: dict[str, int] = dict(session.jumps)
        self.retries = session.retries
        self._message: Said | None = session.message
        self._reply: Reply | None = session.reply
        self._context: dict[str, Any] | None = None
        self.events: list[Event] = []

    # `message`, `reply` and `vars` (through set_var) are what the template context is made of:
    # changing one gives the context built before a new dict with the new value (the old one may
    # still be referred to; it never changes).
    @property
    def message(self) -> Said | None:
        return self._message

    @message.setter
    def message(self, value: Said | None) -> None:
        self._message = value
        if self._context is not None:
            self._context = {**self._context, "message": _said(value)}

    @property
    def reply(self) -> Reply | None:
        return self._reply

    @reply.setter
    def reply(self, value: Reply | None) -> None:
        self._reply = value
        if self._context is not None:
            self._context = {**self._context, "reply": _reply(value)}

    # -- templates -----------------------------------------------------------------------------

    def context(self) -> dict[str, Any]:
        """The names of DESIGN §7. Unset values are left out, so they render empty. Built once
        until something in it changes (the sandbox is immutable: templates cannot change it)."""
        if self._context is not None:
            return self._context
        s = self.session
        self._context = context = {
            "contact": _present(id=s.contact.address or None, name=s.contact.name, phone=s.contact.phone),
            "message": _said(self._message),
            "reply": _reply(self._reply),
            "account": _present(name=s.key.account, phone=s.account_phone),
            "vars": {k: v for k, v in self.vars.items() if v is not None},
            "trigger": {k: v for k, v in s.trigger.items() if v is not None},
            "flow": {"name": self.flow.name},
            "channel": s.key.channel,
        }
        return context

    def render(self, template: str) -> str:
        """Render a text field; raises ExpressionError."""
        return render(template, self.context())

    def evaluate(self, expression: str) -> Any:
        """Evaluate an expression; raises ExpressionError."""
        return evaluate(expression, self.context())

    # -- effects -------------------------------------------------------------------------------

    def emit(self, event_type: str, node: str | None, /, **fields: Any) -> None:
        if not self.record:
            self.unrecorded += 1
            return
        s = self.session
        self.events.append(Execution(event_type, s.id, s.flow, s.revision, node, self.now, fields))

    def set_var(self, node: str, name: str, value: Any) -> None:
        value = jsonable(value)
        if value is None:
            self.vars.pop(name, None)
        else:
            self.vars[name] = value
        if self._context is not None:  # a new context (one may still be referred to), the rest shared
            self._context = {**self._context, "vars": {k: v for k, v in self.vars.items() if v is not None}}
        if self.record:
            self.emit(ev.VAR_SET, node, name=name, value=value)
        else:
            self.unrecorded += 1

    def send(self, node: str, message: OutboundMessage, account: str | None = None, to: str | None = None) -> None:
        self.events.append(Outgoing(message, node, account, to))
        self.emit(ev.MESSAGE_QUEUED, node, **({"account": account, "to": to} if to is not None else {}))

    def start_flow(self, node: str, flow: str, variables: dict[str, Any]) -> None:
        self.events.append(StartFlowRequest(flow, variables, node))

    def fail(self, node_id: str, node: Any, reason: str) -> Move:
        """A node that cannot do its work: log it, then `on_failure` if the node has one, else end."""
        self.emit(ev.ERROR, node_id, message=reason)
        target = getattr(node, "on_failure", None)
        return Go(target) if target else Finish("failed")

    def after(self, seconds: int, kind: Any) -> Deadline:
        return Deadline(self.now + _dt.timedelta(seconds=seconds), kind)


def _said(message: Said | None) -> dict[str, Any]:
    return _present(text=message.text, type=message.type) if message else {}


def _reply(reply: Reply | None) -> dict[str, Any]:
    return _present(text=reply.text, id=reply.id) if reply else {}


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
