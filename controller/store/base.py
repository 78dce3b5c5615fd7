"""The StateStore interface: actual state, revisions, history, status, the parse cache, and the
runtime's sessions, dedupe records, outbox, execution events and timers.

Every implementation (SQLite now, PostgreSQL in round 2) passes tests/store/contract.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
import datetime as _dt
from typing import Callable, Collection, Iterator, Literal, Mapping, Sequence

from controller.engine.session import ConversationKey
from controller.lifecycle.state import Action, ActualState, FlowRecord, RevisionRecord, Transition

from .records import (
    Committed,
    EventQuery,
    EventRow,
    OutboxRow,
    Pruned,
    Retention,
    RuntimeCounts,
    Seen,
    SendResult,
    SessionRow,
    TimerRow,
    Work,
)


class StoreError(Exception):
    """The state database cannot be used (wrong file, newer schema, unreadable); says how to fix it."""


class WriterBusy(Exception):
    """Another writer (another process on the same database) holds the write lock right now, and
    the caller asked not to wait for it: nothing was written; try again."""


@dataclass(frozen=True)
class Condition:
    """A Kubernetes-style status condition (Ready, Invalid, Blocked, Reconciling)."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str
    last_transition_time: str  # ISO 8601 UTC; kept when status does not change

    def to_json(self) -> dict[str, str]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition_time,
        }


@dataclass(frozen=True)
class ReconcileRecord:
    """The observed commit and how the last reconcile went."""

    commit: str | None
    at: str | None
    duration_ms: float | None
    result: str | None  # "ok", "blocked", "invalid", "error: ..."


@dataclass(frozen=True)
class TreeDoc:
    """One document of a reconciled commit, with what a reconcile of the next commit needs to
    patch it instead of reading every manifest again (docs/operations.md, "Incremental apply")."""

    path: str
    index: int  # the document's position in its file
    blob: str
    kind: str
    name: str
    account: str | None = None  # a flow's bound account
    refs: tuple[str, ...] = ()  # the flows it names: start_flow targets, a FlowTest's flow
    record: str | None = None  # the desired record as JSON (flows and accounts)


@dataclass(frozen=True)
class TreeHead:
    """The commit the tree index describes; `clean` when that tree had no error at all."""

    commit: str
    clean: bool


