"""What an execution event keeps when it is stored: message bodies only when configured
(CHATFLOW_LOG_MESSAGE_BODIES), secrets never (DESIGN §7)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from controller.engine import events as ev
from controller.engine.events import Execution
from controller.logs import REDACTED, looks_secret, scrub

from . import settings

BODIES = "CHATFLOW_LOG_MESSAGE_BODIES"
WITHHELD = "[withheld]"  # a body that was there and is not kept

# The fields that carry what a contact wrote, what the bot wrote, or values made from them.
_BODY_FIELDS: Mapping[str, tuple[str, ...]] = {
    ev.MESSAGE_RECEIVED: ("text",),
    ev.MESSAGE_QUEUED: ("text",),
    ev.VAR_SET: ("value",),
    ev.HANDOFF_STARTED: ("note",),
}


@dataclass(frozen=True)
class EventPolicy:
    """`bodies`: keep message texts, variable values and handoff notes in execution events."""

    bodies: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "EventPolicy":
        """CHATFLOW_LOG_MESSAGE_BODIES (true); SettingError names a bad value."""
        return cls(bodies=settings.flag(BODIES, True, env))


def recorded(event: Execution, policy: EventPolicy) -> Execution:
    """The event as it is stored: bodies withheld unless the policy keeps them; secret-looking
    fields, variables named like secrets and every resolved secret value always masked."""
    fields: dict[str, Any] = dict(event.fields)
    if not policy.bodies:
        for name in _BODY_FIELDS.get(event.type, ()):
            if fields.get(name) is not None:
                fields[name] = WITHHELD
        if event.type == ev.HTTP_CALL and isinstance(fields.get("url"), str):
            fields["url"] = _without_query_values(fields["url"])
    if event.type == ev.VAR_SET and looks_secret(str(fields.get("name", ""))) and fields.get("value") is not None:
        fields["value"] = REDACTED
    return dataclasses.replace(event, fields=scrub(fields))


def _without_query_values(url: str) -> str:
    """A URL's query values can be made of what a contact wrote (`?order={{ vars.order }}`)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    names = [(k, WITHHELD) for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(names, safe="[]"), ""))
