"""Desired state, actual state and plans: the data the pure planner works on (DESIGN §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FlowState = Literal["published", "unpublished"]

FLOW_ACTIONS = ("create", "update-info", "set-logging", "bind", "revise", "publish", "unpublish", "delete")
ACCOUNT_ACTIONS = ("create-account", "update-account", "delete-account")
BLOCK_REASONS = ("PublishedDelete", "PublishedRebind", "TriggerChange", "EntryConflict", "AccountInUse")


# ---- desired (from the manifests of one commit) --------------------------------------------


@dataclass(frozen=True)
class DesiredFlow:
    name: str
    trigger: str  # manual | whatsapp | instagram | viber | messenger
    state: FlowState
    account: str | None
    display_name: str | None
    remark: str | None
    logging: bool
    keywords: tuple[str, ...]  # trimmed and case-folded
    revision: str  # 12 hex digits (manifests.revision)
    spec_json: str  # canonical JSON of the validated spec (what the revision hashes, plus state etc.)
    suspended: bool = False
    path: str = ""  # manifest file, for messages


@dataclass(frozen=True)
class DesiredAccount:
    name: str
    channel: str
    channel_id: str | None  # phoneNumberId / pageId / igUserId; None for Viber
    spec_hash: str  # 12 hex digits of the canonical spec JSON
    spec_json: str
    path: str = ""


@dataclass(frozen=True)
class InvalidItem:
    kind: Literal["Flow", "Account"]
    name: str
    diagnostics: tuple = ()  # manifests.diagnostics.Diagnostic


@dataclass(frozen=True)
class DesiredState:
    flows: dict[str, DesiredFlow] = field(default_factory=dict)
    accounts: dict[str, DesiredAccount] = field(default_factory=dict)
    # manifests that exist but do not validate: the live state of these is kept as it is
    invalid: dict[tuple[str, str], InvalidItem] = field(default_factory=dict)
    # True when some file could not be read at all: names in it are unknown, so nothing
    # absent from `flows`/`accounts` may be taken as deleted
    incomplete: bool = False


# ---- actual (what the store holds) ---------------------------------------------------------


@dataclass(frozen=True)
class FlowRecord:
    name: str
    trigger: str
    state: FlowState
    account: str | None
    display_name: str | None
    remark: str | None
    logging: bool
    keywords: tuple[str, ...]  # of the live revision (routing uses them)
    revision: str | None  # newest stored design revision
    revision_number: int | None
    live_revision: str | None  # the revision serving new conversations; None unless published
    live_revision_number: int | None = None
    commit: str | None = None  # commit the live (or newest) revision came from


@dataclass(frozen=True)
class AccountRecord:
    name: str
    channel: str
    channel_id: str | None
    spec_hash: str
    commit: str | None = None


@dataclass(frozen=True)
class ActualState:
    flows: dict[str, FlowRecord] = field(default_factory=dict)
    accounts: dict[str, AccountRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class RevisionRecord:
    flow: str
    hash: str
    number: int
    commit: str | None
    spec_json: str
    created_at: str  # ISO 8601 UTC


@dataclass(frozen=True)
class Transition:
    kind: Literal["Flow", "Account"]
    name: str
    action: str
    from_state: str | None  # None: did not exist
    to_state: str | None  # None: deleted
    revision: str | None
    commit: str | None
    at: str  # ISO 8601 UTC
    detail: str = ""


# ---- plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One step. `kind` says whether `name` is a Flow or an Account.

    What each carries (other fields None):
      create          flow: trigger, display_name, remark, logging, keywords, revision, spec_json
      update-info     display_name, remark
      set-logging     logging
      bind            account (None unbinds)
      revise          revision, spec_json, keywords (a new design, not live)
      publish         revision, spec_json, keywords (this revision goes live)
      unpublish       -
      delete          -
      create-account / update-account: channel, channel_id, spec_hash, spec_json
      delete-account  -
    """

    kind: Literal["Flow", "Account"]
    name: str
    action: str
    detail: str = ""
    trigger: str | None = None
    account: str | None = None
    display_name: str | None = None
    remark: str | None = None
    logging: bool | None = None
    keywords: tuple[str, ...] | None = None
    revision: str | None = None
    spec_json: str | None = None
    channel: str | None = None
    channel_id: str | None = None
    spec_hash: str | None = None


@dataclass(frozen=True)
class Blocked:
    kind: Literal["Flow", "Account"]
    name: str
    reason: str  # one of BLOCK_REASONS
    message: str  # what is wrong and how to proceed


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    blocked: tuple[Blocked, ...] = ()
    invalid: tuple[InvalidItem, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.actions

    @property
    def ok(self) -> bool:
        return not self.blocked and not self.invalid

    def for_subject(self, kind: str, name: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind and a.name == name]


class IllegalTransition(Exception):
    """The store refuses a change that the lifecycle rules forbid (nothing was written)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
