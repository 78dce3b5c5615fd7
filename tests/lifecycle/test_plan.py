"""The planner's rules (DESIGN §3), one specification each."""

from __future__ import annotations

from dataclasses import replace

from controller.lifecycle.plan import plan
from controller.lifecycle.state import (
    AccountRecord,
    ActualState,
    DesiredAccount,
    DesiredFlow,
    DesiredState,
    FlowRecord,
    InvalidItem,
)


def want(name="faq", state="published", account="wa", trigger="whatsapp", revision="r1", keywords=(), **kw) -> DesiredFlow:
    return DesiredFlow(name=name, trigger=trigger, state=state, account=account, display_name=kw.get("display_name"),
                       remark=kw.get("remark"), logging=kw.get("logging", False), keywords=tuple(keywords),
                       revision=revision, spec_json="{}", suspended=kw.get("suspended", False))


def have(name="faq", state="published", account="wa", trigger="whatsapp", revision="r1", keywords=(), **kw) -> FlowRecord:
    return FlowRecord(name=name, trigger=trigger, state=state, account=account, display_name=kw.get("display_name"),
                      remark=kw.get("remark"), logging=kw.get("logging", False), keywords=tuple(keywords),
                      revision=revision, revision_number=1, live_revision=revision if state == "published" else None)


WA = DesiredAccount("wa", "whatsapp", "111", "a1", "{}")
WA2 = DesiredAccount("wa2", "whatsapp", "222", "a2", "{}")
WA_REC = AccountRecord("wa", "whatsapp", "111", "a1")
WA2_REC = AccountRecord("wa2", "whatsapp", "222", "a2")


def desired(*flows, accounts=(WA,), invalid=(), incomplete=False) -> DesiredState:
    return DesiredState({f.name: f for f in flows}, {a.name: a for a in accounts},
                        {(i.kind, i.name): i for i in invalid}, incomplete)


def actual(*flows, accounts=(WA_REC,)) -> ActualState:
    return ActualState({f.name: f for f in flows}, {a.name: a for a in accounts})


def steps(p) -> list[tuple[str, str]]:
    return [(a.name, a.action) for a in p.actions]


def test_new_published_flow_is_created_bound_then_published_after_its_account():
    p = plan(desired(want()), ActualState())
    assert steps(p) == [("wa", "create-account"), ("faq", "create"), ("faq", "bind"), ("faq", "publish")]
    assert p.ok


def test_new_unpublished_unbound_flow_is_only_created():
    p = plan(desired(want(state="unpublished", account=None)), actual())
    assert steps(p) == [("faq", "create")]


def test_same_desired_and_actual_plans_nothing():
    assert plan(desired(want()), actual(have())).empty


def test_published_flow_cannot_be_deleted():
    p = plan(desired(), actual(have()))
    assert p.actions == ()
    (block,) = p.blocked
    assert (block.name, block.reason) == ("faq", "PublishedDelete")
    assert "set `spec.state: unpublished`, merge, then remove the file" in block.message


def test_unpublished_flow_is_deleted_when_its_manifest_is_removed():
    p = plan(desired(), actual(have(state="unpublished")))
    assert steps(p) == [("faq", "delete")]


def test_published_flow_cannot_be_rebound():
    p = plan(desired(want(account="wa2"), accounts=(WA, WA2)), actual(have(), accounts=(WA_REC, WA2_REC)))
    assert p.actions == ()
    assert [(b.name, b.reason) for b in p.blocked] == [("faq", "PublishedRebind")]


def test_unpublish_with_new_account_unpublishes_then_binds():
    p = plan(desired(want(state="unpublished", account="wa2"), accounts=(WA, WA2)), actual(have(), accounts=(WA_REC, WA2_REC)))
    assert steps(p) == [("faq", "unpublish"), ("faq", "bind")]
    assert p.actions[1].account == "wa2"


def test_trigger_type_never_changes():
    p = plan(desired(want(trigger="viber", state="unpublished", account=None)), actual(have(state="unpublished", account=None)))
    assert p.actions == ()
    assert [(b.name, b.reason) for b in p.blocked] == [("faq", "TriggerChange")]


def test_new_design_of_published_flow_is_published():
    p = plan(desired(want(revision="r2")), actual(have()))
    assert steps(p) == [("faq", "publish")]
    assert p.actions[0].revision == "r2"


