"""A conversation with one flow through the engine, as a host holds it, minus channel and store.

It is what `chatflow test`, FlowTests and the test API run. Before every input the session is
written to JSON text and read back, as a host that restarted at that wait would.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from controller.manifests.models import Flow

from .engine import advance
from .events import Execution, Outgoing
from .inputs import Inbound, Input, Release, Start, TimerFired
from .messages import Contact, OutboundMessage
from .services import OFFLINE, Services
from .session import ConversationKey, Session

EPOCH = _dt.datetime(2026, 1, 5, 9, 0, tzinfo=_dt.timezone.utc)  # a Monday morning, for stable tests
TICK = _dt.timedelta(seconds=1)  # the clock moves this much between inputs
MAX_FLOW_STARTS = 10  # start_flow hops followed for one input (a ping-pong between flows stops)
REVISION = "local"


@dataclass(frozen=True)
class Turn:
    """What one input did to the conversation."""

    said: str | None  # the text the contact sent (or tapped), None for other inputs
    replies: tuple[Outgoing, ...]
    executions: tuple[Execution, ...]
    session: Session | None
    notes: tuple[str, ...] = ()

    @property
    def ended(self) -> bool:
        return self.session is not None and self.session.is_final

    @property
    def waiting_at(self) -> str | None:
        return self.session.node if self.session is not None and self.session.is_waiting else None

    def to_json(self) -> dict[str, Any]:
        """DESIGN §6's transcript step, plus `outcome` and `notes`."""
        return {
            "say": self.said,
            "replies": [reply_json(r) for r in self.replies],
            "vars": dict(self.session.vars) if self.session is not None else {},
            "node": self.waiting_at,
            "ended": self.ended,
            "outcome": self.session.outcome if self.ended and self.session is not None else None,
            "notes": list(self.notes),
        }


def reply_json(outgoing: Outgoing) -> dict[str, Any]:
    """An outgoing message as transcripts and FlowTests see it: titles, not ids."""
    m = outgoing.message
    out: dict[str, Any] = {}
    if m.text is not None:
        out["text"] = m.text
    if m.buttons:
        out["buttons"] = [b.title for b in m.buttons]
    if m.list is not None:
        out["list"] = [row.title for section in m.list.sections for row in section.rows]
    if m.media is not None:
        out["media"] = m.media.url
        if m.media.caption is not None:
            out["text"] = m.media.caption
    if m.template is not None:
        out["template"] = {"name": m.template.name, "language": m.template.language, "params": list(m.template.params)}
        out["text"] = template_text(m)
    if outgoing.to is not None:
        out["to"] = outgoing.to
        out["account"] = outgoing.account
    return out


def template_text(message: OutboundMessage) -> str:
    """How a template message reads in a transcript: `template NAME(param, ...)`."""
    assert message.template is not None
    return f"template {message.template.name}({', '.join(message.template.params)})"


class Conversation:
    """One conversation. `resolve` finds the flows that `start_flow` names."""

    def __init__(
        self,
        flow: Flow,
        *,
        services: Services = OFFLINE,
        contact: Contact | None = None,
        variables: Mapping[str, Any] | None = None,
        resolve: Callable[[str], Flow | None] = lambda name: None,
        now: _dt.datetime = EPOCH,
    ) -> None:
        counter = itertools.count(1)
        self.flow = flow
        self.services = Services(http=services.http, llm=services.llm, new_id=lambda: f"conversation-{next(counter)}")
        trigger = flow.spec.trigger
        address = (contact.address if contact is not None and contact.address else None) or "test-contact"
        self.contact = contact or Contact(address=address)
        self.key = ConversationKey(trigger.type if trigger.is_message else "test", trigger.account or "test", address)
        self.variables = dict(variables or {})
        self.resolve = resolve
        self.now = now
        self.session: Session | None = None
        self._offered: dict[str, str] = {}  # option id -> title of the buttons/rows last sent

    @property
    def live(self) -> bool:
        return self.session is not None and not self.session.is_final

    def begin(self, message: Inbound | None = None) -> Turn:
        """Start the flow (again); `message` is the inbound that starts it."""
        start = Start(self.key, REVISION, self.contact, self.variables, message)
        return self._apply(self.flow, start, _said(message))

    def send(self, inbound: Inbound) -> Turn:
        """A message from the contact: it answers a live conversation, or starts the flow."""
        if not self.live:
            return self.begin(inbound)
        return self._apply(self.flow, inbound, _said(inbound))

    def say(self, text: str) -> Turn:
        return self.send(Inbound(text=text))

    def tap(self, option_id: str) -> Turn:
        """A tap on a button or list row; like a channel, it carries the option's title as text."""
        return self.send(Inbound(text=self._offered.get(option_id), reply_id=option_id, type="button"))

    def timeout(self) -> Turn | None:
        """Fire the pending deadline now (None when nothing waits for one)."""
        deadline = self.session.deadline if self.session is not None else None
        if deadline is None:
            return None
        self.now = max(self.now, deadline.at)
        return self._apply(self.flow, TimerFired(deadline.at), None, tick=False)

    def release(self) -> Turn:
        return self._apply(self.flow, Release(), None)

    # -- inside --------------------------------------------------------------------------------

    def _apply(self, flow: Flow, input: Input, said: str | None, tick: bool = True) -> Turn:
        if tick:
            self.now += TICK
        session = _reload(self.session)
        step = advance(flow, session, input, self.now, self.services)
        replies, executions, notes = list(step.messages), list(step.executions), []
        for _ in range(MAX_FLOW_STARTS):
            request = step.start_flow
            if request is None:
                break
            target = self.resolve(request.flow)
            if target is None:
                notes.append(f"start_flow: flow `{request.flow}` is not available here; the conversation ends")
                break
            self.flow = target
            start = Start(self.key, REVISION, self.contact, request.variables, None)
            step = advance(target, _reload(step.session), start, self.now, self.services)
            replies.extend(step.messages)
            executions.extend(step.executions)
        else:
            if step.start_flow is not None:
                notes.append(f"start_flow: stopped after {MAX_FLOW_STARTS} flow starts in one step")
        self.session = step.session
        for reply in replies:
            if reply.to_contact and (reply.message.buttons or reply.message.list):
                self._offered = _offered(reply.message)
        return Turn(said, tuple(replies), tuple(executions), step.session, tuple(notes))


def _offered(message: OutboundMessage) -> dict[str, str]:
    rows = [r for s in message.list.sections for r in s.rows] if message.list is not None else []
    return {o.id: o.title for o in (*message.buttons, *rows)}


def _said(inbound: Inbound | None) -> str | None:
    if inbound is None:
        return None
    return inbound.text if inbound.text is not None else inbound.reply_id


def _reload(session: Session | None) -> Session | None:
    if session is None:
        return None
    return Session.from_json(json.loads(json.dumps(session.to_json())))

