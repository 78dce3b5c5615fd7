"""Retention: one periodic task prunes dedupe records, finished outbox rows, ended sessions and
execution events once they are older than their retention (DESIGN §7)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import re
from dataclasses import dataclass
from typing import Callable, Mapping

import structlog

from controller.store.base import StateStore
from controller.store.records import Pruned, Retention

log = structlog.get_logger("chatflow.retention")

DAY = _dt.timedelta(days=1)
_DURATION = re.compile(r"^([0-9]+)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, name: str) -> _dt.timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{name}={text!r} is not a duration such as 30d, 12h or 90m")
    return _dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class RetentionPolicy:
    dedupe: _dt.timedelta = 8 * DAY  # outlives Meta's 7 days of redelivery
    outbox: _dt.timedelta = 8 * DAY  # late read receipts still find their message
    sessions: _dt.timedelta = 30 * DAY  # ended ones; GET /api/v1/executions/{id} reads them
    events: _dt.timedelta = 30 * DAY  # CHATFLOW_EVENTS_RETENTION
    interval: _dt.timedelta = _dt.timedelta(hours=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "RetentionPolicy":
        env = os.environ if environ is None else environ
        events = parse_duration(env.get("CHATFLOW_EVENTS_RETENTION") or "30d", "CHATFLOW_EVENTS_RETENTION")
        interval = parse_duration(env.get("CHATFLOW_PRUNE_INTERVAL") or "1h", "CHATFLOW_PRUNE_INTERVAL")
        return cls(events=events, sessions=max(events, cls.sessions), interval=interval)

    def cutoffs(self, now: _dt.datetime) -> Retention:
        return Retention(dedupe_before=now - self.dedupe, outbox_before=now - self.outbox,
                         sessions_before=now - self.sessions, events_before=now - self.events)


class Pruner:
    def __init__(self, store: StateStore, policy: RetentionPolicy,
                 clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.timezone.utc)) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.last: Pruned | None = None

    def once(self) -> Pruned:
        pruned = self.store.prune(self.policy.cutoffs(self.clock()))
        self.last = pruned
        if any(pruned.to_json().values()):
            log.info("pruned", **pruned.to_json())
        return pruned

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.once)
            except Exception:
                log.exception("pruning failed; trying again at the next interval")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.policy.interval.total_seconds())
            except asyncio.TimeoutError:
                pass
