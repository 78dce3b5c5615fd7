"""The runtime host: every input to a conversation (an inbound event, a timer, an API call) is
built off the event loop and committed as ONE store transaction, one at a time per conversation."""

from __future__ import annotations

import asyncio
import datetime as _dt
import itertools
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import structlog

from controller.engine.inputs import Release, Start, Stop, TimerFired
from controller.engine.messages import Contact, InboundEvent
from controller.engine.services import OFFLINE, Services
from controller.engine.session import ConversationKey
from controller.manifests.models import Account
from controller.store.base import StateStore
from controller.store.records import Committed, Dedupe, SessionRow, TimerRow, Work

from . import inbound
from .committer import Committer
from .driver import Driver
from .live import LiveFlows
from .livekeys import LiveKeys
from .recent import RecentSessions
from .transaction import Transaction

log = structlog.get_logger("chatflow.runtime")

CONFLICT_RETRIES = 5  # a session written meanwhile (another process): rebuild and try again
WORKERS = 16  # threads that build units of work; an http or llm node blocks one of them


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def session_ids() -> Callable[[], str]:
    """Ids for new conversations: 64 random bits per process, then a counter (no system call per id,
    unlike uuid4); 32 hex digits, as uuid4's."""
    prefix = secrets.token_hex(8)
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):016x}"


class OffLoop(Exception):
    """A blocking service (HTTP, LLM) was called while building on the event loop: build again
    in a worker thread. The engine is pure, so nothing happened that a second build repeats."""


