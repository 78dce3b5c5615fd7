"""The timer scheduler: fires due deadlines (question timeouts, delays, handoff timeouts, expiry)
through the host's one-transaction path, also those that fell due while the process was down."""

from __future__ import annotations

import asyncio
import datetime as _dt
from typing import Callable

import structlog

from controller.store.base import StateStore
from controller.store.records import TimerRow

from .host import Runtime

log = structlog.get_logger("chatflow.timers")

POLL = 1.0  # seconds: the longest a due timer waits when nothing woke the scheduler
BATCH = 100
PARALLEL = 16  # timers fired at once (an http node after a delay blocks its own one only)
QUIET = _dt.timedelta(seconds=60)  # a timer that fired and changed nothing is left alone this long


class Scheduler:
    def __init__(self, store: StateStore, runtime: Runtime,
                 clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.timezone.utc)) -> None:
        self.store = store  # reads only: pass the runtime's read connection
        self.runtime = runtime
        self.clock = clock
        self._wake: asyncio.Event | None = None
        self._next: _dt.datetime | None = None  # when the scheduler looks next
        self._quiet: dict[tuple[str, _dt.datetime], _dt.datetime] = {}
        self.fired = 0

    def wake(self, at: _dt.datetime | None = None) -> None:
        """A commit set a deadline at `at`: look again if that is before the next look (call on
        the scheduler's event loop). Most deadlines are far off and wake nothing."""
        if self._wake is None:
            return
        if at is None or self._next is None or at < self._next:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._wake = asyncio.Event()
        gate = asyncio.Semaphore(PARALLEL)
        while not stop.is_set():
            try:
                await self._fire_due(gate)
                timeout = self._timeout()
            except Exception:  # the store is busy or broken: keep the scheduler alive
                log.exception("firing timers failed; trying again")
                timeout = POLL
            self._next = self.clock() + _dt.timedelta(seconds=timeout)
            waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            self._wake.clear()

    async def _fire_due(self, gate: asyncio.Semaphore) -> None:
        while True:
            now = self.clock()
            due = [t for t in self.store.due_timers(now, BATCH) if self._quiet.get((t.session_id, t.token), now) <= now]
            if not due:
                return
            await asyncio.gather(*(self._fire(gate, t) for t in due))
            if len(due) < BATCH:
                return

    async def _fire(self, gate: asyncio.Semaphore, timer: TimerRow) -> None:
        async with gate:
            try:
                done = await self.runtime.fire(timer)
            except Exception:
                log.exception("timer failed", session=timer.session_id, kind=timer.kind)
                done = None
        self.fired += 1
        if done is None or done.committed is None or not done.committed.applied:
            # nothing changed (stale, or failing): do not spin on it
            self._quiet[(timer.session_id, timer.token)] = self.clock() + QUIET
        else:
            log.info("timer fired", session=timer.session_id, kind=timer.kind)

    def _timeout(self) -> float:
        now = self.clock()
        self._quiet = {k: v for k, v in self._quiet.items() if v > now}
        due = self.store.next_timer_at()
        if due is None:
            return POLL
        return max(0.0, min(POLL, (due - now).total_seconds()))
