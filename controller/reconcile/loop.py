"""The reconcile loop: level-triggered, one reconcile at a time, bursts coalesced, backoff on errors."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Callable

import structlog

from controller.backoff import Backoff

from .reconciler import Outcome

log = structlog.get_logger("chatflow.reconcile")


@dataclass
class LoopState:
    ready: bool = False  # a reconcile has completed since start
    reconciling: bool = False
    last_outcome: Outcome | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    failures: int = 0  # consecutive
    reconciles: int = 0


class ReconcileLoop:
    """Runs `run_once` (blocking: git + store) in a worker thread whenever something asks for it:
    a watched ref changed, a push hook arrived, or the poll interval elapsed. Requests that arrive
    while a reconcile runs are folded into one more reconcile afterwards."""

    def __init__(self, run_once: Callable[[], Outcome], poll_interval: float = 60.0,
                 backoff: Backoff = Backoff(base=1.0, cap=60.0), rng: random.Random | None = None) -> None:
        self.run_once = run_once
        self.poll_interval = poll_interval
        self.backoff = backoff
        self.rng = rng or random.Random()
        self.state = LoopState()
        self._wanted: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Condition | None = None

    def trigger(self, reason: str = "") -> None:
        """Ask for a reconcile soon; safe to call from any thread."""
        if self._loop is None or self._wanted is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wanted.set()
        else:
            self._loop.call_soon_threadsafe(self._wanted.set)

    async def wait_for_next(self, timeout: float = 30.0) -> LoopState:
        """Wait until a reconcile that starts after this call has finished (push hook, tests)."""
        assert self._done is not None
        target = self.state.reconciles + (2 if self.state.reconciling else 1)
        async with self._done:
            await asyncio.wait_for(self._done.wait_for(lambda: self.state.reconciles >= target), timeout)
        return self.state

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wanted = asyncio.Event()
        self._done = asyncio.Condition()
        self._wanted.set()  # reconcile at start
        while not stop.is_set():
            delay = self.poll_interval if self.state.failures == 0 else self.backoff.delay(self.state.failures, self.rng)
            waiter = asyncio.ensure_future(self._wanted.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if stop.is_set():
                break
            self._wanted.clear()
            await self._once()

    async def _once(self) -> None:
        self.state.reconciling = True
        started = time.perf_counter()
        try:
            outcome = await asyncio.to_thread(self.run_once)
        except Exception as exc:  # a bad commit, git or store trouble: report and retry with backoff
            self.state.failures += 1
            self.state.last_error = f"{type(exc).__name__}: {exc}"
            self.state.last_error_at = time.time()
            log.warning("reconcile failed", error=self.state.last_error, failures=self.state.failures)
        else:
            self.state.failures = 0
            self.state.last_error = None
            self.state.ready = True
            self.state.last_outcome = outcome
            if not outcome.skipped:
                log.info("reconciled", commit=outcome.commit[:12], result=outcome.result, applied=outcome.applied,
                         blocked=len(outcome.plan.blocked) + len(outcome.refused), invalid=len(outcome.plan.invalid),
                         duration_ms=round((time.perf_counter() - started) * 1000, 1))
        finally:
            self.state.reconciling = False
            self.state.reconciles += 1
            assert self._done is not None
            async with self._done:
                self._done.notify_all()
