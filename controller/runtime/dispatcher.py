"""The outbox dispatcher: sends committed messages through the channel adapters.

It runs in its own process (worker.py), so sending never takes CPU time from receiving.

At least once: a message is marked `sending` before the request and settled after it; one left
`sending` by a crash goes out again, counted as a possible repeat. Sends of one conversation go
out one at a time in order; different conversations in parallel, each account within its rate.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import importlib.util
import random
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Callable, Mapping

import httpx
import structlog

from controller.backoff import Backoff
from controller.channels.base import Client, SendResult as ChannelResult
from controller.channels.poster import Poster
from controller.channels.registry import ADAPTERS
from controller.crash import crash_point
from controller.manifests.models import Account
from controller.store.base import StateStore
from controller.store.records import OutboxRow, SendResult

from . import settings
from .outbound import message_from_json

log = structlog.get_logger("chatflow.outbox")

# httpcore 1.0 tries `import sniffio` on every request; when sniffio is not installed each try
# searches sys.path again (~0.1 ms, several per send). A None entry makes that import fail at
# once, and httpcore then assumes asyncio, which is what runs here.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

IDLE_POLL = 1.0  # seconds between looks at the outbox when nothing woke the dispatcher
LINGER = 0.005  # seconds to gather more work after a wake or a finished send


@dataclass(frozen=True)
class DispatchConfig:
    concurrency: int = 16  # sends in flight at once
    rate: float = 80.0  # sends per second per account (WhatsApp's default per number)
    max_attempts: int = 12  # then the message fails (about an hour with the default backoff)
    backoff: Backoff = Backoff(base=1.0, cap=300.0)
    send_timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "DispatchConfig":
        """CHATFLOW_SEND_CONCURRENCY, _RATE (per account per second), _ATTEMPTS, _BACKOFF (first
        retry, seconds) and _TIMEOUT (seconds); SettingError names a bad one."""
        return cls(
            concurrency=settings.whole("CHATFLOW_SEND_CONCURRENCY", cls.concurrency, env),
            rate=settings.number("CHATFLOW_SEND_RATE", cls.rate, env, minimum=0.001),
            max_attempts=settings.whole("CHATFLOW_SEND_ATTEMPTS", cls.max_attempts, env),
            backoff=Backoff(base=settings.number("CHATFLOW_SEND_BACKOFF", 1.0, env, minimum=0.001), cap=300.0),
            send_timeout=settings.number("CHATFLOW_SEND_TIMEOUT", cls.send_timeout, env, minimum=0.01),
        )


class RateLimit:
    """A token bucket per account: bursts up to one second's worth, then `rate` per second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}

    def wait(self, account: str) -> float:
        """Take a token; the seconds to wait before using it."""
        now = time.monotonic()
        tokens = min(self.rate, self._tokens.get(account, self.rate) + (now - self._stamp.get(account, now)) * self.rate)
        self._stamp[account] = now
        tokens -= 1
        self._tokens[account] = tokens
        return 0.0 if tokens >= 0 else -tokens / self.rate