class Refused(Exception):
    """An API request the runtime will not carry out; `reason` says which rule, `message` how to fix it."""

    def __init__(self, reason: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Unit:
    """What building one input produced: the Work to commit (None: nothing to write) and what
    the caller gets back."""

    work: Work | None
    reply: Any = None
    deadline: _dt.datetime | None = None
    seen: bool = False  # a redelivery of an input already applied: nothing to write


@dataclass(frozen=True)
class Done:
    committed: Committed | None
    reply: Any = None
    seen: bool = False  # the build found the input applied before (a redelivery)

    @property
    def duplicate(self) -> bool:
        return self.seen or (self.committed is not None and self.committed.outcome == "duplicate")


@dataclass(frozen=True)
class TriggerRequest:
    """A manual trigger (DESIGN §6 `POST /api/v1/flows/{name}/executions`), validated at the edge."""

    flow: str
    channel: str
    account: str
    address: str
    name: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    out_id: str | None = None
    discard_after: _dt.datetime | None = None
    restart: bool = False


@dataclass(frozen=True)
class Triggered:
    session: SessionRow
    created: bool  # False: an earlier request with the same idempotency key started it


class Runtime:
    """Applies inputs to conversations. `on_messages` is called after a commit that queued
    messages (the dispatcher's wake); `on_deadline` with the earliest deadline a commit set;
    `on_event` with each inbound event once it is handled."""

    def __init__(self, store: StateStore, flows: LiveFlows, services: Services = OFFLINE,
                 clock: Callable[[], _dt.datetime] = utc_now, workers: int = WORKERS,
                 reads: StateStore | None = None) -> None:
        self.store = store
        self.reads = reads or store  # a second connection: builds in worker threads never wait for a commit
        self.flows = flows
        self.clock = clock
        self.services = Services(http=self._blocking(services.http), llm=self._blocking(services.llm),
                                 new_id=services.new_id)
        self.driver = Driver(flows, self.services)
        self.committer = Committer(store)
        self.on_messages: Callable[[], None] = lambda: None
        self.on_deadline: Callable[[_dt.datetime], None] = lambda at: None
        self.on_event: Callable[[InboundEvent, Done], None] = lambda event, done: None  # metrics
        self.recent = RecentSessions()
        self.live_keys = LiveKeys.load(store.live_keys)
        self.rebuilds = 0  # inputs built again after a conflicting write (serve logs it at exit)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="runtime")
        self._loop_thread: int | None = None
        self._waking: asyncio.AbstractEventLoop | None = None  # the loop a dispatcher wake is scheduled on

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _blocking(self, call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def guarded(request: Any) -> Any:
            if threading.get_ident() == self._loop_thread:
                raise OffLoop()
            return call(request)

        return guarded

    # -- the one path every input takes -------------------------------------------------------
    def _queue(self, key: str) -> asyncio.Lock:
        """Join the queue of `key`'s conversation: one input at a time per conversation, in order
        of arrival; others run alongside. Leave it with `_leave`."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        return lock

    def _leave(self, key: str) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    async def apply(self, key: str | None, build: Callable[[], Unit]) -> Done:
        """Build (store reads + engine) and commit, under the conversation's lock; a conflict with
        a concurrent writer rebuilds from what is stored now. Builds run on the event loop unless
        they call a blocking service: those run again in a worker thread."""
        loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        lock = None
        if key is not None:  # (not `async with` a context manager: this is every input's path)
            lock = self._queue(key)
            try:
                await lock.acquire()
            except BaseException:
                self._leave(key)
                raise
        try:
            for _ in range(CONFLICT_RETRIES):
                try:
                    unit = build()
                except OffLoop:
                    unit = await loop.run_in_executor(self._pool, build)
                committed = await self._commit(unit.work) if unit.work is not None else None
                if committed is None or committed.outcome != "conflict":
                    break
                self.rebuilds += 1
                log.info("session changed meanwhile; building again", conversation=key, detail=committed.detail)
            else:
                raise RuntimeError(f"conversation {key}: {CONFLICT_RETRIES} conflicting writes in a row")
        finally:
            if lock is not None:
                lock.release()
                self._leave(key)  # type: ignore[arg-type]
        if committed is not None and committed.applied:
            if committed.message_ids and self._waking is not loop:
                # once per group commit, not per unit: the units of a batch resume together
                self._waking = loop
                loop.call_soon(self._wake)
            if unit.deadline is not None:
                self.on_deadline(unit.deadline)
        return Done(committed, unit.reply if committed is None or committed.applied else
                    (committed.result if committed.outcome == "duplicate" else unit.reply), unit.seen)

    def _wake(self) -> None:
        self._waking = None
        self.on_messages()

    async def _commit(self, work: Work) -> Committed:
        """Commit, and keep `recent` in step with what the store now holds (still under the
        conversation's lock, so the next input of the conversation sees it)."""
        try:
            committed = await self.committer.submit(work)
        except BaseException:
            self.recent.forget(work.sessions)
            raise
        if committed.applied:
            self.recent.wrote(work.sessions)
            self._note_started(work)
        elif committed.outcome == "conflict":
            self.recent.forget(work.sessions)
            for write in work.sessions:  # perhaps a session this host did not know of: read it next time
                self.live_keys.add(write.session.key)
        return committed

    def _note_started(self, work: Work) -> None:
        full = self.live_keys.full
        for write in work.sessions:
            if write.expected_version is None:
                self.live_keys.add(write.session.key)
        if self.live_keys.full and not full:
            log.warning("live-session filter is full: messages from new contacts read the store until the next start",
                        capacity=self.live_keys.capacity)

    @property
    def on_loop(self) -> bool:
        """Whether this build runs on the event loop (where blocking services raise OffLoop)."""
        return threading.get_ident() == self._loop_thread

    @property
    def building(self) -> StateStore:
        """What a build reads through. On the event loop: the writer's own connection (commits
        run on the loop too, so a read never waits for one, and its page cache survives its own
        commits, where a second connection's is dropped at each one). In a worker thread: the
        read connection, so the build never waits for a commit."""
        return self.store if self.on_loop else self.reads

    def live_session(self, key: ConversationKey, starting: bool = False) -> SessionRow | None:
        """The conversation's live session: as this host last read or wrote it, else from the store.
        `starting`: the caller starts a session when there is none, so on the event loop a
        conversation the live-key filter has never seen is not even read (the new session's insert
        is what catches a wrong answer: see livekeys.py)."""
        row = self.recent.get(key)
        if row is None and starting and self.on_loop and not self.live_keys.may_be_live(key):
            return None
        if row is None:
            row = self.building.live_session(key)
            if row is not None:
                self.recent.read(row)
        return row

    def unit(self, tx: Transaction, dedupe: Dedupe | None = None, reply: Any = None) -> Unit:
        deadlines = [s.deadline.at for s in tx.sessions if s.deadline is not None]
        return Unit(tx.work(dedupe), reply, min(deadlines) if deadlines else None)

    # -- inputs -------------------------------------------------------------------------------
    async def receive(self, account: Account, events: list[InboundEvent]) -> str | None:
        """Apply a webhook's events in payload order; each is committed before the next starts.
        Returns the body to answer with (a Viber welcome), if any."""
        answer: str | None = None
        for event in events:
            key = inbound.conversation_key(account, event)
            done = await self.apply(str(key) if key is not None else None,
                                    lambda e=event: inbound.build(self, account, e))
            if done.duplicate:
                log.info("duplicate delivery; already applied", channel=event.channel, account=account.name,
                         kind=event.kind, message_id=event.message_id)
            self.on_event(event, done)
            if event.kind == "conversation_started" and done.reply:
                answer = done.reply
        return answer

    async def fire(self, timer: TimerRow) -> Done:
        """A due timer: TimerFired with the deadline it was set for (a stale one does nothing)."""
        def build() -> Unit:
            row = self.building.session(timer.session_id)
            if row is None or row.session.deadline is None or row.session.deadline.at != timer.token:
                return Unit(None, "stale")
            now = max(self.clock(), timer.token)
            tx = Transaction(self.flows.current, now)
            self.driver.resume(tx, row, TimerFired(timer.token), now)
            return self.unit(tx, reply="fired")

        return await self.apply(str(timer.key), build)

    async def release(self, session_id: str) -> SessionRow:
        return await self._control(session_id, Release(), "handed over", "NotHandedOver")

    async def end(self, session_id: str) -> SessionRow:
        return await self._control(session_id, Stop("stopped"), "live", "Ended")

    async def _control(self, session_id: str, input: Release | Stop, wanted: str, reason: str) -> SessionRow:
        found = self.store.session(session_id)
        if found is None:
            raise Refused("NotFound", f"no conversation `{session_id}`")

        def build() -> Unit:
            row = self.building.session(session_id)
            assert row is not None
            if row.session.is_final or (isinstance(input, Release) and row.session.status != "handed_over"):
                raise Refused(reason, f"conversation `{session_id}` is {row.session.status.replace('_', ' ')}, not {wanted}",
                              status=row.session.status)
            now = self.clock()
            tx = Transaction(self.flows.current, now)
            self.driver.resume(tx, row, input, now)
            return self.unit(tx)

        await self.apply(str(found.key), build)
        row = self.store.session(session_id)
        assert row is not None
        return row

    async def trigger(self, request: TriggerRequest) -> Triggered:
        """Start a published manual flow for a contact (DESIGN §6); raises Refused."""
        live = self.flows.current
        target = live.flows.get(request.flow)
        if target is None:
            record = self.store.flow(request.flow)
            state = "does not exist" if record is None else "is not published"
            raise Refused("NotFound", f"flow `{request.flow}` {state}; only a published flow can be triggered")
        if target.flow.spec.trigger.is_message:
            raise Refused("NotManual", f"flow `{request.flow}` has a {target.flow.spec.trigger.type} trigger: it starts "
                                       "from the contact's messages; only manual flows are triggered by the API")
        if request.discard_after is not None and request.discard_after <= self.clock():
            raise Refused("Discarded", f"discardAfter {request.discard_after.isoformat()} has passed; the flow was not started")
        account = live.accounts.get(request.account)
        if account is None:
            raise Refused("UnknownAccount", f"contact.account `{request.account}` is not an applied Account")
        if account.spec.channel != request.channel:
            raise Refused("ChannelMismatch", f"account `{request.account}` is a {account.spec.channel} account, "
                                             f"not {request.channel}")
        scope = f"api:{request.flow}"
        if request.idempotency_key is not None:
            earlier = self._earlier(scope, request.idempotency_key)
            if earlier is not None:
                return earlier
        key = ConversationKey(request.channel, request.account, request.address)

        def build() -> Unit:
            previous = self.building.live_session(key)
            if previous is not None and not request.restart:
                raise Refused("Conflict", f"contact {request.address} already has a live conversation "
                                          f"`{previous.id}` (flow `{previous.session.flow}`); pass restart: true "
                                          "to end it and start this flow", session=previous.id)
            now = self.clock()
            tx = Transaction(live, now)
            phone = f"+{request.address}" if request.channel == "whatsapp" and request.address.isdigit() else None
            start = Start(key, target.revision, Contact(request.address, request.name, phone), dict(request.variables),
                          None, self.services.new_id(), account.spec.phoneNumber)
            self.driver.begin(tx, target, start, now, previous, request.out_id)
            assert start.session_id is not None
            dedupe = Dedupe(scope, request.idempotency_key, start.session_id) if request.idempotency_key else None
            return self.unit(tx, dedupe, reply=start.session_id)

        done = await self.apply(str(key), build)
        if done.duplicate:  # the same key raced in: answer with the first execution
            earlier = self._earlier(scope, request.idempotency_key or "")
            if earlier is not None:
                return earlier
        row = self.store.session(done.reply)
        assert row is not None
        return Triggered(row, True)

    def _earlier(self, scope: str, key: str) -> Triggered | None:
        seen = self.store.seen(scope, key)
        if seen is None or seen.result is None:
            return None
        row = self.store.session(seen.result)
        if row is None:
            return None
        return Triggered(row, False)
