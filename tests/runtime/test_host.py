"""The runtime host in-process over a real SQLite store: group commit, order per conversation,
concurrency across conversations, blocking services off the event loop, the live set."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from controller.engine.http import HttpClient
from controller.engine.messages import Contact, InboundEvent
from controller.engine.services import Services
from controller.lifecycle.desired import desired_account, desired_flow
from controller.lifecycle.state import Action
from controller.manifests.models import Account, Flow
from controller.manifests.revision import flow_revision
from controller.runtime import committer
from controller.runtime.host import Runtime
from controller.runtime.live import LiveFlows, flow_model
from controller.store.records import EventQuery
from controller.store.sqlite import SQLiteStore

from ..engine.fakeserver import Answer, FakeServer

NOW = "2026-01-01T00:00:00Z"
ACCOUNT = {"apiVersion": "chatflow/v1", "kind": "Account", "metadata": {"name": "wa"},
           "spec": {"channel": "whatsapp", "credentials": {"accessToken": {"env": "T"}, "appSecret": {"env": "S"},
                                                           "verifyToken": {"env": "V"}},
                    "whatsapp": {"phoneNumberId": "106540352242922"}}}
ASK = {
    "start": {"type": "start", "next": "ask"},
    "ask": {"type": "question", "text": "Your name?", "save_as": "name", "next": "hello"},
    "hello": {"type": "message", "text": "Hello {{ vars.name }}", "next": "again"},
    "again": {"type": "goto", "target": "ask", "max_jumps": 50, "next": "done"},
    "done": {"type": "end"},
}


def flow_doc(name: str, nodes: dict[str, Any], logging: bool = False, keywords: tuple[str, ...] = (),
             variables: dict[str, Any] | None = None) -> Flow:
    return Flow.model_validate({"apiVersion": "chatflow/v1", "kind": "Flow", "metadata": {"name": name},
                                "spec": {"state": "published", "logging": logging,
                                         "trigger": {"type": "whatsapp", "account": "wa", "keywords": list(keywords)},
                                         "variables": variables or {}, "nodes": nodes}})


def publish(store: SQLiteStore, flow: Flow) -> None:
    f = desired_flow(flow)
    store.apply([Action("Flow", flow.name, "create", trigger="whatsapp", logging=f.logging, keywords=f.keywords,
                        revision=f.revision, spec_json=f.spec_json),
                 Action("Flow", flow.name, "bind", account="wa"),
                 Action("Flow", flow.name, "publish", revision=f.revision, spec_json=f.spec_json, keywords=f.keywords)],
                "c1", NOW)


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "state.db")
    a = desired_account(Account.model_validate(ACCOUNT))
    s.apply([Action("Account", "wa", "create-account", channel=a.channel, channel_id=a.channel_id,
                    spec_hash=a.spec_hash, spec_json=a.spec_json)], "c1", NOW)
    yield s
    s.close()


def host(store: SQLiteStore, services: Services | None = None) -> Runtime:
    return Runtime(store, LiveFlows(store), services or Services())


def calling(store: SQLiteStore, nodes: dict[str, Any]) -> tuple[Runtime, HttpClient, Account]:
    """A host with a real HTTP client, serving the published flow `calls` made of `nodes`."""
    publish(store, flow_doc("calls", nodes))
    http = HttpClient()
    rt = host(store, Services(http=http))
    return rt, http, rt.flows.current.accounts["wa"]


def text(address: str, body: str, n: int) -> InboundEvent:
    return InboundEvent(channel="whatsapp", account_channel_id="106540352242922", kind="message",
                        contact=Contact(address, "Ana"), message_id=f"wamid.{address}.{n}", type="text", text=body)


def replies(store: SQLiteStore, address: str) -> list[str]:
    return [m.message["text"] for m in store.messages() if m.to == address]


def test_units_ready_together_share_one_transaction(store):
    publish(store, flow_doc("names", ASK))
    rt = host(store)
    account = rt.flows.current.accounts["wa"]

    async def burst() -> None:
        await asyncio.gather(*(rt.receive(account, [text(f"1555{i:04d}", "hi", 0)]) for i in range(40)))

    asyncio.run(burst())
    assert len(store.sessions(status="live")) == 40
    assert all(replies(store, f"1555{i:04d}") == ["Your name?"] for i in range(40))
    assert rt.committer.units == 40 and rt.committer.batches < 40
    rt.close()


def test_a_batch_that_finds_the_write_lock_taken_lets_the_loop_go_on_and_lands_when_it_is_free(store, tmp_path):
    publish(store, flow_doc("names", ASK))
    rt = host(store)
    account = rt.flows.current.accounts["wa"]
    worker = sqlite3.connect(tmp_path / "state.db", isolation_level=None)  # the outbox worker's process, writing

    async def scene() -> None:
        worker.execute("BEGIN IMMEDIATE")
        first = [asyncio.create_task(rt.receive(account, [text(f"1555{i:04d}", "hi", 0)])) for i in range(3)]
        while rt.committer.busy < 3:  # the loop turns (this coroutine runs) while the batch waits
            await asyncio.sleep(0)
        assert not any(t.done() for t in first)
        late = asyncio.create_task(rt.receive(account, [text("15559999", "hi", 0)]))
        await asyncio.sleep(0.01)
        worker.execute("COMMIT")
        await asyncio.gather(*first, late)

    asyncio.run(scene())
    worker.close()
    assert all(replies(store, address) == ["Your name?"] for address in ("15550000", "15550001", "15550002", "15559999"))
    assert rt.committer.batches == 1 and rt.committer.units == 4  # the late one joined the waiting batch
    rt.close()


def test_a_batch_kept_waiting_past_the_patience_waits_for_the_lock_and_lands(store, tmp_path, monkeypatch):
    monkeypatch.setattr(committer, "BUSY_PATIENCE", 0.0)
    publish(store, flow_doc("names", ASK))
    rt = host(store)
    account = rt.flows.current.accounts["wa"]
    worker = sqlite3.connect(tmp_path / "state.db", isolation_level=None, check_same_thread=False)
    worker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, lambda: worker.execute("COMMIT"))
    release.start()
    asyncio.run(rt.receive(account, [text("15550001", "hi", 0)]))
    release.join()
    worker.close()
    assert replies(store, "15550001") == ["Your name?"]
    assert rt.committer.busy == 1  # tried once without waiting, then waited in SQLite's busy handler
    rt.close()


def test_events_of_one_conversation_apply_in_arrival_order(store):
    publish(store, flow_doc("names", ASK))
    rt = host(store)
    account = rt.flows.current.accounts["wa"]

    async def chat() -> None:
        await asyncio.gather(*(rt.receive(account, [text("15550001", body, n)])
                               for n, body in enumerate(["hi", "Ana", "Bo", "Cy"])))

    asyncio.run(chat())
    assert replies(store, "15550001") == ["Your name?", "Hello Ana", "Your name?", "Hello Bo", "Your name?",
                                          "Hello Cy", "Your name?"]
    rt.close()


def test_a_blocking_http_call_runs_off_the_event_loop_and_other_conversations_go_on(store):
    with FakeServer() as api:
        api.routes["/slow"] = Answer(200, {"who": "the slow API"}, delay=1.0)
        nodes = {
            "start": {"type": "start", "next": "route"},
            "route": {"type": "condition", "branches": [{"when": "message.text == 'slow'", "next": "call"}],
                      "default": "quick"},
            "call": {"type": "http", "url": api.url + "/slow", "save": {"who": "who"}, "next": "said",
                     "on_failure": "quick"},
            "said": {"type": "message", "text": "Answer from {{ vars.who }}", "next": "done"},
            "quick": {"type": "message", "text": "Quick answer", "next": "done"},
            "done": {"type": "end"},
        }
        rt, http, account = calling(store, nodes)
        finished: dict[str, float] = {}

        async def one(address: str, body: str) -> None:
            await rt.receive(account, [text(address, body, 0)])
            finished[address] = time.monotonic()

        async def both() -> None:
            await asyncio.gather(one("15550001", "slow"), one("15550002", "fast"))

        asyncio.run(both())
        http.close()
        rt.close()
    assert replies(store, "15550001") == ["Answer from the slow API"]
    assert replies(store, "15550002") == ["Quick answer"]
    assert finished["15550002"] < finished["15550001"] - 0.5  # the slow call did not hold the loop


def test_a_redelivery_is_applied_once_also_inside_a_batch_of_others(store):
    publish(store, flow_doc("names", ASK))
    rt = host(store)
    account = rt.flows.current.accounts["wa"]

    async def deliveries() -> None:
        await rt.receive(account, [text("15550001", "hi", 0)])
        # the same message again, twice in one batch with new contacts' first messages
        await asyncio.gather(*(rt.receive(account, [text(a, "hi", 0)])
                               for a in ("15550001", "15550002", "15550001", "15550003")))

    asyncio.run(deliveries())
    assert replies(store, "15550001") == ["Your name?"]  # not "Hello hi": the redelivery was no answer
    assert replies(store, "15550002") == replies(store, "15550003") == ["Your name?"]
    rt.close()


def test_a_redelivery_does_not_call_an_http_node_again(store):
    with FakeServer() as api:
        api.routes["/lookup"] = Answer(200, {"who": "the API"})
        nodes = {
            "start": {"type": "start", "next": "call"},
            "call": {"type": "http", "url": api.url + "/lookup", "save": {"who": "who"}, "next": "said",
                     "on_failure": "said"},
            "said": {"type": "message", "text": "Answer from {{ vars.who }}", "next": "done"},
            "done": {"type": "end"},
        }
        rt, http, account = calling(store, nodes)

        async def twice() -> None:
            for _ in range(2):
                await rt.receive(account, [text("15550001", "hi", 0)])

        asyncio.run(twice())
        http.close()
        rt.close()
    assert replies(store, "15550001") == ["Answer from the API"]
    assert len(api.seen) == 1


def test_execution_events_are_kept_only_for_flows_that_log(store):
    publish(store, flow_doc("logged", ASK, logging=True, keywords=("logged",)))
    publish(store, flow_doc("quiet", ASK, logging=False))
    rt = host(store)
    account = rt.flows.current.accounts["wa"]

    async def two() -> None:
        await rt.receive(account, [text("15550001", "logged", 0)])
        await rt.receive(account, [text("15550002", "hello", 0)])

    asyncio.run(two())
    flows = {r.event.flow for r in store.events(EventQuery())}
    assert flows == {"logged"}
    rt.close()


def test_the_live_set_runs_exactly_the_published_revision(store):
    flow = flow_doc("names", {**ASK, "ask": {**ASK["ask"], "timeout": {"after": "1h", "next": "done"}}})
    publish(store, flow)
    live = LiveFlows(store).current.flows["names"]
    assert live.revision == flow_revision(flow)
    assert flow_revision(flow_model("names", store.revision("names", live.revision).spec_json)) == live.revision


def test_a_refresh_swaps_the_live_set_whole(store):
    flows = LiveFlows(store)
    before = flows.current
    publish(store, flow_doc("names", ASK))
    after = flows.refresh()
    assert "names" not in before.flows and "names" in after.flows and flows.current is after
    assert [f.name for f in after.by_account["wa"]] == ["names"]
    assert json.loads(store.account_specs()["wa"])["channel"] == "whatsapp"


def test_start_flow_hands_the_contact_to_another_published_flow_in_the_same_transaction(store):
    publish(store, flow_doc("first", {
        "start": {"type": "start", "next": "hi"},
        "hi": {"type": "message", "text": "Passing you on", "next": "hop"},
        "hop": {"type": "start_flow", "flow": "second", "variables": {"topic": "'billing'"}},
    }))
    publish(store, flow_doc("second", ASK, keywords=("second",), variables={"topic": {"type": "string"}}))
    rt = host(store)
    asyncio.run(rt.receive(rt.flows.current.accounts["wa"], [text("15550001", "hello", 0)]))
    assert replies(store, "15550001") == ["Passing you on", "Your name?"]
    rows = {r.session.flow: r.session for r in store.sessions()}
    assert (rows["first"].status, rows["first"].outcome) == ("ended", "start_flow")
    assert (rows["second"].status, rows["second"].node, dict(rows["second"].trigger)) == ("waiting", "ask",
                                                                                            {"topic": "billing"})
    assert rt.committer.batches == 1
    rt.close()


def test_a_session_another_writer_changed_is_read_again_not_overwritten(store, tmp_path):
    publish(store, flow_doc("ask", ASK))
    mine = host(store)
    other_store = SQLiteStore(tmp_path / "state.db")  # another process on the same file
    other = host(other_store)

    def say(rt: Runtime, body: str, n: int) -> None:
        asyncio.run(rt.receive(rt.flows.current.accounts["wa"], [text("15550001", body, n)]))

    say(mine, "hi", 0)
    say(mine, "Ana", 1)  # this host now remembers the session as it wrote it
    say(other, "Bob", 2)  # ...which the other process moves on
    say(mine, "Cy", 3)  # a stale copy would overwrite Bob's step; the compare-and-set catches it
    assert replies(store, "15550001") == ["Your name?", "Hello Ana", "Your name?", "Hello Bob", "Your name?",
                                          "Hello Cy", "Your name?"]
    (row,) = store.sessions(status="live")
    assert row.session.vars["name"] == "Cy" and row.version == 4
    mine.close()
    other.close()
    other_store.close()


def test_a_conversation_ended_elsewhere_starts_afresh_on_the_next_message(store, tmp_path):
    publish(store, flow_doc("ask", ASK, keywords=("hi",)))
    mine = host(store)
    other_store = SQLiteStore(tmp_path / "state.db")
    other = host(other_store)
    account = mine.flows.current.accounts["wa"]
    asyncio.run(mine.receive(account, [text("15550001", "hi", 0)]))
    (row,) = store.sessions(status="live")
    asyncio.run(other.end(row.id))  # an operator ends it through the other process
    asyncio.run(mine.receive(account, [text("15550001", "hi", 1)]))
    assert replies(store, "15550001") == ["Your name?", "Your name?"]
    live = store.sessions(status="live")
    assert len(live) == 1 and live[0].id != row.id and live[0].session.message.text == "hi"
    mine.close()
    other.close()
    other_store.close()


def test_the_recent_sessions_kept_are_bounded_least_recently_used_first():
    import datetime as dt

    from controller.engine.session import ConversationKey, Session
    from controller.runtime.recent import RecentSessions
    from controller.store.records import SessionRow, SessionWrite

    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    def session(n: int, status: str = "waiting") -> Session:
        return Session(f"s{n}", ConversationKey("whatsapp", "wa", f"1555{n}"), "f", "r", "ask", status, at, at)

    recent = RecentSessions(size=2)
    recent.wrote([SessionWrite(session(1), None), SessionWrite(session(2), None)])
    assert recent.get(session(1).key).version == 1  # 1 is now the most recently used
    recent.read(SessionRow(session(3), 7))
    assert recent.get(session(2).key) is None and recent.get(session(3).key).version == 7
    recent.wrote([SessionWrite(session(3), 7)])
    assert recent.get(session(3).key).version == 8
    recent.wrote([SessionWrite(session(3), 5)])  # written at a version it was not read at: not known
    assert recent.get(session(3).key) is None
    recent.wrote([SessionWrite(session(1, "ended"), 1)])
    assert recent.get(session(1).key) is None


def test_a_contact_whose_session_another_process_started_is_answered_in_it_not_given_a_second(store, tmp_path):
    publish(store, flow_doc("ask", ASK))
    mine = host(store)  # started before the conversation: its filter has never seen the contact
    other_store = SQLiteStore(tmp_path / "state.db")
    other = host(other_store)
    account = mine.flows.current.accounts["wa"]
    asyncio.run(other.receive(account, [text("15550001", "hi", 0)]))
    asyncio.run(mine.receive(account, [text("15550001", "Ana", 1)]))
    assert replies(store, "15550001") == ["Your name?", "Hello Ana", "Your name?"]
    (row,) = store.sessions()
    assert row.session.vars["name"] == "Ana"
    assert mine.rebuilds == 1  # built as a new contact, refused by the store, built again from what it holds
    mine.close()
    other.close()
    other_store.close()


def test_sessions_live_at_start_are_known_without_a_rebuild(store):
    publish(store, flow_doc("ask", ASK))
    before = host(store)
    account = before.flows.current.accounts["wa"]
    asyncio.run(before.receive(account, [text("15550001", "hi", 0)]))
    before.close()
    after = host(store)  # a restart: the live sessions are loaded into its filter
    asyncio.run(after.receive(account, [text("15550001", "Ana", 1)]))
    asyncio.run(after.receive(account, [text("15550002", "hi", 2)]))
    assert replies(store, "15550001") == ["Your name?", "Hello Ana", "Your name?"]
    assert replies(store, "15550002") == ["Your name?"]
    assert after.rebuilds == 0
    after.close()


def test_a_message_that_starts_no_flow_still_finds_the_session_another_process_started(store, tmp_path):
    publish(store, flow_doc("ask", ASK, keywords=("hi",)))  # only "hi" starts it
    mine = host(store)  # its filter has never seen the contact
    other_store = SQLiteStore(tmp_path / "state.db")
    other = host(other_store)
    account = mine.flows.current.accounts["wa"]
    asyncio.run(other.receive(account, [text("15550001", "hi", 0)]))
    asyncio.run(mine.receive(account, [text("15550001", "Ana", 1)]))  # starts nothing: no insert to conflict
    assert replies(store, "15550001") == ["Your name?", "Hello Ana", "Your name?"]
    assert mine.rebuilds == 0
    mine.close()
    other.close()
    other_store.close()
