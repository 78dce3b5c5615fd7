"""Desired state from a validated catalog of manifests."""

from __future__ import annotations

from controller.manifests.catalog import Catalog
from controller.manifests.models import Account, Flow
from controller.manifests.revision import account_hash, account_spec_json, flow_revision, spec_json

from .state import DesiredAccount, DesiredFlow, DesiredState, InvalidItem

SUSPEND_ANNOTATION = "chatflow/suspend"


def desired_flow(flow: Flow, path: str = "") -> DesiredFlow:
    spec = flow.spec
    return DesiredFlow(
        name=flow.name,
        trigger=spec.trigger.type,
        state=spec.state,
        account=spec.trigger.account,
        display_name=flow.metadata.displayName,
        remark=flow.metadata.remark,
        logging=spec.logging,
        keywords=tuple(spec.trigger.folded_keywords()),
        revision=flow_revision(flow),
        spec_json=spec_json(flow),
        suspended=flow.metadata.annotations.get(SUSPEND_ANNOTATION, "").strip().lower() == "true",
        path=path,
    )


def desired_account(account: Account, path: str = "") -> DesiredAccount:
    return DesiredAccount(
        name=account.name,
        channel=account.spec.channel,
        channel_id=account.spec.channel_id(),
        spec_hash=account_hash(account),
        spec_json=account_spec_json(account),
        path=path,
    )


def from_catalog(catalog: Catalog) -> DesiredState:
    flows: dict[str, DesiredFlow] = {}
    accounts: dict[str, DesiredAccount] = {}
    for doc in catalog.documents:
        if isinstance(doc.manifest, Flow):
            flows[doc.name] = desired_flow(doc.manifest, doc.path)
        elif isinstance(doc.manifest, Account):
            accounts[doc.name] = desired_account(doc.manifest, doc.path)
    invalid = {
        key: InvalidItem(key[0], key[1], tuple(diags))  # type: ignore[arg-type]
        for key, diags in catalog.invalid.items()
        if key[0] in ("Flow", "Account")
    }
    return DesiredState(flows, accounts, invalid, incomplete=bool(catalog.broken_paths))
