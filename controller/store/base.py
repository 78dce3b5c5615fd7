"""The StateStore interface: actual state, revisions, history, status and the parse cache.

Every implementation (SQLite now, PostgreSQL in round 2) passes tests/store/contract.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

from controller.lifecycle.state import Action, ActualState, FlowRecord, RevisionRecord, Transition


class StoreError(Exception):
    """The state database cannot be used (wrong file, newer schema, unreadable); says how to fix it."""


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
    def reconcile_record(self) -> ReconcileRecord: ...

    @abstractmethod
    def set_reconcile_record(self, record: ReconcileRecord) -> None: ...

    # -- parse cache (keyed by git blob id) ---------------------------------------------------
    @abstractmethod
    def cached_parse(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        """blob id -> cached payload, for those present."""

    @abstractmethod
    def put_parse(self, entries: dict[str, bytes]) -> None: ...

    # -- lifecycle ----------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...
