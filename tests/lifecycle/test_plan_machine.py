"""Random sequences of desired states, planned and applied to the real store: the rules always hold."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from controller.lifecycle.plan import DEFAULT_ENTRY, plan
from controller.lifecycle.state import DesiredAccount, DesiredFlow, DesiredState, InvalidItem
from controller.reconcile.apply import apply_plan
from controller.store.sqlite import SQLiteStore

FLOWS = ("f1", "f2", "f3")
ACCOUNTS = {"a1": "whatsapp", "a2": "whatsapp", "v1": "viber"}


@st.composite
def desired_states(draw) -> DesiredState:
    accounts = {}
    for name, channel in ACCOUNTS.items():
        if draw(st.booleans()):
            cid = None if channel == "viber" else draw(st.sampled_from([f"{name}-1", f"{name}-2"]))
            accounts[name] = DesiredAccount(name, channel, cid, draw(st.sampled_from(["h1", "h2"])), "{}")
    flows, invalid = {}, {}
    for name in FLOWS:
        if not draw(st.booleans()):
            continue
        trigger = draw(st.sampled_from(["whatsapp", "viber", "manual"]))
        state = draw(st.sampled_from(["published", "unpublished"]))
        account = None if trigger == "manual" else draw(st.sampled_from([None, "a1", "a2", "v1"]))
        keywords = tuple(sorted(draw(st.sets(st.sampled_from(["x", "y"]), max_size=2))))
        broken = draw(st.integers(0, 9)) == 0
        # what validation would reject: a missing or mismatched account, an unbound published message flow
        rejected = (account is not None and (account not in accounts or ACCOUNTS[account] != trigger)) or (
            trigger != "manual" and state == "published" and account is None)
        if broken or rejected:
            invalid[("Flow", name)] = InvalidItem("Flow", name, ())
            continue
        flows[name] = DesiredFlow(name, trigger, state, account, None, None, draw(st.booleans()), keywords,
                                  draw(st.sampled_from(["r1", "r2", "r3"])), "{}")
    return DesiredState(flows, accounts, invalid)


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = SQLiteStore(":memory:")
        self.step = 0

    def teardown(self) -> None:
        self.store.close()

    @rule(desired=desired_states())
    def merge_a_commit(self, desired: DesiredState) -> None:
        before = self.store.actual()
        p = plan(desired, before)
        self.step += 1
        result = apply_plan(self.store, p, f"c{self.step}", f"2026-01-01T00:00:{self.step % 60:02d}Z")
        assert result.refused == [], f"the store refused a planned step: {result.refused}"
        after = self.store.actual()
        for name, old in before.flows.items():
            new = after.flows.get(name)
            if old.state == "published":
                assert new is not None, f"published flow {name} was deleted"
                if new.state == "published":
                    assert new.account == old.account, f"published flow {name} was rebound"
            if new is not None:
                assert new.trigger == old.trigger, f"trigger of {name} changed"
            if ("Flow", name) in desired.invalid and new is not None:
                assert (new.state, new.live_revision) == (old.state, old.live_revision), f"invalid {name} changed what is live"
        for f in after.flows.values():
            if f.state == "published" and f.account is not None:
                assert f.account in after.accounts, f"account {f.account} deleted while published {f.name} uses it"
        for name, new in after.flows.items():
            want = desired.flows.get(name)
            if new.state == "published" and new.trigger != "manual":
                assert new.account is not None
            if want is not None and name not in {b.name for b in p.blocked if b.kind == "Flow"} and not want.suspended:
                assert new.state == want.state and new.account == want.account
        # applying the same desired state again plans nothing
        again = plan(desired, after)
        assert again.actions == (), f"second plan not empty: {again.actions}"

    @invariant()
    def one_published_flow_per_entry(self) -> None:
        seen: dict[tuple[str, str], str] = {}
        for f in self.store.actual().flows.values():
            if f.state != "published" or f.account is None:
                continue
            for entry in f.keywords or (DEFAULT_ENTRY,):
                key = (f.account, entry)
                assert key not in seen, f"{f.name} and {seen[key]} share entry {entry!r} on {f.account}"
                seen[key] = f.name


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(max_examples=150, stateful_step_count=12, deadline=None)
