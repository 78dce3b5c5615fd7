"""Building flows and driving the engine in tests, the way a host does (JSON between inputs)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from controller.engine import (
    OFFLINE,
    ConversationKey,
    Inbound,
    Input,
    Services,
    Session,
    Start,
    Step,
    TimerFired,
    advance,
)
from controller.engine.messages import Contact
from controller.manifests.models import Flow

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
KEY = ConversationKey("whatsapp", "acme-wa", "15550002222")
ANA = Contact(address="15550002222", name="Ana", phone="+15550002222")


def make_flow(nodes: dict[str, Any], *, name: str = "demo", variables: dict[str, Any] | None = None,
              trigger: dict[str, Any] | None = None, expire: str = "3d") -> Flow:
    return Flow.model_validate(
        {
            "apiVersion": "chatflow/v1",
            "kind": "Flow",
            "metadata": {"name": name},
            "spec": {
                "trigger": trigger or {"type": "whatsapp", "account": "acme-wa"},
                "expireAfter": expire,
                "variables": variables or {},
                "nodes": nodes,
            },
        }
    )


def reload(session: Session) -> Session:
    return Session.from_json(json.loads(json.dumps(session.to_json())))


class Chat:
    """One conversation with a flow; the session goes through JSON before every input."""

    def __init__(self, flow: Flow, services: Services = OFFLINE, now: dt.datetime = T0, key: ConversationKey = KEY) -> None:
        self.flow = flow
        self.services = services
        self.now = now
        self.key = key
        self.session: Session | None = None
        self.steps: list[Step] = []

    def start(self, text: str | None = "hi", variables: dict[str, Any] | None = None, contact: Contact = ANA) -> Step:
        message = Inbound(text) if text is not None else None
        return self.apply(Start(self.key, "rev1", contact, variables or {}, message, session_id="s1"))

    def say(self, text: str) -> Step:
        return self.apply(Inbound(text))

    def tap(self, option_id: str, title: str | None = None) -> Step:
        return self.apply(Inbound(title, option_id, "button"))

    def fire(self) -> Step:
        assert self.session is not None and self.session.deadline is not None
        self.now = max(self.now, self.session.deadline.at)
        return self.apply(TimerFired(self.session.deadline.at))

    def later(self, **delta: float) -> "Chat":
        self.now += dt.timedelta(**delta)
        return self

    def apply(self, input: Input) -> Step:
        session = reload(self.session) if self.session is not None else None
        step = advance(self.flow, session, input, self.now, self.services)
        self.session = step.session
        self.steps.append(step)
        return step


def texts(step: Step) -> list[str | None]:
    return [m.message.text for m in step.messages]


def types(step: Step) -> list[str]:
    return [e.type for e in step.executions]


def of_type(step: Step, kind: str) -> list[Any]:
    return [e for e in step.executions if e.type == kind]
