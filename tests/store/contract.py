"""The StateStore contract: tests written against the interface only, run by every implementation.

An implementation's test module supplies a `store_factory` fixture (a StoreFactory) and a class
that inherits StoreContract; see tests/store/test_sqlite.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from abc import ABC, abstractmethod
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from controller.lifecycle.state import Action, FlowRecord, IllegalTransition, Transition
from controller.store.base import Condition, ReconcileRecord, StateStore, TreeDoc, TreeHead

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:01:00Z"
T2 = "2026-01-01T00:02:00Z"
T3 = "2026-01-01T00:03:00Z"
REV1, REV2, REV3 = "a1a1a1a1a1a1", "b2b2b2b2b2b2", "c3c3c3c3c3c3"


class StoreFactory(ABC):
    """How the contract opens an implementation's storage, here and in a child process."""

    @abstractmethod
    def open(self, name: str = "state") -> StateStore:
        """Open storage `name` (created empty the first time); the same name opens the same data."""

    @abstractmethod
    def child_source(self, name: str = "state") -> str:
        """Python source that, run in a fresh interpreter, binds `store` to storage `name`."""

    @abstractmethod
    def crash_before_commit_source(self) -> str:
        """Python source, run after child_source, that makes the process `os._exit(137)` when
        `store`'s next write transaction has written everything and is about to commit."""


# ---- action builders -----------------------------------------------------------------------


def spec(revision: str, **extra: object) -> str:
    return json.dumps({"rev": revision, **extra}, sort_keys=True, separators=(",", ":"))


def create(name: str, trigger: str = "whatsapp", revision: str = REV1, keywords: tuple[str, ...] = (), **fields) -> Action:
    fields.setdefault("display_name", name.title())
    fields.setdefault("remark", None)
    fields.setdefault("logging", False)
    return Action("Flow", name, "create", trigger=trigger, keywords=keywords, revision=revision,
                  spec_json=spec(revision), **fields)


def flow_action(name: str, action: str, **fields) -> Action:
    return Action("Flow", name, action, **fields)


def bind(name: str, account: str | None) -> Action:
    return Action("Flow", name, "bind", account=account)


def revise(name: str, revision: str, keywords: tuple[str, ...] = ()) -> Action:
    return Action("Flow", name, "revise", revision=revision, spec_json=spec(revision), keywords=keywords)


def publish(name: str, revision: str = REV1, keywords: tuple[str, ...] = ()) -> Action:
    return Action("Flow", name, "publish", revision=revision, spec_json=spec(revision), keywords=keywords)


def unpublish(name: str) -> Action:
    return Action("Flow", name, "unpublish")


def delete(name: str) -> Action:
    return Action("Flow", name, "delete")


def create_account(name: str, channel: str = "whatsapp", channel_id: str | None = "1001", spec_hash: str = "e1e1e1e1e1e1") -> Action:
    return Action("Account", name, "create-account", channel=channel, channel_id=channel_id, spec_hash=spec_hash,
                  spec_json=json.dumps({"channel": channel, "id": channel_id, "h": spec_hash}))


def update_account(name: str, channel: str = "whatsapp", channel_id: str | None = "1001", spec_hash: str = "f2f2f2f2f2f2") -> Action:
    return Action("Account", name, "update-account", channel=channel, channel_id=channel_id, spec_hash=spec_hash,
                  spec_json=json.dumps({"channel": channel, "id": channel_id, "h": spec_hash}))


def delete_account(name: str) -> Action:
    return Action("Account", name, "delete-account")


def cond(type: str, status: str, at: str, reason: str = "Applied", message: str = "") -> Condition:
    return Condition(type, status, reason, message, at)  # type: ignore[arg-type]


def published_flow(store: StateStore, name: str = "order-status", account: str = "acme-wa", keywords: tuple[str, ...] = ("order",)) -> None:
    """An account and a flow published on it at commit c1."""
    if account not in store.actual().accounts:
        store.apply([create_account(account)], "c1", T0)
    store.apply([create(name, keywords=keywords), bind(name, account), publish(name, keywords=keywords)], "c1", T0)


def snapshot(store: StateStore) -> tuple:
    """Everything a refused call must leave as it was."""
    actual = store.actual()
    return (actual, store.history(), {f: store.revisions(f) for f in actual.flows}, store.all_conditions())


def refused(store: StateStore, actions: list[Action], reason: str) -> IllegalTransition:
    before = snapshot(store)
    with pytest.raises(IllegalTransition) as caught:
        store.apply(actions, "c9", T3)
    assert caught.value.reason == reason, caught.value.message
    assert caught.value.message
    assert snapshot(store) == before
    return caught.value


# Every kind of call on one flow `f` and two accounts, for the property test.
_STEPS = {
    "create": create("f"),
    "update-info": flow_action("f", "update-info", display_name="F", remark="r"),
    "set-logging": flow_action("f", "set-logging", logging=True),
    "bind-a": bind("f", "a"),
    "bind-b": bind("f", "b"),
    "unbind": bind("f", None),
    "revise-2": revise("f", REV2),
    "revise-3": revise("f", REV3),
    "publish": flow_action("f", "publish"),
    "publish-2": publish("f", REV2),
    "unpublish": unpublish("f"),
    "delete": delete("f"),
    "create-account-a": create_account("a", channel_id="1"),
    "create-account-b": create_account("b", channel_id="2"),
    "update-account-a-id": update_account("a", channel_id="3"),
    "delete-account-a": delete_account("a"),
    "delete-account-b": delete_account("b"),
}
PROJECT = Path(__file__).resolve().parents[2]


