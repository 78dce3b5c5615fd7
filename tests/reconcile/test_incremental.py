"""Incremental apply: a commit reconciled as a patch of the last clean one ends exactly where a
whole-tree reconcile of the same commit ends, and falls back to the whole tree when it cannot."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from controller.reconcile.reconciler import Outcome, Reconciler
from controller.source.git import GitSource
from controller.store.sqlite import SQLiteStore
from tests.gitrepo import Repo, account, flow

NOW = "2026-05-01T00:00:00Z"


def flow_test(name: str, target: str, node: str = "hello") -> str:
    return f"""\
apiVersion: chatflow/v1
kind: FlowTest
metadata: {{name: {name}}}
spec:
  flow: {target}
  steps:
    - say: hi
      expect: {{node: {node}}}
"""


def starter(name: str, target: str) -> str:
    return f"""\
apiVersion: chatflow/v1
kind: Flow
metadata: {{name: {name}}}
spec:
  state: unpublished
  trigger: {{type: manual}}
  nodes:
    start: {{type: start, next: go}}
    go: {{type: start_flow, flow: {target}}}
"""


class Pair:
    """The same repository reconciled by an incremental and a whole-tree reconciler."""

    def __init__(self, tmp: Path) -> None:
        self.repo = Repo(tmp / "repo")
        self.ticks = itertools.count()
        self.stores = [SQLiteStore(tmp / "incremental.db"), SQLiteStore(tmp / "whole.db")]
        self.source = GitSource(self.repo.path)
        clock = lambda: f"2026-05-01T00:{next(self.ticks) // 2 % 60:02d}:00Z"  # noqa: E731 - one tick per pair
        self.reconcilers = [Reconciler(store, self.source, "flows.d", clock=clock, incremental=inc)
                            for store, inc in zip(self.stores, (True, False))]

    def commit(self, message: str = "change") -> tuple[Outcome, Outcome]:
        self.repo.commit(message)
        fast, whole = (r.reconcile() for r in self.reconcilers)
        assert whole.snapshot is not None and not whole.snapshot.partial
        assert (fast.plan.actions, fast.plan.blocked, fast.plan.invalid) == (whole.plan.actions, whole.plan.blocked, whole.plan.invalid)
        assert fast.refused == whole.refused and fast.result == whole.result
        a, b = self.stores
        assert a.actual() == b.actual()
        assert a.all_conditions() == b.all_conditions()
        assert [t.__dict__ for t in a.history()] == [t.__dict__ for t in b.history()]
        return fast, whole

    def close(self) -> None:
        for s in self.stores:
            s.close()
        self.source.close()


@pytest.fixture
def pair(tmp_path: Path):
    """Two accounts and four published flows, reconciled cleanly by both."""
    made = Pair(tmp_path)
    base(made)
    yield made
    made.close()


def partial(outcome: Outcome) -> bool:
    return outcome.snapshot is not None and outcome.snapshot.partial


def base(pair: Pair, flows: int = 4) -> None:
    pair.repo.write("flows.d/accounts/wa.yaml", account("wa", "111"))
    pair.repo.write("flows.d/accounts/wb.yaml", account("wb", "222"))
    for i in range(flows):
        pair.repo.write(f"flows.d/f{i}.yaml", flow(f"f{i}", account="wa" if i % 2 else "wb", keywords=(f"kw{i}",)))
    pair.commit("base")


def test_a_one_flow_change_after_a_clean_reconcile_parses_only_that_file(pair: Pair):
    pair.repo.write("flows.d/f1.yaml", flow("f1", account="wa", keywords=("kw1",), text="Hello again!"))
    fast, _ = pair.commit()
    assert partial(fast) and fast.snapshot.parsed == 1
    assert [(a.name, a.action) for a in fast.plan.actions] == [("f1", "publish")]
    ready = pair.stores[0].conditions("Flow", "f1")[0]
    assert (ready.type, ready.status, ready.message) == ("Ready", "True", "published: revision " + pair.stores[0].flow("f1").live_revision + " (#2)")


def test_adding_and_removing_flows_is_incremental_too(pair: Pair):
    pair.repo.write("flows.d/new.yaml", flow("new", account="wa", keywords=("fresh",)))
    fast, _ = pair.commit()
    assert partial(fast) and {a.action for a in fast.plan.actions} == {"create", "bind", "publish"}
    pair.repo.write("flows.d/new.yaml", flow("new", state="unpublished", account="wa", keywords=("fresh",)))
    fast, _ = pair.commit()
    assert partial(fast)
    pair.repo.remove("flows.d/new.yaml")
    fast, _ = pair.commit()
    assert partial(fast) and [a.action for a in fast.plan.actions] == ["delete"]
    assert pair.stores[0].conditions("Flow", "new") == []


def test_an_error_in_the_change_falls_back_to_the_whole_tree_and_reports_it(pair: Pair):
    pair.repo.write("flows.d/f2.yaml", flow("f2", account="nope", keywords=("kw2",)))
    fast, _ = pair.commit()
    assert not partial(fast) and fast.result == "invalid"
    pair.repo.write("flows.d/f2.yaml", flow("f2", account="wb", keywords=("kw2",)))
    fast, _ = pair.commit()
    assert not partial(fast) and fast.ok  # the last reconcile was not clean: the whole tree again
    pair.repo.write("flows.d/f2.yaml", flow("f2", account="wb", keywords=("kw2",), text="Hi"))
    assert partial(pair.commit()[0])


def test_a_change_that_breaks_an_unchanged_document_is_found(pair: Pair):
    pair.repo.write("flows.d/starter.yaml", starter("starter", "f0"))
    pair.repo.write("flows.d/tests/f3.yaml", flow_test("f3-test", "f3"))
    pair.commit()
    pair.repo.remove("flows.d/f0.yaml")  # unpublish first would be the right way; starter names it
    fast, _ = pair.commit()
    assert not partial(fast) and ("Flow", "starter") in fast.snapshot.desired.invalid
    pair.repo.write("flows.d/f0.yaml", flow("f0", account="wb", keywords=("kw0",)))
    pair.commit()
    pair.repo.write("flows.d/f3.yaml", flow("f3", account="wa", keywords=("kw3",)).replace("hello", "greet"))
    fast, _ = pair.commit()  # the FlowTest expects node `hello`, which f3 no longer has
    assert not partial(fast) and ("FlowTest", "f3-test") in {d.subject for d in fast.snapshot.diagnostics if d.is_error}


def test_an_account_change_or_a_name_defined_twice_reads_the_whole_tree(pair: Pair):
    pair.repo.write("flows.d/accounts/wa.yaml", account("wa", "999"))
    assert not partial(pair.commit()[0])
    pair.repo.write("flows.d/copy.yaml", flow("f1", account="wa", keywords=("other",)))
    fast, _ = pair.commit()
    assert not partial(fast) and fast.result == "invalid"


def test_an_entry_keyword_taken_on_the_same_account_is_blocked_as_the_whole_tree_blocks_it(pair: Pair):
    pair.repo.write("flows.d/f3.yaml", flow("f3", account="wa", keywords=("kw1",)))
    fast, whole = pair.commit()
    assert partial(fast) and [b.reason for b in fast.plan.blocked] == ["EntryConflict"]
    assert fast.plan.blocked == whole.plan.blocked


def test_a_suspended_flow_whose_manifest_moved_to_another_account_is_left_alone(pair: Pair):
    moved = flow("f1", account="wb", keywords=("kw1",)).replace("metadata: {name: f1}", 'metadata: {name: f1, annotations: {chatflow/suspend: "true"}}')
    pair.repo.write("flows.d/f1.yaml", moved)
    pair.commit()
    assert pair.stores[0].flow("f1").account == "wa"  # suspended: the store keeps it where it was
    pair.repo.write("flows.d/f3.yaml", flow("f3", account="wa", keywords=("kw3",), text="Changed"))
    fast, _ = pair.commit()  # f1 shares f3's account in the store but not in the manifests
    assert partial(fast) and [(a.name, a.action) for a in fast.plan.actions] == [("f3", "publish")]


def test_a_last_commit_missing_from_the_repository_reads_the_whole_tree(pair: Pair, tmp_path: Path):
    other = Repo(tmp_path / "rewritten")  # the same state file, a repository without that history
    other.write("flows.d/accounts/wa.yaml", account("wa", "111"))
    other.write("flows.d/accounts/wb.yaml", account("wb", "222"))
    for i in range(4):
        other.write(f"flows.d/f{i}.yaml", flow(f"f{i}", account="wa" if i % 2 else "wb", keywords=(f"kw{i}",), text="Moved"))
    other.commit()
    source = GitSource(other.path)
    try:
        outcome = Reconciler(pair.stores[0], source, "flows.d", incremental=True).reconcile()
        assert not partial(outcome) and outcome.ok and len(outcome.plan.actions) == 4
    finally:
        source.close()


# ---- any sequence of changes: incremental and whole-tree end in the same state ---------------

NAMES = ("f0", "f1", "f2", "f3", "n1", "n2")
STEPS = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(NAMES), st.sampled_from(("published", "unpublished")),
              st.sampled_from(("wa", "wb", None, "nope")), st.sampled_from(((), ("kw0",), ("kw1",), ("x",))), st.sampled_from(("A", "B"))),
    st.tuples(st.just("remove"), st.sampled_from(NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("suspend"), st.sampled_from(NAMES)),
    st.tuples(st.just("starter"), st.sampled_from(NAMES)),
    st.tuples(st.just("test"), st.sampled_from(NAMES), st.sampled_from(("hello", "done", "nope"))),
    st.tuples(st.just("account"), st.sampled_from(("wa", "wb")), st.sampled_from(("111", "222", "333"))),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.lists(STEPS, min_size=1, max_size=2), min_size=1, max_size=6))
def test_any_sequence_of_commits_ends_as_the_whole_tree_reconcile_ends(tmp_path_factory, steps):
    pair = Pair(tmp_path_factory.mktemp("pair"))
    try:
        base(pair)
        for commit in steps:
            for step in commit:
                _change(pair.repo, step)
            fast, _ = pair.commit()
            event("incremental" if partial(fast) else "whole tree")
    finally:
        pair.close()


def _change(repo: Repo, step: tuple) -> None:
    kind, name, *rest = step
    path = repo.path / f"flows.d/{name}.yaml"
    if kind == "edit":
        state, acct, keywords, text = rest
        trigger = "whatsapp" if acct else "manual"
        repo.write(f"flows.d/{name}.yaml", flow(name, state=state, account=acct, trigger=trigger, keywords=keywords if acct else (), text=text))
    elif kind == "remove" and path.exists():
        path.unlink()
    elif kind == "rename" and path.exists():
        target = repo.path / f"flows.d/{rest[0]}.yaml"
        if not target.exists():
            path.rename(target)
    elif kind == "suspend" and path.exists():
        text = path.read_text()
        if "annotations" not in text:
            path.write_text(text.replace(f"metadata: {{name: {name}}}", f"metadata: {{name: {name}, annotations: {{chatflow/suspend: \"true\"}}}}"))
    elif kind == "starter":
        repo.write("flows.d/starter.yaml", starter("starter", name))
    elif kind == "test":
        repo.write("flows.d/tests/t.yaml", flow_test("t", name, rest[0]))
    elif kind == "account":
        repo.write(f"flows.d/accounts/{name}.yaml", account(name, rest[0]))
