"""Desired state from the summaries of one commit's manifests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .state import DesiredAccount, DesiredFlow, DesiredState, InvalidItem

if TYPE_CHECKING:
    from controller.manifests.models import Account, Flow
    from controller.manifests.summary import Assembled


def desired_flow(flow: "Flow", path: str = "") -> DesiredFlow:
    """One flow manifest as desired state (for hosts and tests that hold models, not files)."""
    from controller.manifests.summary import flow_record

    record, spec = flow_record(flow)
    return flow_from_record(flow.name, record, spec, path)


def desired_account(account: "Account", path: str = "") -> DesiredAccount:
    from controller.manifests.summary import account_record

    return _account(account.name, account_record(account), path)


def flow_from_record(name: str, record: dict, spec: str, path: str) -> DesiredFlow:
    """A flow's desired record (as a parse summary keeps it) as desired state."""
    return DesiredFlow(
        name=name, trigger=record["trigger"], state=record["state"], account=record["account"],
        display_name=record["display_name"], remark=record["remark"], logging=record["logging"],
        keywords=tuple(record["keywords"]), revision=record["revision"], spec_json=spec,
        suspended=record["suspended"], path=path,
    )


def _account(name: str, record: dict, path: str) -> DesiredAccount:
    return DesiredAccount(name, record["channel"], record["channel_id"], record["spec_hash"], record["spec_json"], path)


def from_summaries(assembled: "Assembled") -> DesiredState:
    """Desired state from cached file summaries; `spec_json` is "" until the reconciler loads it."""
    flows: dict[str, DesiredFlow] = {}
    accounts: dict[str, DesiredAccount] = {}
    for f, d in assembled.valid:
        record = d.record
        if record is None or d.name is None:
            continue
        if d.kind == "Flow":
            flows[d.name] = flow_from_record(d.name, record, d.spec or "", f.path)
        elif d.kind == "Account":
            accounts[d.name] = _account(d.name, record, f.path)
    invalid = {
        key: InvalidItem(key[0], key[1], tuple(diags))  # type: ignore[arg-type]
        for key, diags in assembled.invalid.items()
        if key[0] in ("Flow", "Account")
    }
    return DesiredState(flows, accounts, invalid, incomplete=assembled.incomplete)
