"""The pure planner: `plan(desired, actual) -> Plan`, following the lifecycle rules (DESIGN §3)."""

from __future__ import annotations

from dataclasses import dataclass

from .state import (
    Action,
    ActualState,
    Blocked,
    DesiredFlow,
    DesiredState,
    FlowRecord,
    InvalidItem,
    Plan,
)

# The order of a flow's own actions: unpublish before bind, bind before publish.
_FLOW_ORDER = {a: i for i, a in enumerate(("create", "update-info", "set-logging", "unpublish", "bind", "revise", "publish", "delete"))}

DEFAULT_ENTRY = "\x00default"  # the claim of the account's default flow (no keywords)


def plan(desired: DesiredState, actual: ActualState) -> Plan:
    flow_actions: dict[str, list[Action]] = {}
    blocked: list[Blocked] = []

    # -- flows present in the manifests ------------------------------------------------------
    for name in sorted(desired.flows):
        want = desired.flows[name]
        have = actual.flows.get(name)
        if want.suspended:
            continue
        acts, block = _flow_changes(want, have)
        if block is not None:
            blocked.append(block)
        elif acts:
            flow_actions[name] = acts

    # -- flows gone from the manifests --------------------------------------------------------
    for name in sorted(actual.flows):
        if name in desired.flows or ("Flow", name) in desired.invalid or desired.incomplete:
            continue
        have = actual.flows[name]
        if have.state == "published":
            blocked.append(Blocked("Flow", name, "PublishedDelete",
                                   f"flow `{name}` is published and cannot be deleted: set `spec.state: unpublished`, "
                                   "merge, then remove the file"))
        else:
            flow_actions[name] = [Action("Flow", name, "delete", "the manifest was removed")]

    # -- entry keywords: a publish that would share an entry with another published flow -------
    for name in _entry_conflicts(desired, actual, flow_actions, blocked):
        acts = flow_actions.get(name, [])
        publish = next(a for a in acts if a.action == "publish")
        keep = [a for a in acts if a.action != "publish"]
        blocked.append(Blocked("Flow", name, "EntryConflict", _conflict_message(name, publish, desired, actual, flow_actions)))
        if keep:
            flow_actions[name] = keep
        else:
            flow_actions.pop(name, None)

    # -- accounts -----------------------------------------------------------------------------
    account_first: list[Action] = []  # creates and updates that keep channel ids
    account_moves: list[Action] = []  # channel id changes: after flows unpublish, before flows publish
    account_last: list[Action] = []
    published_after = _published_after(desired, actual, flow_actions)
    for name in sorted(desired.accounts):
        want = desired.accounts[name]
        have = actual.accounts.get(name)
        fields = dict(channel=want.channel, channel_id=want.channel_id, spec_hash=want.spec_hash, spec_json=want.spec_json)
        if have is None:
            account_first.append(Action("Account", name, "create-account", f"{want.channel} account", **fields))
        elif have.spec_hash != want.spec_hash:
            users = _users(name, actual, published_after)
            if (have.channel_id != want.channel_id or have.channel != want.channel) and users:
                blocked.append(Blocked("Account", name, "AccountInUse",
                                       f"account `{name}` changes its channel id while published flow(s) {', '.join(users)} use it: "
                                       "unpublish them (spec.state: unpublished), merge, then change the account"))
            elif have.channel_id != want.channel_id or have.channel != want.channel:
                account_moves.append(Action("Account", name, "update-account", "channel id changed", **fields))
            else:
                account_first.append(Action("Account", name, "update-account", "account settings changed", **fields))
    for name in sorted(actual.accounts):
        if name in desired.accounts or ("Account", name) in desired.invalid or desired.incomplete:
            continue
        users = _users(name, actual, published_after)
        if users:
            blocked.append(Blocked("Account", name, "AccountInUse",
                                   f"account `{name}` is used by published flow(s) {', '.join(users)} and cannot be deleted: "
                                   "unpublish or rebind them first, merge, then remove the account"))
        else:
            account_last.append(Action("Account", name, "delete-account", "the manifest was removed"))

    freeing, publishing, deleting = _ordered_flow_actions(flow_actions)
    actions = account_first + freeing + account_moves + publishing + deleting + account_last
    invalid = tuple(sorted(desired.invalid.values(), key=lambda i: (i.kind, i.name)))
    return Plan(tuple(actions), tuple(blocked), invalid)


def _flow_changes(want: DesiredFlow, have: FlowRecord | None) -> tuple[list[Action], Blocked | None]:
    name = want.name
    acts: list[Action] = []
    if have is None:
        acts.append(Action("Flow", name, "create", f"{want.trigger} flow, revision {want.revision}",
                           trigger=want.trigger, display_name=want.display_name, remark=want.remark,
                           logging=want.logging, keywords=want.keywords, revision=want.revision, spec_json=want.spec_json))
        if want.account is not None:
            acts.append(Action("Flow", name, "bind", f"to account {want.account}", trigger=want.trigger, account=want.account))
        if want.state == "published":
            acts.append(_publish(want))
        return acts, None

    if have.trigger != want.trigger:
        return [], Blocked("Flow", name, "TriggerChange",
                           f"the trigger type of `{name}` cannot change ({have.trigger} -> {want.trigger}): "
                           f"keep `type: {have.trigger}`, or create a new flow with another name")
    if want.state == "published" and have.state == "published" and want.account != have.account:
        return [], Blocked("Flow", name, "PublishedRebind",
                           f"published flow `{name}` cannot be rebound ({have.account or 'none'} -> {want.account or 'none'}): "
                           "set `spec.state: unpublished`, merge, then bind the new account and publish again")

    if (want.display_name, want.remark) != (have.display_name, have.remark):
        acts.append(Action("Flow", name, "update-info", "display name / remark", display_name=want.display_name, remark=want.remark))
    if want.logging != have.logging:
        acts.append(Action("Flow", name, "set-logging", "on" if want.logging else "off", logging=want.logging))
    if have.state == "published" and want.state == "unpublished":
        acts.append(Action("Flow", name, "unpublish", f"revision {have.live_revision} stops taking new conversations"))
    if want.account != have.account:
        acts.append(Action("Flow", name, "bind", f"{have.account or 'none'} -> {want.account or 'none'}",
                           trigger=want.trigger, account=want.account))
    if want.state == "published":
        if have.state != "published" or have.live_revision != want.revision:
            acts.append(_publish(want))
    elif have.revision != want.revision:
        acts.append(Action("Flow", name, "revise", f"new design {want.revision} (not live)", trigger=want.trigger,
                           keywords=want.keywords, revision=want.revision, spec_json=want.spec_json))
    return acts, None


