"""Reading execution events back: the filters that `chatflow logs` and
`GET /api/v1/flows/{name}/events` share (flow, conversation, since, limit), and one page of events."""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass

from controller.store.base import StateStore
from controller.store.records import EventQuery, EventRow

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
_AGO = re.compile(r"^([0-9]+)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class BadFilter(ValueError):
    """A filter that does not parse; the message says which and what it takes."""


def parse_since(text: str, now: _dt.datetime) -> _dt.datetime:
    """`1h`, `30m`, `2d`, `45s`, `1w` before `now`, or an ISO 8601 date or time (UTC unless it
    has an offset): `2026-03-02`, `2026-03-02T09:00`, `2026-03-02T09:00:00+02:00`."""
    value = text.strip()
    match = _AGO.match(value.lower())
    if match is not None:
        try:
            return now - _dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
        except OverflowError:
            raise BadFilter(f"since {text!r} reaches back before the year 1") from None
    try:
        at = _dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise BadFilter(f"since {text!r} is neither a duration such as 1h, 30m, 2d or 45s nor an ISO time "
                        "such as 2026-03-02T09:00:00Z") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=_dt.timezone.utc)


def parse_limit(text: str | int) -> int:
    try:
        limit = int(text)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadFilter(f"limit {text!r} is not a whole number from 1 to {MAX_LIMIT}")
    return limit


@dataclass(frozen=True)
class EventFilter:
    flow: str
    conversation: str | None = None
    since: _dt.datetime | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class Page:
    """Events oldest first; `cursor` is the last one's position (pass it back as `after` to read
    only newer ones); `truncated`: more matched than the limit and the oldest were left out."""

    events: list[EventRow]
    cursor: int | None
    truncated: bool = False


def read(store: StateStore, wanted: EventFilter, after: int | None = None) -> Page:
    """Without `after`, the newest `limit` events that match; with it, the ones after that
    position, oldest first (following a log: nothing is skipped, a long backlog comes in pages)."""
    query = EventQuery(session_id=wanted.conversation, flow=wanted.flow, since=wanted.since, after_seq=after,
                       limit=wanted.limit + (1 if after is None else 0), newest=after is None)
    rows = store.events(query)
    truncated = after is None and len(rows) > wanted.limit
    if truncated:
        rows = rows[1:]
    cursor = rows[-1].seq if rows else after
    return Page(rows, cursor, truncated)


def unknown_flow(store: StateStore, flow: str) -> str | None:
    """Why `flow` has no events to read (None: the store knows it, or still holds events of it)."""
    if store.flow(flow) is not None or store.events(EventQuery(flow=flow, limit=1)):
        return None
    names = sorted(store.actual().flows)
    close = difflib.get_close_matches(flow, names, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else (
        f"the flows are: {', '.join(names[:20])}" + (" ..." if len(names) > 20 else "") if names else "no flow is applied yet")
    return f"no flow `{flow}` in the state store; {hint}"