class Dispatcher:
    """Runs in the outbox worker's event loop (controller/runtime/worker.py)."""

    def __init__(self, store: StateStore, accounts: Callable[[str], Account | None],
                 config: DispatchConfig = DispatchConfig(),
                 clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.timezone.utc),
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.store = store
        self.accounts = accounts
        self.config = config
        self.clock = clock
        self.transport = transport
        self.rng = random.Random()
        self._wake = asyncio.Event()
        self._stopping = False
        self.sent = 0  # counters for logs and benches
        self.failed = 0
        self.retried = 0

    def wake(self) -> None:
        """Look at the outbox now (call on the dispatcher's event loop)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the sends in flight (up to the send timeout), record them, and return from run()."""
        self._stopping = True
        self._wake.set()

    def _client(self) -> Poster | httpx.AsyncClient:
        """The lean Poster, unless a transport was given (tests) or the environment names a proxy,
        which httpx honours (NO_PROXY included)."""
        if self.transport is None and not _proxies():
            return Poster(max_idle=self.config.concurrency)
        limits = httpx.Limits(max_connections=self.config.concurrency, max_keepalive_connections=self.config.concurrency)
        return httpx.AsyncClient(limits=limits, transport=self.transport)

    async def run(self) -> None:
        rate = RateLimit(self.config.rate)
        in_flight: set[asyncio.Task[SendResult]] = set()
        done: list[SendResult] = []
        recovered = self.store.recover_messages(self.clock())
        if recovered:
            log.warning("messages were being sent when the process stopped; sending them again", count=recovered)
        async with self._client() as client:
            while True:
                if done:
                    self._settle(done)
                    done = []
                if self._stopping:
                    await self._drain(in_flight)
                    return
                free = self.config.concurrency - len(in_flight)
                rows = self.store.claim_messages(self.clock(), free) if free > 0 else []
                for row in rows:
                    in_flight.add(asyncio.create_task(self._send(client, rate, row)))
                timeout = IDLE_POLL if in_flight or rows else self._idle_timeout()
                waker = asyncio.ensure_future(self._wake.wait())
                finished, _ = await asyncio.wait({*in_flight, waker}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                if finished and not self._stopping:
                    # a few milliseconds more: sends that finish and messages that are queued meanwhile
                    # share the next settle and claim, so a steady trickle costs a few transactions
                    # per batch of sends instead of two per send
                    await asyncio.sleep(LINGER)
                    finished = {*finished, *(t for t in in_flight if t.done())}
                waker.cancel()
                self._wake.clear()
                for task in finished:
                    if task is not waker:
                        in_flight.discard(task)  # type: ignore[arg-type]
                        done.append(task.result())  # type: ignore[union-attr]

    async def _drain(self, in_flight: set[asyncio.Task[SendResult]]) -> None:
        """Stopping: let the sends in flight finish and record them; any that outlive the grace
        period stay `sending` and go out again at the next start."""
        if not in_flight:
            return
        finished, left = await asyncio.wait(in_flight, timeout=self.config.send_timeout + 1)
        self._settle([t.result() for t in finished])
        if left:
            log.warning("stopped with sends in flight; they are sent again at the next start", count=len(left))

    def _idle_timeout(self) -> float:
        due = self.store.next_message_at()
        if due is None:
            return IDLE_POLL
        return max(0.0, min(IDLE_POLL, (due - self.clock()).total_seconds()))

    def _settle(self, results: list[SendResult]) -> None:
        self.store.settle_messages(results, self.clock())

    async def _send(self, client: Client, rate: RateLimit, row: OutboxRow) -> SendResult:
        try:
            return await self._attempt(client, rate, row)
        except Exception as exc:  # a bug must not lose the message: retry it later
            log.exception("send failed unexpectedly", outbox=row.id)
            return self._retry(row, ChannelResult("retryable", code="internal", title=f"{type(exc).__name__}: {exc}"))

    async def _attempt(self, client: Client, rate: RateLimit, row: OutboxRow) -> SendResult:
        account = self.accounts(row.account)
        if account is None or account.spec.channel != row.channel:
            self.failed += 1
            return SendResult(row.id, "failed", error_code="unknown_account",
                              error_title=f"account `{row.account}` ({row.channel}) is not applied any more")
        pause = rate.wait(row.account)
        if pause > 0:
            await asyncio.sleep(pause)
        result = await ADAPTERS[row.channel].send(client, account, row.to, message_from_json(row.message),
                                                  timeout=self.config.send_timeout)
        if result.ok:
            crash_point("outbox.after-send")
            self.sent += 1
            return SendResult(row.id, "sent", message_id=result.message_id)
        if result.retryable and row.attempts < self.config.max_attempts:
            return self._retry(row, result)
        self.failed += 1
        title = result.title or ""
        if result.hint:
            title = f"{title} (hint: {result.hint})" if title else result.hint
        if result.retryable:
            title = f"gave up after {row.attempts} attempts: {title}"
        log.warning("message failed", outbox=row.id, channel=row.channel, account=row.account, code=result.code,
                    title=title)
        return SendResult(row.id, "failed", error_code=result.code, error_title=title,
                          maybe_delivered=result.maybe_delivered)

    def _retry(self, row: OutboxRow, result: ChannelResult) -> SendResult:
        self.retried += 1
        delay = max(self.config.backoff.delay(row.attempts, self.rng), result.retry_after or 0.0)
        log.info("send will be retried", outbox=row.id, channel=row.channel, code=result.code, attempt=row.attempts,
                 delay_s=round(delay, 2))
        return SendResult(row.id, "retry", error_code=result.code, error_title=result.title,
                          maybe_delivered=result.maybe_delivered,
                          next_attempt_at=self.clock() + _dt.timedelta(seconds=delay))


def _proxies() -> bool:
    """Whether the environment sets an HTTP(S) proxy (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY...)."""
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())