def _publish(want: DesiredFlow) -> Action:
    return Action("Flow", want.name, "publish", f"revision {want.revision} goes live", trigger=want.trigger,
                  keywords=want.keywords, revision=want.revision, spec_json=want.spec_json)


def _ordered_flow_actions(flow_actions: dict[str, list[Action]]) -> tuple[list[Action], list[Action], list[Action]]:
    """(flows that only free things, flows that publish, deletes); a flow's own actions stay together."""
    groups: tuple[list[Action], list[Action], list[Action]] = ([], [], [])
    for name in sorted(flow_actions):
        acts = sorted(flow_actions[name], key=lambda a: _FLOW_ORDER[a.action])
        kinds = {a.action for a in acts}
        groups[2 if "delete" in kinds else 1 if "publish" in kinds else 0].extend(acts)
    return groups


@dataclass(frozen=True)
class _Live:
    """A flow as it will be published after the plan."""

    name: str
    account: str | None
    keywords: tuple[str, ...]
    incumbent: tuple[str, ...]  # entries it is already published with and keeps


def _entries(keywords: tuple[str, ...]) -> tuple[str, ...]:
    return keywords if keywords else (DEFAULT_ENTRY,)


def _published_after(desired: DesiredState, actual: ActualState, flow_actions: dict[str, list[Action]],
                     held_back: frozenset[str] = frozenset()) -> dict[str, _Live]:
    live: dict[str, _Live] = {}
    for name in set(actual.flows) | set(flow_actions):
        acts = {a.action: a for a in flow_actions.get(name, [])}
        have = actual.flows.get(name)
        if "unpublish" in acts or "delete" in acts:
            continue
        publishing = "publish" in acts and name not in held_back
        if not publishing and (have is None or have.state != "published"):
            continue
        account = acts["bind"].account if "bind" in acts else (have.account if have else None)
        old = _entries(have.keywords) if have is not None and have.state == "published" else ()
        new = _entries(acts["publish"].keywords or ()) if publishing else old
        live[name] = _Live(name, account, new, tuple(e for e in new if e in old))
    return live


def _entry_conflicts(desired: DesiredState, actual: ActualState, flow_actions: dict[str, list[Action]],
                     blocked: list[Blocked]) -> list[str]:
    """Names whose publish must be held back; iterates because holding one back keeps its old entries."""
    held: set[str] = set()
    # the trigger that counts is the stored one: a desired trigger change is blocked anyway
    manual = {n for n, f in actual.flows.items() if f.trigger == "manual"}
    manual |= {n for n, f in desired.flows.items() if f.trigger == "manual" and n not in actual.flows}
    while True:
        live = _published_after(desired, actual, flow_actions, frozenset(held))
        claims: dict[tuple[str, str], str] = {}
        for item in sorted(live.values(), key=lambda l: l.name):
            if item.name in manual or item.account is None:
                continue
            for entry in item.incumbent:
                claims.setdefault((item.account, entry), item.name)
        newly: set[str] = set()
        for item in sorted(live.values(), key=lambda l: l.name):
            if item.name in manual or item.account is None:
                continue
            for entry in item.keywords:
                if entry in item.incumbent:
                    continue
                owner = claims.setdefault((item.account, entry), item.name)
                if owner != item.name:
                    newly.add(item.name)
        newly -= held
        if not newly:
            return sorted(held)
        held |= newly


def _conflict_message(name: str, publish: Action, desired: DesiredState, actual: ActualState,
                      flow_actions: dict[str, list[Action]]) -> str:
    want = desired.flows.get(name)
    account = want.account if want else None
    keywords = publish.keywords or ()
    others = []
    for other_name, other in actual.flows.items():
        if other_name == name or other.state != "published" or other.account != account:
            continue
        shared = set(_entries(other.keywords)) & set(_entries(keywords))
        if shared:
            others.append((other_name, shared))
    for other_name, other in desired.flows.items():
        if other_name == name or other.state != "published" or other.account != account or any(o[0] == other_name for o in others):
            continue
        shared = set(_entries(other.keywords)) & set(_entries(keywords))
        if shared and other_name < name:
            others.append((other_name, shared))
    if others:
        who, shared = others[0]
        what = ", ".join(sorted("no keywords (the default flow)" if e == DEFAULT_ENTRY else repr(e) for e in shared))
        return (f"flow `{name}` would share its entry {what} on account `{account}` with published flow `{who}`: "
                f"give it other keywords, or unpublish `{who}` first")
    return f"flow `{name}` would share an entry keyword on account `{account}` with another published flow: choose distinct keywords"


def _users(account: str, actual: ActualState, published_after: dict[str, _Live]) -> list[str]:
    """Flows published on `account` after the plan (and ones that stay published as they are)."""
    users = {name for name, item in published_after.items() if item.account == account}
    return sorted(users)


__all__ = ["plan", "InvalidItem"]
