"""The StateStore contract for the runtime's part: units of work, sessions, timers, outbox, events.

Written against the interface only; an implementation's test module inherits RuntimeContract
beside StoreContract (see tests/store/test_sqlite.py).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap

import pytest

from controller.engine.events import Execution
from controller.engine.session import ConversationKey, Deadline, Session
from controller.store.base import StateStore
from controller.store.records import (
    Dedupe,
    EventQuery,
    NewMessage,
    Retention,
    SendResult,
    SessionWrite,
    StatusChange,
    Work,
)

from .contract import PROJECT, StoreFactory, create_account

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
KEY = ConversationKey("whatsapp", "acme-wa", "15550002222")
OTHER = ConversationKey("whatsapp", "acme-wa", "15550003333")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def session(id: str = "s1", key: ConversationKey = KEY, status: str = "waiting", node: str = "ask",
            wait: Deadline | None = None, expires: dt.datetime | None = None, updated: float = 0,
            vars: dict | None = None, flow: str = "faq", revision: str = "a1a1a1a1a1a1") -> Session:
    return Session(id=id, key=key, flow=flow, revision=revision, node=node, status=status,  # type: ignore[arg-type]
                   started_at=T0, updated_at=at(updated), vars=vars or {}, wait=wait, expires_at=expires)


def new(s: Session, out_id: str | None = None) -> SessionWrite:
    return SessionWrite(s, None, out_id)


def message(conversation: str = str(KEY), text: str = "hi", session_id: str | None = "s1", logging: bool = False,
            **fields) -> NewMessage:
    return NewMessage(conversation=conversation, channel="whatsapp", account="acme-wa", to=conversation.split(":")[-1],
                      message={"text": text}, session_id=session_id, flow="faq", revision="a1a1a1a1a1a1", node="hello",
                      logging=logging, **fields)


def event(type_: str, session_id: str = "s1", seconds: float = 0, **fields) -> Execution:
    return Execution(type_, session_id, "faq", "a1a1a1a1a1a1", "ask", at(seconds), fields)


def texts(rows) -> list[str]:
    return [r.message["text"] for r in rows]


class RuntimeContract:
    """Inherit this in a Test* class and provide a `store_factory` fixture."""

    @pytest.fixture
    def store(self, store_factory: StoreFactory):
        s = store_factory.open("runtime")
        yield s
        s.close()

    # ---- one unit of work ---------------------------------------------------------------------
    def test_a_unit_of_work_stores_session_messages_and_events_together(self, store: StateStore):
        done = store.commit(Work(T0, Dedupe("whatsapp", "wamid.1"), (new(session(vars={"n": 1})),),
                                 (message(text="one"), message(text="two")), (event("flow.started"),)))
        assert done.applied and len(done.message_ids) == 2 and done.message_ids[0] < done.message_ids[1]
        row = store.live_session(KEY)
        assert row is not None and row.version == 1 and row.session.vars == {"n": 1} and row.session.node == "ask"
        assert store.session("s1") == row
        assert texts(store.messages(session_id="s1")) == ["one", "two"]
        assert [e.event.type for e in store.events(EventQuery(session_id="s1"))] == ["flow.started"]
        assert store.seen("whatsapp", "wamid.1") is not None

    def test_a_repeated_dedupe_key_writes_nothing_and_returns_the_first_result(self, store: StateStore):
        store.commit(Work(T0, Dedupe("viber", "5491234567890123456", result='{"welcome": 1}'), (new(session()),),
                          (message(text="one"),)))
        again = store.commit(Work(at(1), Dedupe("viber", "5491234567890123456", result="other"),
                                  (new(session("s2", OTHER)),), (message(str(OTHER), "two", "s2"),)))
        assert again.outcome == "duplicate" and again.result == '{"welcome": 1}'
        assert store.live_session(OTHER) is None and store.session("s2") is None
        assert texts(store.messages()) == ["one"]

    def test_dedupe_keys_are_exact_strings_per_scope(self, store: StateStore):
        # Viber tokens above 2**53 differ in their last digits: a float would make them collide
        assert store.commit(Work(T0, Dedupe("viber", "5491234567890123456"))).applied
        assert store.commit(Work(T0, Dedupe("viber", "5491234567890123457"))).applied
        assert store.commit(Work(T0, Dedupe("whatsapp", "5491234567890123456"))).applied
        assert store.seen("viber", "5491234567890123458") is None

    def test_a_stale_session_version_is_a_conflict_and_writes_nothing(self, store: StateStore):
        store.commit(Work(T0, None, (new(session()),)))
        store.commit(Work(at(1), None, (SessionWrite(session(node="second", updated=1), 1),)))
        late = store.commit(Work(at(2), Dedupe("whatsapp", "wamid.9"), (SessionWrite(session(node="stale", updated=2), 1),),
                                 (message(text="lost"),), (event("node.entered"),)))
        assert late.outcome == "conflict" and "changed since version 1" in late.detail
        row = store.live_session(KEY)
        assert row.session.node == "second" and row.version == 2
        assert store.seen("whatsapp", "wamid.9") is None  # so a redelivery is applied
        assert store.messages() == [] and store.events() == []

    def test_a_conversation_has_at_most_one_live_session(self, store: StateStore):
        store.commit(Work(T0, None, (new(session("s1")),)))
        clash = store.commit(Work(T0, None, (new(session("s2")),)))
        assert clash.outcome == "conflict" and store.session("s2") is None

    def test_an_ended_session_is_kept_and_the_conversation_can_start_again(self, store: StateStore):
        store.commit(Work(T0, None, (new(session("s1")),)))
        ended = session("s1", status="ended", node="done", updated=1)
        restart = store.commit(Work(at(1), None, (SessionWrite(ended, 1), new(session("s2", updated=1)))))
        assert restart.applied
        assert store.live_session(KEY).id == "s2"
        assert store.session("s1").session.status == "ended"

    def test_live_keys_are_the_conversations_with_a_session_not_ended(self, store: StateStore):
        keys = [ConversationKey("whatsapp", "acme-wa", f"1555000{n:04d}") for n in range(5)]
        store.commit(Work(T0, None, tuple(new(session(f"s{n}", key=k)) for n, k in enumerate(keys))))
        ended = session("s1", key=keys[1], status="ended", node="done", updated=1)
        store.commit(Work(at(1), None, (SessionWrite(ended, 1),)))
        assert sorted(store.live_keys(), key=str) == sorted([keys[0], *keys[2:]], key=str)

    def test_the_out_id_is_kept_with_the_session(self, store: StateStore):
        store.commit(Work(T0, None, (new(session(), out_id="crm-77"),)))
        store.commit(Work(at(1), None, (SessionWrite(session(updated=1, node="next"), 1),)))
        assert store.session("s1").out_id == "crm-77"

    def test_sessions_are_listed_newest_first_and_filtered(self, store: StateStore):
        store.commit(Work(T0, None, (new(session("s1")),)))
        store.commit(Work(T0, None, (new(session("s2", OTHER, status="handed_over", updated=5, flow="help")),)))
        third = ConversationKey("viber", "acme-viber", "u3")
        store.commit(Work(T0, None, (new(session("s3", third, status="ended", updated=9)),)))
        assert [r.id for r in store.sessions()] == ["s3", "s2", "s1"]
        assert [r.id for r in store.sessions(flow="faq")] == ["s3", "s1"]
        assert [r.id for r in store.sessions(status="live")] == ["s2", "s1"]
        assert [r.id for r in store.sessions(status="handed_over")] == ["s2"]
        assert [r.id for r in store.sessions(limit=1)] == ["s3"]

    def test_a_failure_before_commit_rolls_everything_back(self, store: StateStore):
        def boom() -> None:
            raise RuntimeError("power cut")

        with pytest.raises(RuntimeError):
            store.commit(Work(T0, Dedupe("whatsapp", "wamid.1"), (new(session()),), (message(),), (event("x"),)),
                         before_commit=boom)
        assert store.seen("whatsapp", "wamid.1") is None and store.live_session(KEY) is None
        assert store.messages() == [] and store.events() == [] and store.due_timers(at(10**6)) == []
        assert store.commit(Work(T0, Dedupe("whatsapp", "wamid.1"), (new(session()),))).applied

    def test_a_process_killed_before_commit_leaves_nothing_and_after_commit_everything(self, store_factory: StoreFactory):
        for crash, applied in (("before", False), ("after", True)):
            name = f"crash-{crash}"
            script = "\n".join([
                "import os",
                store_factory.child_source(name),
                textwrap.dedent(f"""
                    from tests.store.runtime_contract import T0, KEY, Dedupe, Work, new, session, message
                    work = Work(T0, Dedupe("whatsapp", "wamid.c"), (new(session()),), (message(),))
                    if {crash!r} == "before":
                        store.commit(work, before_commit=lambda: os._exit(137))
                    else:
                        store.commit(work)
                        os._exit(137)
                    """),
            ])
            child = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=60)
            assert child.returncode == 137, child.stderr
            reopened = store_factory.open(name)
            try:
                assert (reopened.seen("whatsapp", "wamid.c") is not None) is applied
                assert len(reopened.messages()) == (1 if applied else 0)
                redelivered = reopened.commit(Work(T0, Dedupe("whatsapp", "wamid.c"), (new(session()),), (message(),)))
                assert redelivered.outcome == ("duplicate" if applied else "applied")
                assert len(reopened.messages()) == 1
            finally:
                reopened.close()

    def test_a_group_commit_applies_each_unit_on_its_own_terms(self, store: StateStore):
        store.commit(Work(T0, Dedupe("whatsapp", "seen-before")))
        third = ConversationKey("viber", "acme-viber", "u3")
        broken = NewMessage(conversation="x", channel="whatsapp", account="acme-wa", to="x", message={"text": "?"},
                            status="bogus")  # type: ignore[arg-type]  # the store refuses it
        results = store.commit_many([
            Work(T0, Dedupe("whatsapp", "a"), (new(session("s1")),), (message(text="one"),)),
            Work(T0, Dedupe("whatsapp", "seen-before"), (new(session("s2", OTHER)),)),
            Work(T0, Dedupe("whatsapp", "b"), (new(session("s3")),)),  # KEY is live in this very batch
            Work(T0, Dedupe("whatsapp", "c"), (new(session("s4", third)),), (broken,)),
            Work(T0, Dedupe("whatsapp", "d"), (), (message(str(OTHER), "two", None),)),
        ])
        assert [r.outcome if not isinstance(r, Exception) else "error" for r in results] == [
            "applied", "duplicate", "conflict", "error", "applied"]
        assert [r.id for r in store.sessions()] == ["s1"]
        assert texts(store.messages()) == ["one", "two"]
        assert store.seen("whatsapp", "b") is None and store.seen("whatsapp", "c") is None
        assert store.seen("whatsapp", "d") is not None

    def test_a_group_commit_that_fails_before_commit_applies_none(self, store: StateStore):
        def boom() -> None:
            raise RuntimeError("power cut")

        with pytest.raises(RuntimeError):
            store.commit_many([Work(T0, Dedupe("whatsapp", "a"), (new(session()),)),
                               Work(T0, Dedupe("whatsapp", "b"), (), (message(),))], before_commit=boom)
        assert store.seen("whatsapp", "a") is None and store.seen("whatsapp", "b") is None
        assert store.sessions() == [] and store.messages() == []

    # ---- timers -------------------------------------------------------------------------------
    def test_a_session_deadline_is_its_timer_moved_and_cleared_with_it(self, store: StateStore):
        store.commit(Work(T0, None, (new(session(wait=Deadline(at(60), "question"), expires=at(3600))),)))
        assert store.next_timer_at() == at(60)
        assert store.due_timers(at(59)) == []
        (timer,) = store.due_timers(at(60))
        assert (timer.session_id, timer.key, timer.token, timer.kind) == ("s1", KEY, at(60), "question")
        store.commit(Work(at(1), None, (SessionWrite(session(wait=Deadline(at(120), "delay"), expires=at(3600), updated=1), 1),)))
        assert store.due_timers(at(60)) == [] and store.next_timer_at() == at(120)
        store.commit(Work(at(2), None, (SessionWrite(session(status="ended", updated=2), 2),)))
        assert store.next_timer_at() is None and store.due_timers(at(10**6)) == []

    def test_due_timers_come_earliest_first(self, store: StateStore):
        store.commit(Work(T0, None, (new(session("late", wait=Deadline(at(30), "delay"))),)))
        store.commit(Work(T0, None, (new(session("early", OTHER, wait=Deadline(at(10), "handoff"))),)))
        assert [t.session_id for t in store.due_timers(at(40))] == ["early", "late"]
        assert [t.session_id for t in store.due_timers(at(40), limit=1)] == ["early"]

    # ---- outbox -------------------------------------------------------------------------------
    def test_a_conversation_sends_one_message_at_a_time_in_order(self, store: StateStore):
        store.commit(Work(T0, None, (), (message(text="a1"), message(str(OTHER), "b1"), message(text="a2"))))
        first = store.claim_messages(at(1), 10)
        assert texts(first) == ["a1", "b1"] and all(r.status == "sending" and r.attempts == 1 for r in first)
        assert store.claim_messages(at(1), 10) == []  # a1 is in flight, so a2 waits
        store.settle_messages([SendResult(first[0].id, "sent", message_id="wamid.out1")], at(2))
        (second,) = store.claim_messages(at(2), 10)
        assert second.message["text"] == "a2"

    def test_a_retry_waits_for_its_time_and_holds_back_the_rest_of_its_conversation(self, store: StateStore):
        store.commit(Work(T0, None, (), (message(text="a1"), message(text="a2"))))
        (row,) = store.claim_messages(at(1), 10)
        store.settle_messages([SendResult(row.id, "retry", error_code="130429", error_title="throttled",
                                          next_attempt_at=at(30))], at(1))
        assert store.claim_messages(at(29), 10) == [] and store.next_message_at() == at(30)
        (again,) = store.claim_messages(at(30), 10)
        assert (again.id, again.attempts, again.error_code) == (row.id, 2, "130429")

    def test_a_permanent_failure_is_recorded_and_the_conversation_moves_on(self, store: StateStore):
        store.commit(Work(T0, None, (), (message(text="a1"), message(text="a2"))))
        (row,) = store.claim_messages(at(1), 10)
        store.settle_messages([SendResult(row.id, "failed", error_code="131047", error_title="Re-engagement message")], at(1))
        (failed,) = [r for r in store.messages() if r.id == row.id]
        assert (failed.status, failed.error_code, failed.error_title) == ("failed", "131047", "Re-engagement message")
        assert texts(store.claim_messages(at(2), 10)) == ["a2"]

    def test_a_message_refused_before_sending_is_stored_as_failed_and_never_claimed(self, store: StateStore):
        store.commit(Work(T0, None, (), (message(text="nowhere", status="failed", error_code="unknown_account"),)))
        assert store.claim_messages(at(1), 10) == []
        assert store.messages()[0].error_code == "unknown_account"

    def test_attempts_that_may_have_delivered_are_counted_as_repeats(self, store: StateStore):
        store.commit(Work(T0, None, (), (message(text="a1"),)))
        (row,) = store.claim_messages(at(1), 10)
        store.settle_messages([SendResult(row.id, "retry", error_code="timeout", maybe_delivered=True, next_attempt_at=at(2))], at(1))
        store.claim_messages(at(2), 10)
        store.settle_messages([SendResult(row.id, "sent", message_id="wamid.x")], at(3))
        (sent,) = store.messages()
        assert (sent.status, sent.attempts, sent.repeats, sent.channel_message_id) == ("sent", 2, 1, "wamid.x")

    def test_messages_left_sending_by_a_stopped_process_are_sent_again_as_possible_repeats(self, store: StateStore):
        store.commit(Work(T0, None, (), (message(text="a1"), message(text="a2"))))
        store.claim_messages(at(1), 10)
        assert store.recover_messages(at(5)) == 1
        (again,) = store.claim_messages(at(5), 10)
        assert (again.message["text"], again.attempts, again.repeats) == ("a1", 2, 1)

    def test_claims_are_bounded_and_due_first(self, store: StateStore):
        keys = [ConversationKey("whatsapp", "acme-wa", f"1555000{i:04d}") for i in range(5)]
        store.commit(Work(T0, None, (), tuple(message(str(k), f"m{i}") for i, k in enumerate(keys))))
        assert texts(store.claim_messages(at(1), 3)) == ["m0", "m1", "m2"]
        assert store.claim_messages(at(1), 0) == []

    # ---- delivery statuses --------------------------------------------------------------------
    def _sent(self, store: StateStore, logging: bool = True, message_id: str = "wamid.out") -> int:
        store.commit(Work(T0, None, (), (message(logging=logging),)))
        (row,) = store.claim_messages(at(1), 1)
        store.settle_messages([SendResult(row.id, "sent", message_id=message_id)], at(1))
        return row.id

    def _status(self, store: StateStore, state: str, message_id: str = "wamid.out", code: str | None = None) -> None:
        assert store.commit(Work(at(5), Dedupe("whatsapp", f"status:{message_id}:{state}"),
                                 statuses=(StatusChange("whatsapp", message_id, state, code),))).applied  # type: ignore[arg-type]

    def test_statuses_move_a_message_forward_only(self, store: StateStore):
        self._sent(store)
        self._status(store, "read")
        self._status(store, "delivered")  # late and out of order: read stays
        (row,) = store.messages()
        assert row.status == "read"
        types = [e.event.type for e in store.events(EventQuery(session_id="s1"))]
        assert types == ["message.sent", "message.read"]
        assert store.events()[0].event.fields["messageId"] == "wamid.out"

    def test_a_failed_status_after_sending_records_the_error(self, store: StateStore):
        self._sent(store)
        self._status(store, "failed", code="131047")
        (row,) = store.messages()
        assert (row.status, row.error_code) == ("failed", "131047")

    def test_a_status_that_arrives_before_its_send_is_recorded_is_applied_then(self, store: StateStore):
        self._status(store, "delivered", message_id="wamid.early")
        self._sent(store, message_id="wamid.early")
        (row,) = store.messages()
        assert row.status == "delivered"

    def test_messages_of_flows_without_logging_write_no_events(self, store: StateStore):
        self._sent(store, logging=False)
        self._status(store, "delivered")
        assert store.events() == [] and store.messages()[0].status == "delivered"

    # ---- events -------------------------------------------------------------------------------
    def test_events_are_read_in_order_by_session_flow_time_and_position(self, store: StateStore):
        store.commit(Work(T0, None, (), (), (event("flow.started"), event("node.entered", seconds=1, type="question"),
                                            event("flow.started", "s2", seconds=2))))
        rows = store.events()
        assert [(r.event.conversation, r.event.type) for r in rows] == [("s1", "flow.started"), ("s1", "node.entered"), ("s2", "flow.started")]
        assert rows[1].event.fields == {"type": "question"} and rows[1].event.time == at(1)
        assert [r.event.type for r in store.events(EventQuery(session_id="s1"))] == ["flow.started", "node.entered"]
        assert len(store.events(EventQuery(flow="faq", since=at(1)))) == 2
        assert [r.seq for r in store.events(EventQuery(after_seq=rows[0].seq))] == [rows[1].seq, rows[2].seq]
        assert [r.event.type for r in store.events(EventQuery(types=("node.entered",)))] == ["node.entered"]
        assert len(store.events(EventQuery(limit=1))) == 1

    def test_the_newest_events_can_be_read_still_oldest_first(self, store: StateStore):
        store.commit(Work(T0, None, (), (), tuple(event("node.entered", seconds=n, n=n) for n in range(5))))
        assert [r.event.fields["n"] for r in store.events(EventQuery(limit=2, newest=True))] == [3, 4]
        assert [r.event.fields["n"] for r in store.events(EventQuery(limit=2))] == [0, 1]
        assert [r.event.fields["n"] for r in store.events(EventQuery(since=at(1), limit=10, newest=True))] == [1, 2, 3, 4]

    # ---- counts (metrics) ---------------------------------------------------------------------
    def test_counts_give_the_outbox_by_channel_and_status_live_sessions_and_timers(self, store: StateStore):
        third = ConversationKey("whatsapp", "acme-wa", "15550004444")
        store.commit(Work(T0, None, (new(session("s1", wait=Deadline(at(60), "question"))),
                                     new(session("s2", OTHER, status="handed_over")),
                                     new(session("s3", third, status="ended"))),
                          (message(text="a1"), message(str(OTHER), "b1", "s2"), message(str(third), "c1", "s3"))))
        claimed = {r.message["text"]: r for r in store.claim_messages(at(1), 10)}
        store.settle_messages([SendResult(claimed["a1"].id, "sent", message_id="w1"),
                               SendResult(claimed["b1"].id, "failed", error_code="131047", maybe_delivered=True)], at(2))
        counts = store.counts()
        assert counts.outbox == {("whatsapp", "sent"): 1, ("whatsapp", "failed"): 1, ("whatsapp", "sending"): 1}
        assert counts.repeats == {"whatsapp": 1}
        assert counts.sessions == {"waiting": 1, "handed_over": 1}
        assert counts.timers == 1

    # ---- retention ----------------------------------------------------------------------------
    def test_pruning_removes_what_is_old_and_finished_only(self, store: StateStore):
        day = 86400
        store.commit(Work(T0, Dedupe("whatsapp", "old"), (new(session("ended-old", status="ended")),),
                          (message(text="sent-old"), message(str(OTHER), "unsent-old", "live-old")),
                          (event("flow.started"),)))
        store.commit(Work(T0, None, (new(session("live-old", OTHER)),)))
        (row,) = [r for r in store.claim_messages(at(1), 10) if r.message["text"] == "sent-old"]
        store.settle_messages([SendResult(row.id, "sent", message_id="w1")], at(1))
        store.settle_messages([SendResult(r.id, "retry", next_attempt_at=at(40 * day)) for r in store.messages()
                               if r.status == "sending"], at(1))
        recent = at(20 * day)
        store.commit(Work(recent, Dedupe("whatsapp", "new"), (), (), (event("flow.started", "s9", seconds=20 * day),)))
        pruned = store.prune(Retention(dedupe_before=at(8 * day), outbox_before=at(8 * day),
                                       sessions_before=at(10 * day), events_before=at(10 * day)))
        assert (pruned.dedupe, pruned.outbox, pruned.sessions, pruned.events) == (1, 1, 1, 1)
        assert store.seen("whatsapp", "old") is None and store.seen("whatsapp", "new") is not None
        assert texts(store.messages()) == ["unsent-old"]
        assert store.session("ended-old") is None and store.session("live-old") is not None
        assert [e.event.conversation for e in store.events()] == ["s9"]

    # ---- accounts -----------------------------------------------------------------------------
    def test_account_specs_give_the_applied_spec_json(self, store: StateStore):
        store.apply([create_account("acme-wa")], "c1", "2026-01-01T00:00:00Z")
        assert json.loads(store.account_specs()["acme-wa"]) == {"channel": "whatsapp", "id": "1001", "h": "e1e1e1e1e1e1"}
