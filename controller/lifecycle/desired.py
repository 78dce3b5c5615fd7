"""Desired state from the summaries of one commit's manifests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .state import DesiredAccount, DesiredFlow, DesiredState, InvalidItem

if TYPE_CHECKING:
    from controller.manifests.summary import Assembled


def from_summaries(assembled: "Assembled") -> DesiredState:
    """Desired state from cached file summaries; `spec_json` is "" until the reconciler loads it."""
    flows: dict[str, DesiredFlow] = {}
    accounts: dict[str, DesiredAccount] = {}
    for f, d in assembled.valid:
        record = d.record
        if record is None or d.name is None:
            continue
        if d.kind == "Flow":
            flows[d.name] = DesiredFlow(
                name=d.name, trigger=record["trigger"], state=record["state"], account=record["account"],
                display_name=record["display_name"], remark=record["remark"], logging=record["logging"],
                keywords=tuple(record["keywords"]), revision=record["revision"], spec_json=d.spec or "",
                suspended=record["suspended"], path=f.path,
            )
        elif d.kind == "Account":
            accounts[d.name] = DesiredAccount(d.name, record["channel"], record["channel_id"], record["spec_hash"],
                                              record["spec_json"], f.path)
    invalid = {
        key: InvalidItem(key[0], key[1], tuple(diags))  # type: ignore[arg-type]
        for key, diags in assembled.invalid.items()
        if key[0] in ("Flow", "Account")
    }
    return DesiredState(flows, accounts, invalid, incomplete=assembled.incomplete)
