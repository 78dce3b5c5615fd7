"""The documented JSON shapes of `plan -o json` and `status -o json` (DESIGN §5), and design diffs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from controller.lifecycle.state import Action, DesiredState, Plan
from controller.store.base import StateStore


def plan_json(plan: Plan, base: str, head: str) -> dict[str, Any]:
    def subject(kind: str, name: str) -> dict[str, Any]:
        return {"kind": "Account", "account": name} if kind == "Account" else {"flow": name}

    return {
        "base": base,
        "head": head,
        "actions": [{**subject(a.kind, a.name), "action": a.action, "detail": a.detail} for a in plan.actions],
        "blocked": [{**subject(b.kind, b.name), "reason": b.reason, "message": b.message} for b in plan.blocked],
        "invalid": [
            {**subject(i.kind, i.name), "diagnostics": [d.to_json() for d in i.diagnostics]} for i in plan.invalid
        ],
    }


@dataclass(frozen=True)
class DesignDiff:
    """What changes in a flow's design between two spec JSON documents."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    fields: tuple[tuple[str, Any, Any], ...]  # (field, old, new) outside the nodes

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.fields)


_FIELDS = ("trigger", "expireAfter", "variables", "state", "logging")


def design_diff(old_spec: str | None, new_spec: str | None) -> DesignDiff:
    old = json.loads(old_spec) if old_spec else {}
    new = json.loads(new_spec) if new_spec else {}
    old_nodes, new_nodes = old.get("nodes", {}), new.get("nodes", {})
    added = tuple(sorted(set(new_nodes) - set(old_nodes)))
    removed = tuple(sorted(set(old_nodes) - set(new_nodes)))
    changed = tuple(sorted(n for n in set(old_nodes) & set(new_nodes) if old_nodes[n] != new_nodes[n]))
    fields = tuple((f, old.get(f), new.get(f)) for f in _FIELDS if old and old.get(f) != new.get(f))
    return DesignDiff(added, removed, changed, fields)


def old_spec(store: StateStore, action: Action) -> str | None:
    """The design a flow action replaces: its live revision, else its newest stored revision."""
    record = store.flow(action.name)
    if record is None:
        return None
    rev = record.live_revision or record.revision
    stored = store.revision(action.name, rev) if rev else None
    return stored.spec_json if stored else None


def status_json(store: StateStore, desired: DesiredState | None = None) -> dict[str, Any]:
    actual = store.actual()
    conds = store.all_conditions()
    record = store.reconcile_record()
    names = sorted({n for k, n in conds if k == "Flow"} | set(actual.flows))
    flows = []
    for name in names:
        rec = actual.flows.get(name)
        want = desired.flows.get(name) if desired else None
        flows.append(
            {
                "name": name,
                "trigger": rec.trigger if rec else (want.trigger if want else None),
                "account": rec.account if rec else (want.account if want else None),
                "desiredState": want.state if want else (None if desired is None or ("Flow", name) in desired.invalid else "absent"),
                "actualState": rec.state if rec else "absent",
                "revision": rec.live_revision or rec.revision if rec else None,
                "revisionNumber": (rec.live_revision_number or rec.revision_number) if rec else None,
                "commit": rec.commit if rec else None,
                "conditions": [c.to_json() for c in conds.get(("Flow", name), [])],
            }
        )
    accounts = []
    for name in sorted({n for k, n in conds if k == "Account"} | set(actual.accounts)):
        rec = actual.accounts.get(name)
        want_acc = desired.accounts.get(name) if desired else None
        accounts.append(
            {
                "name": name,
                "channel": rec.channel if rec else (want_acc.channel if want_acc else None),
                "conditions": [c.to_json() for c in conds.get(("Account", name), [])],
            }
        )
    return {
        "commit": record.commit,
        "lastReconcile": {"at": record.at, "durationMs": record.duration_ms, "result": record.result},
        "flows": flows,
        "accounts": accounts,
    }


def all_ready(status: dict[str, Any]) -> bool:
    for item in (*status["flows"], *status["accounts"]):
        ready = next((c for c in item["conditions"] if c["type"] == "Ready"), None)
        if ready is None or ready["status"] != "True":
            return False
    return True
