"""Status conditions of flows and accounts after a reconcile (DESIGN §4), one shape for all."""

from __future__ import annotations

from typing import Iterable

from controller.lifecycle.state import ActualState, Blocked, DesiredState, Plan
from controller.manifests.diagnostics import Diagnostic
from controller.store.base import Condition

Subject = tuple[str, str]  # (kind, name)


def _c(type_: str, ok: bool, reason: str, message: str, now: str) -> Condition:
    return Condition(type_, "True" if ok else "False", reason, message, now)


def _first_errors(diagnostics: Iterable[Diagnostic], limit: int = 3) -> str:
    errors = [d for d in diagnostics if d.is_error]
    shown = "; ".join(f"{d.path}:{d.line}:{d.column} {d.code} {d.message}" for d in errors[:limit])
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return shown + more


def compute(desired: DesiredState, actual: ActualState, plan: Plan, refused: list[Blocked], now: str,
            extra_not_ready: dict[Subject, tuple[str, str]] | None = None) -> dict[Subject, list[Condition]]:
    """Conditions for every flow and account in the manifests or in the store after the apply
    (`actual` is read after applying, so deleted subjects have none).

    `extra_not_ready` marks subjects Ready=False for reasons outside the plan (e.g. a missing
    secret at serve time): subject -> (reason, message).
    """
    blocked = {(b.kind, b.name): b for b in (*plan.blocked, *refused)}
    subjects: set[Subject] = {("Flow", n) for n in desired.flows} | {("Account", n) for n in desired.accounts}
    subjects |= set(desired.invalid)
    subjects |= {("Flow", n) for n in actual.flows} | {("Account", n) for n in actual.accounts}
    subjects |= set(blocked)
    out: dict[Subject, list[Condition]] = {}
    for subject in sorted(subjects):
        kind, name = subject
        invalid = desired.invalid.get(subject)
        block = blocked.get(subject)
        suspended = kind == "Flow" and name in desired.flows and desired.flows[name].suspended
        record = actual.flows.get(name) if kind == "Flow" else None
        live = f"revision {record.live_revision} stays live" if record and record.live_revision else "nothing of it is live"
        conditions = []
        if invalid is not None:
            conditions.append(_c("Invalid", True, "ValidationFailed", _first_errors(invalid.diagnostics), now))
        else:
            conditions.append(_c("Invalid", False, "Valid", "the manifest is valid", now))
        if block is not None:
            conditions.append(_c("Blocked", True, block.reason, block.message, now))
        else:
            conditions.append(_c("Blocked", False, "NotBlocked", "no change is blocked", now))
        conditions.append(_c("Reconciling", False, "Reconciled", "the last reconcile finished", now))
        if suspended:
            ready = _c("Ready", False, "Suspended", "annotation chatflow/suspend is \"true\": the reconciler leaves this flow as it is", now)
        elif invalid is not None:
            ready = _c("Ready", False, "Invalid", f"the manifest does not validate; {live}", now)
        elif block is not None:
            ready = _c("Ready", False, "Blocked", f"{block.reason}: {live}", now)
        elif extra_not_ready and subject in extra_not_ready:
            reason, message = extra_not_ready[subject]
            ready = _c("Ready", False, reason, message, now)
        else:
            ready = _c("Ready", True, "Applied", _applied_message(kind, name, actual), now)
        conditions.insert(0, ready)
        out[subject] = conditions
    return out


def _applied_message(kind: str, name: str, actual: ActualState) -> str:
    if kind == "Account":
        return "account applied" if name in actual.accounts else "account not applied"
    record = actual.flows.get(name)
    if record is None:
        return "removed"
    if record.state == "published":
        return f"published: revision {record.live_revision} (#{record.live_revision_number})"
    return f"unpublished: newest revision {record.revision} (#{record.revision_number})"


def essence(conds: list[Condition]) -> list[tuple[str, str, str, str]]:
    """What a condition says, without when it started saying it."""
    return [(c.type, c.status, c.reason, c.message) for c in conds]
