"""The live set: published flows at their live revisions and the applied accounts, read from the
store and swapped whole after each reconcile (hot swap: requests in flight keep the set they read)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

import structlog

from controller.manifests.models import API_VERSION, Account, Flow
from controller.store.base import StateStore

from .privacy import EventPolicy

log = structlog.get_logger("chatflow.runtime")


@dataclass(frozen=True)
class LiveFlow:
    flow: Flow
    revision: str
    account: str | None

    @property
    def name(self) -> str:
        return self.flow.name


@dataclass(frozen=True)
class Live:
    """One consistent view; never changed after it is built."""

    flows: Mapping[str, LiveFlow] = field(default_factory=dict)  # published flows by name
    by_account: Mapping[str, tuple[Flow, ...]] = field(default_factory=dict)  # message flows per account
    accounts: Mapping[str, Account] = field(default_factory=dict)
    by_channel: Mapping[str, tuple[Account, ...]] = field(default_factory=dict)
    logging: Mapping[str, bool] = field(default_factory=dict)  # every stored flow, published or not
    policy: EventPolicy = EventPolicy()  # what the execution events of logging flows keep

    def account_for(self, channel: str, channel_id: str | None) -> Account | None:
        """The account a payload names by its channel id (phone_number_id, page id, IG user id)."""
        if channel_id is None:
            return None
        return next((a for a in self.by_channel.get(channel, ()) if a.spec.channel_id() == channel_id), None)

    def logs(self, flow: str) -> bool:
        return self.logging.get(flow, False)


def _secret_refs(value: Any) -> Any:
    """The stored JSON has every field, so a secret reference reads {env: X, file: null}; the
    model takes exactly one of the two."""
    if isinstance(value, dict):
        if value and set(value) <= {"env", "file"}:
            return {k: v for k, v in value.items() if v is not None}
        return {k: _secret_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_secret_refs(v) for v in value]
    return value


def flow_model(name: str, spec_json: str) -> Flow:
    return Flow.model_validate({"apiVersion": API_VERSION, "kind": "Flow", "metadata": {"name": name},
                                "spec": _secret_refs(json.loads(spec_json))})


def account_model(name: str, spec_json: str) -> Account:
    return Account.model_validate({"apiVersion": API_VERSION, "kind": "Account", "metadata": {"name": name},
                                   "spec": _secret_refs(json.loads(spec_json))})


class LiveAccounts:
    """The applied accounts, as models; rebuilt only for an account whose spec changed."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._models: dict[tuple[str, str], Account] = {}
        self.current: Mapping[str, Account] = {}
        self.refresh()

    def refresh(self) -> Mapping[str, Account]:
        accounts: dict[str, Account] = {}
        for name, spec_json in self.store.account_specs().items():
            account = self._models.get((name, spec_json))
            if account is None:
                try:
                    account = account_model(name, spec_json)
                except ValueError as exc:
                    log.error("stored account does not load", account=name, error=str(exc)[:500])
                    continue
                self._models[(name, spec_json)] = account
            accounts[name] = account
        self.current = accounts
        return accounts


class LiveFlows:
    """Holds the current Live and the flows of any revision (a session finishes on the revision
    it started on, also after an unpublish). Models are built once per (name, revision)."""

    def __init__(self, store: StateStore, policy: EventPolicy = EventPolicy()) -> None:
        self.store = store
        self.policy = policy
        self._flows: dict[tuple[str, str], Flow] = {}
        self._accounts = LiveAccounts(store)
        self._lock = threading.Lock()
        self.current = Live()
        self.refresh()

    def refresh(self) -> Live:
        """Read the live set from the store and swap it in; safe from any thread."""
        with self._lock:
            actual = self.store.actual()
            accounts = self._accounts.refresh()
            flows: dict[str, LiveFlow] = {}
            by_account: dict[str, list[Flow]] = {}
            for record in actual.flows.values():
                if record.state != "published" or record.live_revision is None:
                    continue
                flow = self._flow_locked(record.name, record.live_revision)
                if flow is None:
                    continue
                flows[record.name] = LiveFlow(flow, record.live_revision, record.account)
                if flow.spec.trigger.is_message and record.account is not None:
                    by_account.setdefault(record.account, []).append(flow)
            by_channel: dict[str, list[Account]] = {}
            for account in accounts.values():
                by_channel.setdefault(account.spec.channel, []).append(account)
            live = Live(
                flows=flows,
                by_account={k: tuple(sorted(v, key=lambda f: f.name)) for k, v in by_account.items()},
                accounts=accounts,
                by_channel={k: tuple(sorted(v, key=lambda a: a.name)) for k, v in by_channel.items()},
                logging={name: record.logging for name, record in actual.flows.items()},
                policy=self.policy,
            )
            self.current = live
            return live

    def flow_at(self, name: str, revision: str) -> Flow | None:
        """The flow as it was at `revision` (None when the store has no such revision)."""
        cached = self._flows.get((name, revision))
        if cached is not None:
            return cached
        with self._lock:
            return self._flow_locked(name, revision)

    def _flow_locked(self, name: str, revision: str) -> Flow | None:
        cached = self._flows.get((name, revision))
        if cached is not None:
            return cached
        record = self.store.revision(name, revision)
        if record is None:
            return None
        try:
            flow = flow_model(name, record.spec_json)
        except ValueError as exc:  # a stored revision this version cannot read: say so once
            log.error("stored revision does not load", flow=name, revision=revision, error=str(exc)[:500])
            return None
        self._flows[(name, revision)] = flow
        return flow
