"""Inbound events per second through the engine and the SQLite store, beside the floor.

Each event is a text message to a conversation waiting in a 10-node flow: the host's unit of work
as `chatflow serve` runs it in its worker threads (dedupe check, load the session, the engine runs
six nodes and queues two replies, then ONE transaction writes the dedupe record, the session, the
outbox rows and the timer). The floor, measured in the same run on the same disk: one-row-per-
transaction SQLite inserts of the same number of bytes with the same PRAGMAs (WAL,
synchronous=NORMAL) — the rate no durable per-event design can beat.

    python bench/engine.py [--events 20000] [--contacts 500] [--logging]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.engine.messages import Contact, InboundEvent  # noqa: E402
from controller.lifecycle.desired import desired_account, desired_flow  # noqa: E402
from controller.lifecycle.state import Action  # noqa: E402
from controller.manifests.models import Account, Flow  # noqa: E402
from controller.runtime import inbound  # noqa: E402
from controller.runtime.host import Runtime  # noqa: E402
from controller.runtime.live import LiveFlows  # noqa: E402
from controller.store.sqlite import SQLiteStore  # noqa: E402

FLOW = {
    "apiVersion": "chatflow/v1", "kind": "Flow", "metadata": {"name": "bench"},
    "spec": {
        "state": "published", "trigger": {"type": "whatsapp", "account": "wa"}, "logging": False,
        "nodes": {
            "start": {"type": "start", "next": "greet"},
            "greet": {"type": "message", "text": "Hi {{ contact.name }}!", "next": "ask"},
            "ask": {"type": "question", "text": "Say something (or stop)", "save_as": "said", "next": "check",
                    "timeout": {"after": "1h", "next": "bye"}},
            "check": {"type": "condition", "branches": [{"when": "vars.said == 'stop'", "next": "bye"}],
                      "default": "count"},
            "count": {"type": "set", "values": {"n": "(vars.n or 0) + 1"}, "next": "tag"},
            "tag": {"type": "set", "values": {"last": "vars.said | upper"}, "next": "echo"},
            "echo": {"type": "message", "text": "You said {{ vars.said }} ({{ vars.n }} so far)", "next": "loop"},
            "loop": {"type": "goto", "target": "ask", "max_jumps": 1000, "next": "bye"},
            "bye": {"type": "message", "text": "Bye!", "next": "done"},
            "done": {"type": "end"},
        },
    },
}
ACCOUNT = {
    "apiVersion": "chatflow/v1", "kind": "Account", "metadata": {"name": "wa"},
    "spec": {"channel": "whatsapp", "credentials": {"accessToken": {"env": "T"}, "appSecret": {"env": "S"},
                                                    "verifyToken": {"env": "V"}},
             "whatsapp": {"phoneNumberId": "106540352242922"}},
}


def setup(path: Path, logging: bool) -> tuple[SQLiteStore, Runtime, Account]:
    store = SQLiteStore(path)
    doc = json.loads(json.dumps(FLOW))
    doc["spec"]["logging"] = logging
    flow = Flow.model_validate(doc)
    account = Account.model_validate(ACCOUNT)
    a, f = desired_account(account), desired_flow(flow)
    now = "2026-01-01T00:00:00Z"
    store.apply([Action("Account", "wa", "create-account", channel=a.channel, channel_id=a.channel_id,
                        spec_hash=a.spec_hash, spec_json=a.spec_json)], "bench", now)
    store.apply([Action("Flow", "bench", "create", trigger="whatsapp", logging=logging, keywords=(),
                        revision=f.revision, spec_json=f.spec_json),
                 Action("Flow", "bench", "bind", account="wa"),
                 Action("Flow", "bench", "publish", revision=f.revision, spec_json=f.spec_json, keywords=())],
                "bench", now)
    runtime = Runtime(store, LiveFlows(store))
    return store, runtime, runtime.flows.current.accounts["wa"]


def message(address: str, text: str, n: int) -> InboundEvent:
    return InboundEvent(channel="whatsapp", account_channel_id="106540352242922", kind="message",
                        contact=Contact(address, "Ana", f"+{address}"), message_id=f"wamid.bench{n}",
                        type="text", text=text)


def run_engine(directory: Path, events: int, contacts: int, logging: bool) -> tuple[float, int]:
    store, runtime, account = setup(directory / "engine.db", logging)
    addresses = [f"1555{i:07d}" for i in range(contacts)]
    ids = itertools.count()

    def one(address: str, text: str) -> int:
        unit = inbound.build(runtime, account, message(address, text, next(ids)))
        assert unit.work is not None
        done = store.commit(unit.work)
        assert done.applied, done
        return len(json.dumps([s.session.to_json() for s in unit.work.sessions])) + sum(
            len(json.dumps(dict(m.message))) for m in unit.work.messages)

    for address in addresses:  # start every conversation; it waits at `ask`
        one(address, "hi")
    sizes = []
    started = time.perf_counter()
    for i in range(events):
        sizes.append(one(addresses[i % contacts], f"message {i}"))
    elapsed = time.perf_counter() - started
    outbox = len(store.messages(limit=10**9))
    store.close()
    runtime.close()
    assert outbox == contacts * 2 + events * 2, outbox
    return events / elapsed, sum(sizes) // len(sizes)


def run_floor(directory: Path, rows: int, size: int) -> float:
    conn = sqlite3.connect(directory / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT NOT NULL)")
    payload = "x" * size
    started = time.perf_counter()
    for _ in range(rows):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (data) VALUES (?)", (payload,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--logging", action="store_true", help="the flow records execution events")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatflow-bench-") as tmp:
        rate, size = run_engine(Path(tmp), args.events, args.contacts, args.logging)
        floor = run_floor(Path(tmp), args.events, size)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared)")
    print(f"engine + store: {rate:,.0f} events/s  ({args.events} events, {args.contacts} conversations, "
          f"10-node flow, logging {'on' if args.logging else 'off'}, {size} bytes written per event)")
    print(f"floor:          {floor:,.0f} inserts/s  (one {size}-byte row per transaction, WAL, synchronous=NORMAL)")
    print(f"ratio:          {rate / floor:.0%} of the floor (target >= 40%)")


if __name__ == "__main__":
    main()