class StoreContract:
    """Inherit this in a Test* class and provide a `store_factory` fixture."""

    @pytest.fixture
    def store(self, store_factory: StoreFactory):
        s = store_factory.open()
        yield s
        s.close()

    # ---- flows: create ----------------------------------------------------------------------
    def test_a_new_store_is_empty(self, store: StateStore):
        actual = store.actual()
        assert actual.flows == {} and actual.accounts == {}
        assert store.history() == []
        assert store.all_conditions() == {}
        assert store.reconcile_record() == ReconcileRecord(None, None, None, None)

    def test_create_stores_an_unpublished_flow_with_its_first_revision(self, store: StateStore):
        store.apply([create("faq", display_name="FAQ", remark="answers", logging=True, keywords=("help",))], "c1", T0)

        assert store.flow("faq") == FlowRecord(
            name="faq", trigger="whatsapp", state="unpublished", account=None, display_name="FAQ",
            remark="answers", logging=True, keywords=("help",), revision=REV1, revision_number=1,
            live_revision=None, live_revision_number=None, commit="c1",
        )
        [rev] = store.revisions("faq")
        assert (rev.flow, rev.hash, rev.number, rev.commit, rev.spec_json, rev.created_at) == (
            "faq", REV1, 1, "c1", spec(REV1), T0)
        assert store.revision("faq", REV1) == rev
        assert store.actual().flows == {"faq": store.flow("faq")}

    def test_create_may_bind_an_account_at_once(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        store.apply([create("faq", account="acme-wa")], "c1", T0)
        assert store.flow("faq").account == "acme-wa"

    def test_creating_a_flow_that_exists_is_refused(self, store: StateStore):
        store.apply([create("faq")], "c1", T0)
        refused(store, [create("faq", revision=REV2)], "Exists")

    @pytest.mark.parametrize("action", [
        flow_action("ghost", "update-info", display_name="X"), flow_action("ghost", "set-logging", logging=True),
        bind("ghost", None), revise("ghost", REV2), publish("ghost"), unpublish("ghost"), delete("ghost"),
    ], ids=lambda a: a.action)
    def test_any_action_on_an_unknown_flow_is_refused_as_not_found(self, store: StateStore, action: Action):
        refused(store, [action], "NotFound")

    # ---- flows: info, logging ---------------------------------------------------------------
    def test_update_info_changes_display_name_and_remark_in_any_state_without_a_new_revision(self, store: StateStore):
        store.apply([create("draft")], "c1", T0)
        published_flow(store)
        for name in ("draft", "order-status"):
            store.apply([flow_action(name, "update-info", display_name="Renamed", remark="new remark")], "c2", T1)
            record = store.flow(name)
            assert (record.display_name, record.remark) == ("Renamed", "new remark")
            assert record.revision == REV1 and len(store.revisions(name)) == 1
        assert store.flow("order-status").state == "published"

    def test_update_info_with_no_remark_clears_it(self, store: StateStore):
        store.apply([create("faq", remark="old")], "c1", T0)
        store.apply([flow_action("faq", "update-info", display_name="FAQ", remark=None)], "c2", T1)
        assert store.flow("faq").remark is None

    def test_set_logging_switches_logging_in_any_state(self, store: StateStore):
        published_flow(store)
        store.apply([flow_action("order-status", "set-logging", logging=True)], "c2", T1)
        assert store.flow("order-status").logging is True
        store.apply([flow_action("order-status", "set-logging", logging=False)], "c3", T2)
        assert store.flow("order-status").logging is False
        assert store.flow("order-status").state == "published"

    # ---- flows: bind ------------------------------------------------------------------------
    def test_bind_and_unbind_an_unpublished_flow(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        store.apply([create_account("other-wa", channel_id="2002")], "c1", T0)
        store.apply([create("faq")], "c1", T0)
        store.apply([bind("faq", "acme-wa")], "c2", T1)
        assert store.flow("faq").account == "acme-wa"
        store.apply([bind("faq", "other-wa")], "c3", T2)
        assert store.flow("faq").account == "other-wa"
        store.apply([bind("faq", None)], "c4", T3)
        assert store.flow("faq").account is None

    def test_binding_to_an_account_that_does_not_exist_is_refused(self, store: StateStore):
        store.apply([create("faq")], "c1", T0)
        error = refused(store, [bind("faq", "nobody")], "NotFound")
        assert "nobody" in error.message

    def test_binding_to_an_account_of_another_channel_is_refused(self, store: StateStore):
        store.apply([create_account("acme-viber", channel="viber", channel_id=None)], "c1", T0)
        store.apply([create("faq", trigger="whatsapp")], "c1", T0)
        store.apply([create("broadcast", trigger="manual")], "c1", T0)
        refused(store, [bind("faq", "acme-viber")], "ChannelMismatch")
        refused(store, [bind("broadcast", "acme-viber")], "ChannelMismatch")

    def test_a_published_flow_cannot_be_bound_to_another_account(self, store: StateStore):
        published_flow(store)
        store.apply([create_account("other-wa", channel_id="2002")], "c1", T0)
        error = refused(store, [bind("order-status", "other-wa")], "PublishedRebind")
        assert "unpublished" in error.message

    def test_a_published_flow_cannot_be_unbound(self, store: StateStore):
        published_flow(store)
        refused(store, [bind("order-status", None)], "PublishedRebind")

    def test_binding_a_published_flow_to_its_own_account_changes_nothing_but_is_recorded(self, store: StateStore):
        published_flow(store)
        before = store.flow("order-status")
        store.apply([bind("order-status", "acme-wa")], "c2", T1)
        assert store.flow("order-status") == before
        assert store.history("order-status")[-1].action == "bind"

    def test_unpublish_then_bind_in_one_call_rebinds_a_published_flow(self, store: StateStore):
        published_flow(store)
        store.apply([create_account("other-wa", channel_id="2002")], "c1", T0)
        store.apply([unpublish("order-status"), bind("order-status", "other-wa")], "c2", T1)
        record = store.flow("order-status")
        assert (record.state, record.account) == ("unpublished", "other-wa")

    # ---- flows: revise, publish, unpublish --------------------------------------------------
    def test_revise_stores_a_new_design_that_is_not_live(self, store: StateStore):
        store.apply([create("faq", keywords=("help",))], "c1", T0)
        store.apply([revise("faq", REV2, keywords=("faq",))], "c2", T1)
        record = store.flow("faq")
        assert (record.revision, record.revision_number, record.live_revision) == (REV2, 2, None)
        assert record.keywords == ("faq",)
        assert record.commit == "c2"
        assert [(r.hash, r.number, r.commit) for r in store.revisions("faq")] == [(REV1, 1, "c1"), (REV2, 2, "c2")]

    def test_revise_of_a_published_flow_keeps_its_live_revision_and_keywords(self, store: StateStore):
        published_flow(store, keywords=("order",))
        store.apply([revise("order-status", REV2, keywords=("track",))], "c2", T1)
        record = store.flow("order-status")
        assert (record.state, record.live_revision, record.live_revision_number) == ("published", REV1, 1)
        assert (record.revision, record.revision_number) == (REV2, 2)
        assert record.keywords == ("order",)

    def test_publish_makes_the_revision_live_with_its_keywords(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        store.apply([create("order-status"), bind("order-status", "acme-wa")], "c1", T0)
        store.apply([publish("order-status", REV1, keywords=("order", "status"))], "c2", T1)
        record = store.flow("order-status")
        assert (record.state, record.live_revision, record.live_revision_number) == ("published", REV1, 1)
        assert record.keywords == ("order", "status")
        assert record.commit == "c2"
        assert len(store.revisions("order-status")) == 1

    def test_publish_of_a_new_design_replaces_the_live_revision(self, store: StateStore):
        published_flow(store)
        store.apply([publish("order-status", REV2, keywords=("track",))], "c2", T1)
        record = store.flow("order-status")
        assert (record.state, record.revision, record.live_revision, record.live_revision_number) == (
            "published", REV2, REV2, 2)
        assert record.keywords == ("track",)
        assert store.revision("order-status", REV2).commit == "c2"

    def test_publish_without_a_revision_publishes_the_newest_design(self, store: StateStore):
        store.apply([create("broadcast", trigger="manual"), revise("broadcast", REV2)], "c1", T0)
        store.apply([flow_action("broadcast", "publish")], "c2", T1)
        assert store.flow("broadcast").live_revision == REV2

    def test_publishing_a_message_flow_without_an_account_is_refused_as_unbound(self, store: StateStore):
        store.apply([create("faq", trigger="viber")], "c1", T0)
        error = refused(store, [publish("faq")], "Unbound")
        assert "account" in error.message

    def test_a_manual_flow_is_published_without_an_account(self, store: StateStore):
        store.apply([create("broadcast", trigger="manual"), publish("broadcast")], "c1", T0)
        record = store.flow("broadcast")
        assert (record.state, record.account, record.live_revision) == ("published", None, REV1)

    def test_publishing_on_an_account_deleted_meanwhile_is_refused(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        store.apply([create("faq"), bind("faq", "acme-wa")], "c1", T0)
        store.apply([delete_account("acme-wa")], "c2", T1)  # allowed: no published flow uses it
        assert store.flow("faq").account == "acme-wa"
        refused(store, [publish("faq")], "NotFound")

    def test_publishing_on_an_account_whose_channel_changed_meanwhile_is_refused(self, store: StateStore):
        store.apply([create_account("acme")], "c1", T0)
        store.apply([create("faq"), bind("faq", "acme")], "c1", T0)
        store.apply([update_account("acme", channel="viber", channel_id=None)], "c2", T1)
        refused(store, [publish("faq")], "ChannelMismatch")

    def test_unpublish_takes_the_flow_offline_and_keeps_its_newest_revision(self, store: StateStore):
        published_flow(store)
        store.apply([unpublish("order-status")], "c2", T1)
        record = store.flow("order-status")
        assert (record.state, record.live_revision, record.live_revision_number) == ("unpublished", None, None)
        assert (record.revision, record.revision_number, record.account) == (REV1, 1, "acme-wa")
        assert store.revision("order-status", REV1) is not None

    # ---- flows: delete ----------------------------------------------------------------------
    def test_deleting_an_unpublished_flow_removes_it_and_keeps_its_history(self, store: StateStore):
        store.apply([create("faq")], "c1", T0)
        store.apply([delete("faq")], "c2", T1)
        assert store.flow("faq") is None
        assert "faq" not in store.actual().flows
        assert [(t.action, t.from_state, t.to_state) for t in store.history("faq")] == [
            ("create", None, "unpublished"), ("delete", "unpublished", None)]

    def test_a_published_flow_cannot_be_deleted(self, store: StateStore):
        published_flow(store)
        error = refused(store, [delete("order-status")], "PublishedDelete")
        assert "spec.state: unpublished" in error.message
        assert store.flow("order-status").state == "published"

    def test_a_refused_call_leaves_its_earlier_actions_unapplied(self, store: StateStore):
        published_flow(store)
        refused(store, [
            flow_action("order-status", "update-info", display_name="Changed", remark="changed"),
            flow_action("order-status", "set-logging", logging=True),
            revise("order-status", REV2),
            delete("order-status"),
        ], "PublishedDelete")
        record = store.flow("order-status")
        assert (record.display_name, record.logging, record.revision) == ("Order-Status", False, REV1)
        assert store.revision("order-status", REV2) is None

    def test_unpublish_then_delete_in_one_call_deletes_a_published_flow(self, store: StateStore):
        published_flow(store)
        store.apply([unpublish("order-status"), delete("order-status")], "c2", T1)
        assert store.flow("order-status") is None

    def test_a_deleted_flow_can_be_created_again_and_its_revision_numbers_continue(self, store: StateStore):
        store.apply([create("faq"), revise("faq", REV2)], "c1", T0)
        store.apply([delete("faq")], "c2", T1)
        store.apply([create("faq", trigger="viber", revision=REV3)], "c3", T2)
        record = store.flow("faq")
        assert (record.trigger, record.revision, record.revision_number, record.state) == ("viber", REV3, 3, "unpublished")
        assert [r.number for r in store.revisions("faq")] == [1, 2, 3]

    # ---- trigger ----------------------------------------------------------------------------
    @pytest.mark.parametrize("action", [
        Action("Flow", "faq", "update-info", trigger="viber", display_name="FAQ"),
        Action("Flow", "faq", "revise", trigger="viber", revision=REV2, spec_json=spec(REV2), keywords=()),
        Action("Flow", "faq", "publish", trigger="manual", revision=REV1, spec_json=spec(REV1), keywords=()),
        Action("Flow", "faq", "delete", trigger="viber"),
    ], ids=lambda a: a.action)
    def test_an_action_carrying_another_trigger_is_refused_as_trigger_change(self, store: StateStore, action: Action):
        store.apply([create("faq", trigger="whatsapp")], "c1", T0)
        error = refused(store, [action], "TriggerChange")
        assert "whatsapp" in error.message

    def test_an_action_carrying_the_same_trigger_is_applied(self, store: StateStore):
        store.apply([create("faq", trigger="whatsapp")], "c1", T0)
        store.apply([Action("Flow", "faq", "set-logging", trigger="whatsapp", logging=True)], "c2", T1)
        assert store.flow("faq").logging is True

    # ---- malformed calls --------------------------------------------------------------------
    def test_a_call_about_two_subjects_is_rejected_and_writes_nothing(self, store: StateStore):
        with pytest.raises(ValueError, match="one flow or one account"):
            store.apply([create("a"), create("b")], "c1", T0)
        with pytest.raises(ValueError):
            store.apply([create("a"), create_account("a")], "c1", T0)
        assert store.actual().flows == {} and store.history() == []

    def test_an_action_missing_what_it_needs_is_rejected(self, store: StateStore):
        with pytest.raises(ValueError, match="spec_json"):
            store.apply([Action("Flow", "faq", "create", trigger="whatsapp", revision=REV1)], "c1", T0)
        with pytest.raises(ValueError, match="not an action on a Flow"):
            store.apply([Action("Flow", "faq", "create-account")], "c1", T0)
        assert store.history() == []

    def test_an_empty_call_changes_nothing(self, store: StateStore):
        store.apply([], "c1", T0)
        assert store.history() == []

    # ---- revisions --------------------------------------------------------------------------
    def test_revisions_are_numbered_per_flow_and_a_known_hash_is_not_stored_twice(self, store: StateStore):
        store.apply([create("a"), revise("a", REV2), revise("a", REV3)], "c1", T0)
        store.apply([create("b", revision=REV3)], "c1", T0)
        store.apply([revise("a", REV1)], "c2", T1)  # back to the first design
        assert [(r.hash, r.number) for r in store.revisions("a")] == [(REV1, 1), (REV2, 2), (REV3, 3)]
        assert [(r.hash, r.number) for r in store.revisions("b")] == [(REV3, 1)]
        record = store.flow("a")
        assert (record.revision, record.revision_number) == (REV1, 1)

    def test_a_stored_revision_is_immutable(self, store: StateStore):
        store.apply([create("a")], "c1", T0)
        store.apply([revise("a", REV2), Action("Flow", "a", "revise", revision=REV1, spec_json='{"other":1}', keywords=())], "c2", T1)
        first = store.revision("a", REV1)
        assert (first.spec_json, first.commit, first.created_at) == (spec(REV1), "c1", T0)

    def test_revision_of_an_unknown_flow_or_hash_is_none(self, store: StateStore):
        store.apply([create("a")], "c1", T0)
        assert store.revision("a", REV2) is None
        assert store.revision("zzz", REV1) is None
        assert store.revisions("zzz") == []

    def test_revisions_outlive_their_flow(self, store: StateStore):
        store.apply([create("a")], "c1", T0)
        store.apply([delete("a")], "c2", T1)
        assert store.revision("a", REV1).spec_json == spec(REV1)

    # ---- history ----------------------------------------------------------------------------
    def test_history_lists_every_applied_action_in_order(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        store.apply([create("faq"), bind("faq", "acme-wa")], "c1", T0)
        store.apply([Action("Flow", "faq", "publish", revision=REV1, spec_json=spec(REV1), keywords=(), detail="first")], "c2", T1)
        store.apply([unpublish("faq"), delete("faq")], "c3", T2)

        assert store.history("faq") == [
            Transition("Flow", "faq", "create", None, "unpublished", REV1, "c1", T0, "whatsapp trigger"),
            Transition("Flow", "faq", "bind", "unpublished", "unpublished", REV1, "c1", T0, "account acme-wa"),
            Transition("Flow", "faq", "publish", "unpublished", "published", REV1, "c2", T1, "first"),
            Transition("Flow", "faq", "unpublish", "published", "unpublished", REV1, "c3", T2, ""),
            Transition("Flow", "faq", "delete", "unpublished", None, REV1, "c3", T2, ""),
        ]
        everything = store.history()
        assert [(t.kind, t.name, t.action) for t in everything][:2] == [
            ("Account", "acme-wa", "create-account"), ("Flow", "faq", "create")]
        assert len(everything) == 6

    def test_history_of_one_name_leaves_out_the_others(self, store: StateStore):
        store.apply([create("a")], "c1", T0)
        store.apply([create("b")], "c1", T0)
        store.apply([flow_action("a", "set-logging", logging=True)], "c2", T1)
        assert [t.action for t in store.history("a")] == ["create", "set-logging"]
        assert store.history("nobody") == []

    def test_history_of_a_name_holds_the_flow_and_the_account_of_that_name(self, store: StateStore):
        store.apply([create_account("shop")], "c1", T0)
        store.apply([create("shop")], "c2", T1)
        assert [(t.kind, t.action) for t in store.history("shop")] == [("Account", "create-account"), ("Flow", "create")]

    def test_a_refused_call_adds_no_history(self, store: StateStore):
        published_flow(store)
        count_before = len(store.history())
        with pytest.raises(IllegalTransition):
            store.apply([delete("order-status")], "c2", T1)
        assert len(store.history()) == count_before

    # ---- accounts ---------------------------------------------------------------------------
    def test_create_update_and_delete_an_account(self, store: StateStore):
        store.apply([create_account("acme-wa", channel_id="1001", spec_hash="e1e1e1e1e1e1")], "c1", T0)
        record = store.actual().accounts["acme-wa"]
        assert (record.channel, record.channel_id, record.spec_hash, record.commit) == ("whatsapp", "1001", "e1e1e1e1e1e1", "c1")

        store.apply([update_account("acme-wa", channel_id="1002", spec_hash="f2f2f2f2f2f2")], "c2", T1)
        record = store.actual().accounts["acme-wa"]
        assert (record.channel_id, record.spec_hash, record.commit) == ("1002", "f2f2f2f2f2f2", "c2")

        store.apply([delete_account("acme-wa")], "c3", T2)
        assert store.actual().accounts == {}
        assert [(t.action, t.from_state is None, t.to_state is None, t.commit) for t in store.history("acme-wa")] == [
            ("create-account", True, False, "c1"), ("update-account", False, False, "c2"), ("delete-account", False, True, "c3")]
        assert all(t.kind == "Account" for t in store.history("acme-wa"))

    def test_creating_an_account_that_exists_is_refused(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        refused(store, [create_account("acme-wa", channel_id="3003")], "Exists")

    @pytest.mark.parametrize("action", [update_account("ghost"), delete_account("ghost")], ids=lambda a: a.action)
    def test_changing_an_unknown_account_is_refused_as_not_found(self, store: StateStore, action: Action):
        refused(store, [action], "NotFound")

    def test_a_channel_id_belongs_to_one_account(self, store: StateStore):
        store.apply([create_account("acme-wa", channel_id="1001")], "c1", T0)
        store.apply([create_account("other-wa", channel_id="2002")], "c1", T0)
        refused(store, [create_account("third-wa", channel_id="1001")], "DuplicateChannelId")
        refused(store, [update_account("other-wa", channel_id="1001")], "DuplicateChannelId")

    def test_accounts_without_a_channel_id_do_not_collide(self, store: StateStore):
        store.apply([create_account("v1", channel="viber", channel_id=None)], "c1", T0)
        store.apply([create_account("v2", channel="viber", channel_id=None)], "c1", T0)
        assert set(store.actual().accounts) == {"v1", "v2"}

    def test_an_account_a_published_flow_uses_cannot_be_deleted(self, store: StateStore):
        published_flow(store)
        error = refused(store, [delete_account("acme-wa")], "AccountInUse")
        assert "order-status" in error.message

    def test_an_account_only_unpublished_flows_use_can_be_deleted(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        store.apply([create("faq"), bind("faq", "acme-wa")], "c1", T0)
        store.apply([delete_account("acme-wa")], "c2", T1)
        assert "acme-wa" not in store.actual().accounts

    def test_the_channel_id_of_an_account_in_use_cannot_change(self, store: StateStore):
        published_flow(store)
        refused(store, [update_account("acme-wa", channel_id="9009")], "AccountInUse")

    def test_an_account_in_use_may_change_what_is_not_its_channel_id(self, store: StateStore):
        published_flow(store)
        store.apply([update_account("acme-wa", channel_id="1001", spec_hash="d4d4d4d4d4d4")], "c2", T1)
        assert store.actual().accounts["acme-wa"].spec_hash == "d4d4d4d4d4d4"

    def test_an_account_is_free_again_once_its_flow_is_unpublished(self, store: StateStore):
        published_flow(store)
        store.apply([unpublish("order-status")], "c2", T1)
        store.apply([update_account("acme-wa", channel_id="9009")], "c3", T2)
        store.apply([delete_account("acme-wa")], "c4", T3)
        assert store.actual().accounts == {}

    # ---- actual -----------------------------------------------------------------------------
    def test_actual_holds_every_flow_and_account(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        for i in range(20):
            store.apply([create(f"flow-{i:02d}")], "c1", T0)
        published_flow(store, "live")
        store.apply([revise("flow-03", REV2)], "c2", T1)
        actual = store.actual()
        assert set(actual.flows) == {f"flow-{i:02d}" for i in range(20)} | {"live"}
        assert actual.flows["flow-03"].revision_number == 2
        assert actual.flows["live"].live_revision_number == 1
        assert actual.flows["live"] == store.flow("live")
        assert set(actual.accounts) == {"acme-wa"}

    # ---- conditions -------------------------------------------------------------------------
    def test_conditions_are_stored_in_the_order_given(self, store: StateStore):
        conditions = [cond("Ready", "True", T0), cond("Invalid", "False", T0), cond("Blocked", "False", T0)]
        store.set_conditions("Flow", "faq", conditions)
        assert store.conditions("Flow", "faq") == conditions
        assert store.conditions("Account", "faq") == []

    def test_last_transition_time_is_kept_while_the_status_does_not_change(self, store: StateStore):
        store.set_conditions("Flow", "faq", [cond("Ready", "True", T0, message="applied at c1")])
        store.set_conditions("Flow", "faq", [cond("Ready", "True", T1, message="applied at c2")])
        [ready] = store.conditions("Flow", "faq")
        assert (ready.last_transition_time, ready.message) == (T0, "applied at c2")

        store.set_conditions("Flow", "faq", [cond("Ready", "False", T2, reason="Blocked")])
        [ready] = store.conditions("Flow", "faq")
        assert (ready.status, ready.reason, ready.last_transition_time) == ("False", "Blocked", T2)

    def test_a_condition_left_out_is_removed_and_comes_back_with_a_new_time(self, store: StateStore):
        store.set_conditions("Flow", "faq", [cond("Ready", "True", T0), cond("Blocked", "True", T0)])
        store.set_conditions("Flow", "faq", [cond("Ready", "True", T1)])
        assert [c.type for c in store.conditions("Flow", "faq")] == ["Ready"]
        store.set_conditions("Flow", "faq", [cond("Ready", "True", T2), cond("Blocked", "True", T2)])
        assert [c.last_transition_time for c in store.conditions("Flow", "faq")] == [T0, T2]

    def test_all_conditions_lists_every_object(self, store: StateStore):
        store.set_conditions("Flow", "a", [cond("Ready", "True", T0)])
        store.set_conditions("Account", "a", [cond("Ready", "False", T0, reason="SecretMissing")])
        store.set_conditions("Flow", "b", [])
        assert store.all_conditions() == {
            ("Flow", "a"): [cond("Ready", "True", T0)],
            ("Account", "a"): [cond("Ready", "False", T0, reason="SecretMissing")],
        }

    def test_set_conditions_many_writes_each_object_and_keeps_unchanged_times(self, store: StateStore):
        store.set_conditions("Flow", "a", [cond("Ready", "True", T0)])
        store.set_conditions_many({
            ("Flow", "a"): [cond("Ready", "True", T1)],
            ("Flow", "b"): [cond("Ready", "False", T1, reason="Invalid")],
        })
        assert store.conditions("Flow", "a") == [cond("Ready", "True", T0)]
        assert store.conditions("Flow", "b") == [cond("Ready", "False", T1, reason="Invalid")]

    def test_a_condition_type_given_twice_is_rejected(self, store: StateStore):
        with pytest.raises(ValueError, match="once"):
            store.set_conditions("Flow", "a", [cond("Ready", "True", T0), cond("Ready", "False", T0)])
        assert store.conditions("Flow", "a") == []

    def test_deleting_a_flow_or_account_removes_its_conditions(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", T0)
        store.apply([create("faq")], "c1", T0)
        store.set_conditions("Flow", "faq", [cond("Ready", "True", T0)])
        store.set_conditions("Account", "acme-wa", [cond("Ready", "True", T0)])
        store.apply([delete("faq")], "c2", T1)
        store.apply([delete_account("acme-wa")], "c2", T1)
        assert store.all_conditions() == {}

    def test_conditions_of_returns_only_the_subjects_asked_for_that_have_some(self, store: StateStore):
        store.set_conditions("Flow", "a", [cond("Ready", "True", T0), cond("Invalid", "False", T0)])
        store.set_conditions("Account", "a", [cond("Ready", "True", T0)])
        store.set_conditions("Flow", "b", [cond("Ready", "True", T0)])
        assert store.conditions_of([("Flow", "a"), ("Flow", "zz")]) == {
            ("Flow", "a"): [cond("Ready", "True", T0), cond("Invalid", "False", T0)],
        }
        assert store.conditions_of([]) == {}

    # ---- part of the actual state -----------------------------------------------------------
    def test_actual_around_holds_the_named_flows_and_every_flow_sharing_their_account(self, store: StateStore):
        store.apply([create_account("other-wa", channel_id="2002")], "c1", T0)
        store.apply([create_account("third-wa", channel_id="3003")], "c1", T0)
        published_flow(store, "order", "acme-wa", ("order",))
        published_flow(store, "faq", "acme-wa", ("faq",))
        published_flow(store, "promo", "other-wa", ("promo",))
        store.apply([create("lonely")], "c1", T0)
        around = store.actual_around(["order", "missing"])
        assert sorted(around.flows) == ["faq", "order"]
        assert around.flows["order"] == store.actual().flows["order"]
        assert around.accounts == {}
        assert sorted(store.actual_around(["lonely"], ["other-wa"]).flows) == ["lonely", "promo"]
        assert store.actual_around([]).flows == {}

    # ---- tree index -------------------------------------------------------------------------
    def test_the_tree_index_is_empty_until_put(self, store: StateStore):
        assert store.tree_head() is None
        assert store.tree_docs(paths=["a.yaml"], names=["a"]) == []
        assert store.tree_identities() == set()

    def test_the_tree_index_answers_by_path_name_account_and_reference(self, store: StateStore):
        docs = [
            TreeDoc("f/a.yaml", 0, "b1", "Account", "wa", record='{"channel":"whatsapp"}'),
            TreeDoc("f/b.yaml", 0, "b2", "Flow", "order", account="wa", refs=("faq",), record='{"state":"published"}'),
            TreeDoc("f/b.yaml", 1, "b2", "FlowTest", "order-test", refs=("order",)),
            TreeDoc("f/c.yaml", 0, "b3", "Flow", "faq", account="other"),
        ]
        store.put_tree(TreeHead("c1", True), docs)
        assert store.tree_head() == TreeHead("c1", True)
        assert store.tree_docs(paths=["f/b.yaml"]) == docs[1:3]
        assert store.tree_docs(names=["wa", "faq"]) == [docs[0], docs[3]]
        assert store.tree_docs(accounts=["wa"]) == [docs[1]]
        assert store.tree_docs(referencing=["order"]) == [docs[2]]
        assert store.tree_docs(referencing=["faq"], names=["wa"]) == [docs[0], docs[1]]
        assert store.tree_identities() == {("Account", "wa"), ("Flow", "order"), ("FlowTest", "order-test"), ("Flow", "faq")}

    def test_putting_the_tree_with_replacing_patches_only_those_paths(self, store: StateStore):
        store.put_tree(TreeHead("c1", True), [TreeDoc("a.yaml", 0, "b1", "Flow", "a"), TreeDoc("b.yaml", 0, "b2", "Flow", "b")])
        store.put_tree(TreeHead("c2", False), [TreeDoc("b.yaml", 0, "b9", "Flow", "b2"), TreeDoc("c.yaml", 0, "b3", "Flow", "c")],
                       replacing=["b.yaml", "c.yaml", "gone.yaml"])
        assert store.tree_head() == TreeHead("c2", False)
        assert store.tree_identities() == {("Flow", "a"), ("Flow", "b2"), ("Flow", "c")}
        store.put_tree(TreeHead("c3", True), [TreeDoc("z.yaml", 0, "b4", "Flow", "z")])
        assert store.tree_identities() == {("Flow", "z")}

    # ---- reconcile record -------------------------------------------------------------------
    def test_the_reconcile_record_holds_the_last_one_written(self, store: StateStore):
        store.set_reconcile_record(ReconcileRecord("c1", T0, 12.5, "ok"))
        store.set_reconcile_record(ReconcileRecord("c2", T1, 3.0, "blocked"))
        assert store.reconcile_record() == ReconcileRecord("c2", T1, 3.0, "blocked")

    # ---- parse cache ------------------------------------------------------------------------
    def test_the_parse_cache_returns_what_was_put_and_only_that(self, store: StateStore):
        store.put_parse({"blob1": b'{"a":1}', "blob2": bytes(range(256))})
        assert store.cached_parse(["blob1", "blob2", "blob3"]) == {"blob1": b'{"a":1}', "blob2": bytes(range(256))}
        assert store.cached_parse([]) == {}

    def test_the_parse_cache_replaces_an_entry_put_again(self, store: StateStore):
        store.put_parse({"blob1": b"old"})
        store.put_parse({"blob1": b"new"})
        assert store.cached_parse(["blob1"]) == {"blob1": b"new"}

    def test_the_parse_cache_answers_ten_thousand_ids_at_once(self, store: StateStore):
        entries = {f"{i:040x}": f"payload {i}".encode() for i in range(10_000)}
        store.put_parse(entries)
        asked = list(entries) + [f"{i:040x}" for i in range(10_000, 10_500)]
        assert store.cached_parse(asked) == entries

    # ---- persistence ------------------------------------------------------------------------
    def test_everything_survives_close_and_reopen(self, store_factory: StoreFactory):
        first = store_factory.open()
        published_flow(first)
        first.apply([create("draft"), revise("draft", REV2)], "c2", T1)
        first.set_conditions("Flow", "order-status", [cond("Ready", "True", T0)])
        first.set_reconcile_record(ReconcileRecord("c2", T1, 5.0, "ok"))
        first.put_parse({"blob": b"parsed"})
        expected = (snapshot(first), first.reconcile_record(), first.revisions("draft"))
        first.close()

        again = store_factory.open()
        try:
            assert (snapshot(again), again.reconcile_record(), again.revisions("draft")) == expected
            assert again.cached_parse(["blob"]) == {"blob": b"parsed"}
        finally:
            again.close()

    def test_committed_work_survives_a_process_crash_and_a_half_done_call_does_not(self, store_factory: StoreFactory):
        script = "\n".join([
            "import os",
            store_factory.child_source(),
            textwrap.dedent(f"""
                from controller.lifecycle.state import Action
                from tests.store.contract import create, create_account, bind, publish
                store.apply([create_account("acme-wa")], "c1", {T0!r})
                store.apply([create("kept"), bind("kept", "acme-wa"), publish("kept")], "c1", {T0!r})
                """),
            store_factory.crash_before_commit_source(),
            textwrap.dedent(f"""
                store.apply([Action("Flow", "kept", "set-logging", logging=True)], "c2", {T1!r})
                raise SystemExit("the crash hook did not fire")
                """),
        ])
        child = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=60)
        assert child.returncode == 137, child.stderr

        reopened = store_factory.open()
        try:
            kept = reopened.flow("kept")
            assert (kept.state, kept.account, kept.logging) == ("published", "acme-wa", False)
            assert [t.action for t in reopened.history()] == ["create-account", "create", "bind", "publish"]
            reopened.apply([Action("Flow", "kept", "set-logging", logging=True)], "c3", T2)
            assert reopened.flow("kept").logging is True
        finally:
            reopened.close()

    # ---- rules hold for any sequence --------------------------------------------------------
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        trigger=st.sampled_from(["whatsapp", "manual"]),
        steps=st.lists(st.lists(st.sampled_from(sorted(_STEPS)), min_size=1, max_size=3), max_size=14),
    )
    def test_any_sequence_of_calls_keeps_the_rules(self, store_factory: StoreFactory, trigger: str, steps: list[list[str]]):
        store = store_factory.open(f"prop-{next(_examples)}")
        try:
            store.apply([create_account("a", channel_id="1")], "c", T0)
            store.apply([create_account("b", channel_id="2")], "c", T0)
            store.apply([create("f", trigger=trigger)], "c", T0)
            for step in steps:
                calls = [_STEPS[name] for name in step]
                calls = [c for c in calls if (c.kind, c.name) == (calls[0].kind, calls[0].name)]
                before = snapshot(store)
                try:
                    store.apply(calls, "c", T0)
                except IllegalTransition as e:
                    event(f"refused: {e.reason}")
                    assert snapshot(store) == before
                    continue
                event(f"applied: {step[-1]}")
                after = store.actual()
                assert len(store.history()) == len(before[1]) + len(calls)
                for name, was in before[0].flows.items():
                    if was.state == "published":  # never deleted or rebound without an unpublish
                        now = after.flows.get(name)
                        assert now is not None or any(c.action == "unpublish" for c in calls)
                        if now is not None and now.state == "published" and not any(c.action == "unpublish" for c in calls):
                            assert now.account == was.account
                for record in after.flows.values():
                    assert (record.state == "published") == (record.live_revision is not None)
                    if record.state == "published" and record.trigger != "manual":
                        assert record.account in after.accounts
                    numbers = [r.number for r in store.revisions(record.name)]
                    assert numbers == list(range(1, len(numbers) + 1))
        finally:
            store.close()


_examples = count()