def test_new_design_of_unpublished_flow_is_a_revision_not_live():
    p = plan(desired(want(state="unpublished", revision="r2")), actual(have(state="unpublished")))
    assert steps(p) == [("faq", "revise")]


def test_info_and_logging_change_in_any_state_without_a_new_revision():
    p = plan(desired(want(display_name="FAQ", logging=True)), actual(have()))
    assert steps(p) == [("faq", "update-info"), ("faq", "set-logging")]


def test_invalid_flow_keeps_its_live_revision_and_is_reported():
    bad = InvalidItem("Flow", "faq", ())
    p = plan(desired(invalid=(bad,)), actual(have()))
    assert p.actions == () and p.blocked == ()
    assert p.invalid == (bad,)
    assert not p.ok


def test_unreadable_file_means_nothing_is_taken_as_deleted():
    p = plan(desired(incomplete=True), actual(have(state="unpublished")))
    assert p.actions == ()


def test_suspended_flow_is_left_as_it_is():
    p = plan(desired(want(revision="r9", suspended=True)), actual(have()))
    assert p.empty and p.ok


def test_keyword_conflict_blocks_the_newcomer_not_the_incumbent():
    p = plan(desired(want("a", keywords=("order",)), want("b", keywords=("order",))),
             actual(have("b", keywords=("order",))))
    assert [(b.name, b.reason) for b in p.blocked] == [("a", "EntryConflict")]
    assert ("a", "create") in steps(p) and ("a", "publish") not in steps(p)
    assert "`b`" in p.blocked[0].message


def test_two_new_flows_with_one_keyword_block_the_later_name():
    p = plan(desired(want("a", keywords=("hi",)), want("b", keywords=("hi",))), actual())
    assert [(b.name, b.reason) for b in p.blocked] == [("b", "EntryConflict")]
    assert ("a", "publish") in steps(p)


def test_two_default_flows_on_one_account_conflict():
    p = plan(desired(want("a"), want("b")), actual(have("a")))
    assert [(b.name, b.reason) for b in p.blocked] == [("b", "EntryConflict")]


def test_keyword_freed_by_an_unpublish_in_the_same_plan_can_be_taken():
    p = plan(desired(want("a", state="unpublished", keywords=("hi",)), want("b", keywords=("hi",))),
             actual(have("a", keywords=("hi",))))
    assert p.blocked == ()
    assert steps(p).index(("a", "unpublish")) < steps(p).index(("b", "publish"))


def test_held_back_publish_keeps_old_keywords_claimed():
    # a drops "x" for "y" (owned by c) -> a is held back and keeps "x", so b cannot take "x"
    p = plan(desired(want("a", keywords=("y",), revision="r2"), want("b", keywords=("x",)), want("c", keywords=("y",))),
             actual(have("a", keywords=("x",)), have("c", keywords=("y",))))
    assert sorted((b.name, b.reason) for b in p.blocked) == [("a", "EntryConflict"), ("b", "EntryConflict")]


def test_keywords_on_different_accounts_do_not_conflict():
    p = plan(desired(want("a", keywords=("hi",)), want("b", account="wa2", keywords=("hi",)), accounts=(WA, WA2)), actual())
    assert p.blocked == ()


def test_account_in_use_by_a_published_flow_cannot_be_deleted():
    p = plan(desired(want(), accounts=()), actual(have()))
    assert [(b.kind, b.name, b.reason) for b in p.blocked] == [("Account", "wa", "AccountInUse")]
    assert p.actions == ()


def test_account_deleted_after_its_flow_unpublishes_and_unbinds():
    p = plan(desired(want(state="unpublished", account=None), accounts=()), actual(have()))
    assert steps(p) == [("faq", "unpublish"), ("faq", "bind"), ("wa", "delete-account")]


def test_account_channel_id_change_while_in_use_is_blocked():
    changed = replace(WA, channel_id="999", spec_hash="a9")
    p = plan(desired(want(), accounts=(changed,)), actual(have()))
    assert [(b.name, b.reason) for b in p.blocked] == [("wa", "AccountInUse")]


def test_account_other_change_while_in_use_is_an_update():
    changed = replace(WA, spec_hash="a9")
    p = plan(desired(want(), accounts=(changed,)), actual(have()))
    assert steps(p) == [("wa", "update-account")]


def test_deletes_come_last():
    p = plan(desired(want("z"), accounts=(WA,)), actual(have("a", state="unpublished", account=None)))
    assert steps(p)[-1] == ("a", "delete")
