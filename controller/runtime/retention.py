"""Retention: one periodic task prunes dedupe records, finished outbox rows, ended sessions and
execution events once they are older than their retention (DESIGN §7)."""

from __future__ import annotations

import asyncio
import datetime as _dt
from dataclasses import dataclass
from typing import Callable, Mapping

import structlog

from controller.store.base import StateStore
from controller.store.records import Pruned, Retention

from . import settings

log = structlog.get_logger("chatflow.retention")

DAY = _dt.timedelta(days=1)


@dataclass(frozen=True)
class RetentionPolicy:
    dedupe: _dt.timedelta = 8 * DAY  # outlives Meta's 7 days of redelivery
    outbox: _dt.timedelta = 8 * DAY  # late read receipts still find their message
    sessions: _dt.timedelta = 30 * DAY  # ended ones; GET /api/v1/executions/{id} reads them
    events: _dt.timedelta = 30 * DAY  # CHATFLOW_EVENTS_RETENTION
    interval: _dt.timedelta = _dt.timedelta(hours=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RetentionPolicy":
        """CHATFLOW_EVENTS_RETENTION (30d) and CHATFLOW_PRUNE_INTERVAL (1h); SettingError names a bad one."""
        events = settings.duration("CHATFLOW_EVENTS_RETENTION", "30d", env)
        interval = settings.duration("CHATFLOW_PRUNE_INTERVAL", "1h", env)
        if interval <= _dt.timedelta(0):
            raise settings.SettingError("CHATFLOW_PRUNE_INTERVAL must be longer than 0s")
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