class StateStore(ABC):
    """Actual state. Each apply call is one transaction: all of it happens, or none.

    The store enforces the lifecycle rules itself and raises IllegalTransition (writing
    nothing) for: deleting a published flow (PublishedDelete), binding a published flow to
    another account or to none (PublishedRebind), an action whose `trigger` differs from the
    stored one (TriggerChange), deleting an account that a published flow uses or changing its
    channel or channel id while one does (AccountInUse), publishing a message-trigger flow with
    no account bound (Unbound), binding or publishing on an account of another channel
    (ChannelMismatch), an account taking another's channel id (DuplicateChannelId), unknown
    flows/accounts (NotFound) and creating one that exists (Exists). docs/store.md has the rest.
    """

    # -- reading ------------------------------------------------------------------------------
    @abstractmethod
    def actual(self) -> ActualState: ...

    @abstractmethod
    def actual_around(self, flows: Collection[str], accounts: Collection[str] = ()) -> ActualState:
        """Part of the actual state: the named flows, every flow bound to an account that one of
        them is bound to or that `accounts` names, and no accounts."""

    @abstractmethod
    def flow(self, name: str) -> FlowRecord | None: ...

    @abstractmethod
    def revisions(self, flow: str) -> list[RevisionRecord]:
        """Every stored revision of a flow, oldest first (numbered 1, 2, 3...)."""

    @abstractmethod
    def revision(self, flow: str, hash: str) -> RevisionRecord | None: ...

    @abstractmethod
    def history(self, name: str | None = None) -> list[Transition]:
        """Applied transitions, oldest first; of one name (a flow's and an account's of that name),
        or all. Survives deletion."""

    # -- applying -----------------------------------------------------------------------------
    @abstractmethod
    def apply(self, subject_actions: Sequence[Action], commit: str | None, now: str) -> None:
        """Apply the actions of ONE flow or ONE account (all share kind and name) atomically,
        recording one Transition per action. Raises IllegalTransition and writes nothing."""

    # -- status -------------------------------------------------------------------------------
    @abstractmethod
    def conditions(self, kind: str, name: str) -> list[Condition]: ...

    @abstractmethod
    def set_conditions(self, kind: str, name: str, conditions: Sequence[Condition]) -> None:
        """Replace the conditions of one object; a condition whose status is unchanged keeps
        its stored last_transition_time."""

    def set_conditions_many(self, items: Mapping[tuple[str, str], Sequence[Condition]]) -> None:
        """set_conditions for many objects ((kind, name) -> conditions), as one transaction
        where the implementation can; status of 10,000 flows is written at once."""
        for (kind, name), conditions in items.items():
            self.set_conditions(kind, name, conditions)

    @abstractmethod
    def all_conditions(self) -> dict[tuple[str, str], list[Condition]]: ...

    @abstractmethod
    def conditions_of(self, subjects: Collection[tuple[str, str]]) -> dict[tuple[str, str], list[Condition]]:
        """The stored conditions of the given (kind, name) subjects that have any."""

    @abstractmethod
    def reconcile_record(self) -> ReconcileRecord: ...

    @abstractmethod
    def set_reconcile_record(self, record: ReconcileRecord) -> None: ...

    # -- parse cache (keyed by git blob id) ---------------------------------------------------
    @abstractmethod
    def cached_parse(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        """blob id -> cached payload, for those present."""

    @abstractmethod
    def put_parse(self, entries: dict[str, bytes]) -> None: ...

    # -- tree index (the documents of the last reconciled commit) ----------------------------
    @abstractmethod
    def tree_head(self) -> TreeHead | None:
        """Which commit the tree index describes (None before the first reconcile)."""

    @abstractmethod
    def tree_docs(self, *, paths: Collection[str] = (), names: Collection[str] = (),
                  accounts: Collection[str] = (), referencing: Collection[str] = ()) -> list[TreeDoc]:
        """Indexed documents in any of `paths`, named any of `names` (any kind), flows bound to
        any of `accounts`, or naming any of `referencing` in their refs; sorted by path and index."""

    @abstractmethod
    def tree_identities(self) -> set[tuple[str, str]]:
        """(kind, name) of every indexed document."""

    @abstractmethod
    def put_tree(self, head: TreeHead, docs: Sequence[TreeDoc], replacing: Collection[str] | None = None) -> None:
        """Move the index to `head` in one transaction: with `replacing` None the documents become
        exactly `docs`; otherwise the documents in the `replacing` paths are replaced by `docs`."""

    @abstractmethod
    def account_specs(self) -> dict[str, str]:
        """Account name -> the applied spec JSON (credentials are references, never values)."""

    # -- runtime: one unit of work ------------------------------------------------------------
    @abstractmethod
    def commit(self, work: Work, before_commit: Callable[[], None] | None = None) -> Committed:
        """Apply `work` in ONE transaction: the dedupe record, session writes (each session's
        deadline becomes its timer), new outbox rows, execution events and delivery statuses.

        Writes nothing and answers `duplicate` when the dedupe key is already recorded, and
        `conflict` when a session write's expected version is stale or a new session meets a
        live one of the same conversation. `before_commit` runs when everything is written and
        the transaction is about to commit (crash tests)."""

    def commit_many(self, works: Sequence[Work], before_commit: Callable[[], None] | None = None, *,
                    wait: bool = True) -> list[Committed | Exception]:
        """Group commit: `commit` for each unit, as ONE transaction where the implementation can
        (each unit still all or nothing; one that is a duplicate, a conflict or fails with a
        storage error does not keep the others from being applied: its error is in the list).

        `wait=False`: raise WriterBusy, having written nothing, instead of waiting for a write
        lock that another writer holds (an implementation without such a lock ignores it)."""
        results: list[Committed | Exception] = []
        for i, work in enumerate(works):
            last = i == len(works) - 1
            try:
                results.append(self.commit(work, before_commit if last else None))
            except Exception as exc:
                results.append(exc)
        return results

    @abstractmethod
    def seen(self, scope: str, key: str) -> Seen | None:
        """The dedupe record of an applied event, if any."""

    # -- runtime: sessions --------------------------------------------------------------------
    @abstractmethod
    def session(self, session_id: str) -> SessionRow | None: ...

    @abstractmethod
    def live_session(self, key: ConversationKey) -> SessionRow | None:
        """The conversation's session that has not ended (at most one)."""

    @abstractmethod
    def live_keys(self) -> Iterator[ConversationKey]:
        """The conversations that have a live session (the host's filter is loaded from these)."""

    @abstractmethod
    def sessions(self, flow: str | None = None, status: str | None = None, limit: int = 100) -> list[SessionRow]:
        """Sessions, the most recently started first; `status` one of the engine's statuses, or
        `live` (not ended or expired)."""

    # -- runtime: timers ----------------------------------------------------------------------
    @abstractmethod
    def due_timers(self, now: _dt.datetime, limit: int = 100) -> list[TimerRow]:
        """Timers due at `now`, earliest first."""

    @abstractmethod
    def next_timer_at(self) -> _dt.datetime | None: ...

    # -- runtime: outbox ----------------------------------------------------------------------
    @abstractmethod
    def claim_messages(self, now: _dt.datetime, limit: int) -> list[OutboxRow]:
        """Due pending messages, each the oldest unsent one of its conversation with none of that
        conversation in flight; marked `sending` with one more attempt, in one transaction."""

    @abstractmethod
    def settle_messages(self, results: Sequence[SendResult], now: _dt.datetime,
                        before_commit: Callable[[], None] | None = None) -> None:
        """Record attempts (one transaction): sent (with the channel's id; a status that came
        first is applied), retry (back to pending at `next_attempt_at`), failed. Writes
        message.sent / message.failed events for rows of logging flows."""

    @abstractmethod
    def recover_messages(self, now: _dt.datetime) -> int:
        """Messages left `sending` by a process that stopped mid-send go back to pending, each
        counted as a possible repeat. Returns how many."""

    @abstractmethod
    def next_message_at(self) -> _dt.datetime | None:
        """When the earliest message that a claim could take is due (None: nothing to send)."""

    @abstractmethod
    def messages(self, session_id: str | None = None, conversation: str | None = None,
                 limit: int = 1000) -> list[OutboxRow]:
        """Outbox rows, oldest first."""

    # -- runtime: events and retention --------------------------------------------------------
    @abstractmethod
    def events(self, query: EventQuery = EventQuery()) -> list[EventRow]: ...

    @abstractmethod
    def counts(self) -> RuntimeCounts:
        """Outbox messages by channel and status, live sessions by status, timers set: for metrics."""

    @abstractmethod
    def prune(self, retention: Retention) -> Pruned:
        """Delete dedupe records, finished outbox rows, ended sessions and events older than the
        retention; never a live session or an unsent message."""

    # -- lifecycle ----------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...
