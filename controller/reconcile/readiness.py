"""What keeps an applied object from serving at run time: account secrets that do not resolve."""

from __future__ import annotations

from controller.lifecycle.state import ActualState
from controller.manifests.models import Account
from controller.manifests.secrets import SecretMissing, resolve

from .reader import Snapshot

Subject = tuple[str, str]


def missing_secrets(account: Account) -> list[str]:
    problems = []
    for field, ref in account.spec.credentials:
        try:
            resolve(ref)
        except SecretMissing as exc:
            problems.append(f"{field}: {exc}")
    return problems


def secret_readiness(snapshot: Snapshot, actual: ActualState) -> dict[Subject, tuple[str, str]]:
    """Accounts with a missing secret are SecretMissing; flows bound to them AccountNotReady."""
    out: dict[Subject, tuple[str, str]] = {}
    broken: set[str] = set()
    for name, account in snapshot.accounts.items():
        problems = missing_secrets(account)
        if problems:
            broken.add(name)
            out[("Account", name)] = ("SecretMissing", "; ".join(problems) + " (its webhooks answer 503; its flows can still be tested)")
    for name, flow in actual.flows.items():
        if flow.account in broken:
            out[("Flow", name)] = ("AccountNotReady", f"account `{flow.account}` is missing secrets; the flow can still be tested")
    return out
