"""One reconcile as a list of steps: read desired → plan → apply → status → notify (DESIGN §4)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from controller.crash import crash_point
from controller.lifecycle.plan import plan as make_plan
from controller.lifecycle.state import ActualState, Blocked, Plan
from controller.source.git import GitSource, SourceError
from controller.store.base import Condition, ReconcileRecord, StateStore, TreeHead

from . import conditions
from .apply import apply_plan
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader pulls in the manifest models: imported when a reconcile runs
    from .incremental import Patch
    from .reader import Snapshot


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Outcome:
    commit: str
    skipped: bool = False  # the observed commit was already reconciled
    plan: Plan = field(default_factory=Plan)
    refused: list[Blocked] = field(default_factory=list)
    applied: int = 0
    snapshot: Snapshot | None = None
    duration_ms: float = 0.0

    @property
    def result(self) -> str:
        if self.plan.invalid:
            return "invalid"
        if self.plan.blocked or self.refused:
            return "blocked"
        return "ok"

    @property
    def ok(self) -> bool:
        return self.result == "ok"


LiveListener = Callable[[Outcome], None]


class Reconciler:
    """`incremental`: reconcile a commit as a patch of the last one when that was clean
    (reconcile/incremental.py). The outcome's snapshot then holds only the flows around the
    change, so a host that shows the whole desired state (`chatflow serve`) leaves it off."""

    def __init__(self, store: StateStore, source: GitSource, root: str = "flows.d",
                 secret_root: Path | None = None, clock: Callable[[], str] = utc_now,
                 incremental: bool = False) -> None:
        self.store = store
        self.incremental = incremental
        self.source = source
        self.root = root
        self.secret_root = secret_root
        self.clock = clock
        self.listeners: list[LiveListener] = []
        self.last: Outcome | None = None
        # extra Ready=False reasons outside the plan (serve: missing secrets)
        self.readiness: Callable[[Snapshot, ActualState], dict[tuple[str, str], tuple[str, str]]] | None = None

    def on_live_change(self, listener: LiveListener) -> None:
        self.listeners.append(listener)

    def reconcile(self, rev: str = "HEAD", force: bool = False) -> Outcome:
        """Reconcile the manifests of a commit (the tracked branch's tip, usually)."""
        commit = self.source.resolve(rev)

        def read() -> Snapshot:
            from .reader import read_commit

            return read_commit(self.source, commit, self.root, self.secret_root, self.store)

        return self._reconcile(commit, read, force, from_git=True)

    def reconcile_worktree(self, force: bool = False) -> Outcome:
        """Reconcile the files as they are on disk (`serve --worktree`, for local editing)."""
        from .reader import read_worktree

        snapshot = read_worktree(self.source.root_dir, self.root, self.secret_root)
        return self._reconcile(snapshot.commit, lambda: snapshot, force, from_git=False)

    def _reconcile(self, commit: str, read: Callable[[], Snapshot], force: bool, from_git: bool) -> Outcome:
        started = time.perf_counter()
        record = self.store.reconcile_record()
        if not force and record.commit == commit and record.result is not None and not record.result.startswith("error"):
            outcome = Outcome(commit, skipped=True)
            outcome.duration_ms = (time.perf_counter() - started) * 1000
            return outcome
        patch = self._patch(commit, record) if from_git and not force else None
        if patch is not None:
            snapshot, before = patch.snapshot, patch.before
        else:
            snapshot, before = read(), self.store.actual()
        plan = self._with_specs(make_plan(snapshot.desired, before), snapshot)
        crash_point("reconcile.after-plan")
        now = self.clock()
        applied = apply_plan(self.store, plan, commit, now)
        if patch is not None:
            after = patch.read_after(self.store)
            desired, around = patch.condition_inputs(after, plan, applied.refused)
            computed = conditions.compute(desired, around, plan, applied.refused, now)
            self.store.set_conditions_many(patch.condition_changes(self.store, computed))
        else:
            after = self.store.actual()
            not_ready = self.readiness(snapshot, after) if self.readiness else None
            computed = conditions.compute(snapshot.desired, after, plan, applied.refused, now, not_ready)
            self.store.set_conditions_many(self._condition_changes(computed, snapshot, after))
        outcome = Outcome(commit, False, plan, applied.refused, len(applied.applied), snapshot)
        if from_git and self.incremental:
            self._index(commit, snapshot, patch, outcome.ok)
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        self.store.set_reconcile_record(ReconcileRecord(commit, now, round(outcome.duration_ms, 1), outcome.result))
        self.last = outcome
        for listener in self.listeners:
            listener(outcome)
        return outcome

    def _patch(self, commit: str, record: ReconcileRecord) -> Patch | None:
        """The change from the last commit, when it was reconciled cleanly and the index is of it."""
        if not self.incremental or self.readiness is not None or record.result != "ok":
            return None
        head = self.store.tree_head()
        if head is None or not head.clean or head.commit != record.commit:
            return None
        from .incremental import read_patch

        try:
            return read_patch(self.source, self.store, head.commit, commit, self.root, self.secret_root)
        except SourceError:  # the indexed commit is not in this clone (history rewritten, another repository)
            return None

    def _index(self, commit: str, snapshot: Snapshot, patch: Patch | None, ok: bool) -> None:
        """The tree index follows each incremental reconciler's commit; only a clean one can be
        patched (another host's reconcile moves the record, not the index: the next one reads all)."""
        from .incremental import index_docs

        if patch is not None:
            self.store.put_tree(TreeHead(commit, ok), patch.docs, replacing=patch.paths)
            return
        clean = ok and not snapshot.desired.incomplete and not any(d.is_error for d in snapshot.diagnostics)
        self.store.put_tree(TreeHead(commit, clean), index_docs(snapshot.files) if clean else [])
        snapshot.files = []  # indexed: a long-lived host need not keep every file's summary

    def _with_specs(self, plan: Plan, snapshot: Snapshot) -> Plan:
        """Cached flows enter planning without their spec; load it for the actions that store one."""
        wanting = sorted({a.name for a in plan.actions if a.kind == "Flow" and a.revision and not a.spec_json})
        if not wanting:
            return plan
        from .reader import load_specs

        specs = load_specs(self.source, self.store, snapshot, wanting, self.secret_root)
        lost = [n for n in wanting if n not in specs]
        if lost:
            raise RuntimeError(f"the design of {', '.join(lost)} could not be read back from the parse cache or git")
        actions = tuple(replace(a, spec_json=specs[a.name]) if a.name in specs and a.revision and not a.spec_json else a
                        for a in plan.actions)
        return replace(plan, actions=actions)

    def _condition_changes(self, computed: dict[tuple[str, str], list[Condition]], snapshot: Snapshot,
                           after: ActualState) -> dict[tuple[str, str], list[Condition]]:
        """Only the subjects whose conditions differ from the stored ones are written (a condition
        keeps its lastTransitionTime while its status holds), all in one transaction; deleted
        flows and accounts keep no status."""
        stored = self.store.all_conditions()
        keep = {("Flow", n) for n in after.flows} | {("Account", n) for n in after.accounts}
        keep |= {("Flow", n) for n in snapshot.desired.flows} | {("Account", n) for n in snapshot.desired.accounts}
        keep |= set(snapshot.desired.invalid)
        changes = {subject: conds for subject, conds in computed.items()
                   if subject in keep and conditions.essence(conds) != conditions.essence(stored.get(subject, []))}
        for subject in stored:
            if subject not in keep:
                changes[subject] = []
        return changes
