"""Reconciling a commit as a patch of the last one: only what its diff can touch is read, checked,
planned and given new conditions.

The store keeps an index of the last reconciled commit's documents (TreeDoc). When that commit
was reconciled cleanly (no error anywhere, every action applied), every flow outside the diff
already is what its manifest says, so a new commit needs: the changed files parsed, the rules
across documents run over their neighbours (the accounts and flows they name, the documents that
name them), the plan over the flows that share their accounts (entry keywords are claimed per
account), and the conditions of the flows they changed. The result is the plan a whole-tree
reconcile makes (tests/reconcile/test_incremental.py holds the two to each other).

Whatever this cannot decide exactly on its own returns None and the reconciler reads the whole
tree: an error in the changed files or caused elsewhere by them, an Account changed, a last
reconcile that was not clean, or many files changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from controller.lifecycle.desired import flow_from_record
from controller.lifecycle.state import ActualState, Blocked, DesiredFlow, DesiredState, Plan
from controller.manifests.diagnostics import sort_key
from controller.manifests.facts import Facts
from controller.manifests.summary import DocSummary, FileSummary
from controller.manifests.validation import global_checks
from controller.source.git import GitSource, TreeEntry
from controller.store.base import Condition, StateStore, TreeDoc

from .conditions import essence
from .reader import Snapshot, fill_specs, summaries

MAX_CHANGED = 200  # changed files past which reading the whole tree costs about the same

Subject = tuple[str, str]


@dataclass
class Patch:
    snapshot: Snapshot  # partial: the desired state of the flows around the change
    before: ActualState  # the actual state of the same flows
    changed: frozenset[str]  # flow names defined in the changed files, before or after
    accounts: frozenset[str]  # the accounts those flows are bound to, desired or actual
    paths: frozenset[str]  # the changed manifest files
    docs: list[TreeDoc] = field(default_factory=list)  # their documents now, for the tree index

    def read_after(self, store: StateStore) -> ActualState:
        return store.actual_around(self.changed, self.accounts)

    def condition_inputs(self, after: ActualState, plan: Plan, refused: list[Blocked]) -> tuple[DesiredState, ActualState]:
        """Desired and actual state cut down to the flows whose conditions can change: those the
        change defines and those the plan or the store blocked (always among them, in practice)."""
        names = set(self.changed) | {b.name for b in (*plan.blocked, *refused) if b.kind == "Flow"}
        desired = self.snapshot.desired
        return (DesiredState({n: f for n, f in desired.flows.items() if n in names}),
                ActualState({n: f for n, f in after.flows.items() if n in names}, {}))

    def condition_changes(self, store: StateStore, computed: dict[Subject, list[Condition]]) -> dict[Subject, list[Condition]]:
        """The conditions that differ from the stored ones; a flow the change removed keeps none."""
        stored = store.conditions_of({("Flow", n) for n in self.changed} | set(computed))
        changes = {s: c for s, c in computed.items() if essence(c) != essence(stored.get(s, []))}
        for subject in stored:
            if subject not in computed:
                changes[subject] = []
        return changes


def read_patch(source: GitSource, store: StateStore, base: str, commit: str, root: str,
               secret_root: Path | None = None) -> Patch | None:
    """The change from `base` (the commit the tree index describes, reconciled cleanly) to `commit`."""
    changes = source.changes(base, commit, root)
    if len(changes) > MAX_CHANGED:
        return None
    paths = frozenset(c.path for c in changes)
    old = store.tree_docs(paths=paths) if paths else []
    if any(d.kind == "Account" for d in old):
        return None
    files, specs, parsed = summaries(source, [TreeEntry(c.path, c.blob) for c in changes if c.blob], secret_root, store)
    new = _clean_docs(files)
    if new is None:
        return None
    new_ids = {d.identity for _, d in new}
    old_ids = {(d.kind, d.name) for d in old}
    known = store.tree_identities() - old_ids
    if len(new_ids) != len(new) or new_ids & known:
        return None  # a name defined twice: the whole-tree read places the error
    changed = frozenset(n for k, n in new_ids | old_ids if k == "Flow")
    if not _checks_pass(source, store, new, paths, changed, known, secret_root):
        return None

    accounts = {d.record["account"] for _, d in new if d.kind == "Flow" and d.record and d.record["account"]}
    accounts |= {d.account for d in old if d.kind == "Flow" and d.account}
    before = store.actual_around(changed, accounts)
    accounts |= {f.account for n, f in before.flows.items() if n in changed and f.account}

    flows: dict[str, DesiredFlow] = {}
    around = store.tree_docs(accounts=accounts)
    unlisted = set(before.flows) - {d.name for d in around} - changed
    if unlisted:  # stored flows bound elsewhere than their manifest says (a suspended flow)
        around += store.tree_docs(names=unlisted)
    for d in around:
        if d.kind == "Flow" and d.path not in paths and d.record is not None:
            flows[d.name] = flow_from_record(d.name, json.loads(d.record), "", d.path)
    origins: dict[tuple[str, str], tuple[str, int]] = {}
    for f, d in new:
        if d.kind == "Flow" and d.record is not None and d.name is not None and f.blob is not None:
            flows[d.name] = flow_from_record(d.name, d.record, "", f.path)
            origins[("Flow", d.name)] = (f.blob, d.index)

    diagnostics = sorted((x for _, d in new for x in d.local), key=sort_key)
    snapshot = Snapshot(commit, DesiredState(flows), diagnostics, origins=origins, parsed=parsed, partial=True)
    fill_specs(snapshot, specs)
    return Patch(snapshot, before, changed, frozenset(accounts), paths, index_docs(files))


def _clean_docs(files: list[FileSummary]) -> list[tuple[FileSummary, DocSummary]] | None:
    """The documents of the changed files, when none has an error and none is an Account."""
    out = []
    for f in files:
        if f.unidentified or any(p.is_error for p in f.problems):
            return None
        for d in f.docs:
            if d.facts is None or d.identity is None or d.kind == "Account" or any(x.is_error for x in d.local):
                return None
            out.append((f, d))
    return out


def _checks_pass(source: GitSource, store: StateStore, new: list[tuple[FileSummary, DocSummary]], paths: frozenset[str],
                 defined: frozenset[str], known: set[tuple[str, str]], secret_root: Path | None) -> bool:
    """The rules across documents, run over the changed documents and their neighbours: the
    accounts and tested flows they name, and the documents that name a flow they define or
    defined. The rest of the tree counts as existing names only."""
    facts = [d.facts for _, d in new if d.facts is not None]
    named = {f.account for f in facts if f.account} | {a for f in facts for _, a in f.sends}
    named |= {f.test_flow for f in facts if f.test_flow}
    neighbours = [d for d in store.tree_docs(names=named, referencing=defined) if d.path not in paths]
    if neighbours:
        files, _, _ = summaries(source, sorted({TreeEntry(d.path, d.blob) for d in neighbours}, key=lambda e: e.path),
                                secret_root, store)
        wanted = {(d.path, d.index) for d in neighbours}
        facts += [d.facts for f in files for d in f.docs if (f.path, d.index) in wanted and d.facts is not None]
    mine = {(f.kind, f.name) for f in facts}
    return not any(x.is_error for x in global_checks(facts, known=known - mine))


def index_docs(files: Iterable[FileSummary]) -> list[TreeDoc]:
    """The tree index's rows for these files' documents."""
    out = []
    for f in files:
        if f.blob is None:
            continue
        for d in f.docs:
            if d.kind is None or d.name is None:
                continue
            facts: Facts | None = d.facts
            refs = tuple(sorted({flow for _, flow in facts.start_flows} | ({facts.test_flow} if facts.test_flow else set()))) if facts else ()
            account = d.record.get("account") if d.kind == "Flow" and d.record else None
            record = json.dumps(d.record, separators=(",", ":"), sort_keys=True) if d.record is not None else None
            out.append(TreeDoc(f.path, d.index, f.blob, d.kind, d.name, account, refs, record))
    return out
