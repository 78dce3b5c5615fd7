"""Inbound events per second through the engine and the SQLite store, beside the floor.

Each event is a text message to a conversation waiting in a 10-node flow, applied by the runtime
host exactly as `chatflow serve` applies a webhook's event (Runtime.receive: dedupe check, load
the session, the engine runs six nodes and queues two replies, then the unit of work commits:
dedupe record, session with its deadline, outbox rows). `--concurrency` conversations are in
flight at once, so units that are ready together share a transaction (group commit), as under
webhook load; `--concurrency 1` is one event at a time. The floor, in the same run on the same
disk: one-row-per-transaction SQLite inserts of the same number of bytes with the same PRAGMAs
(WAL, synchronous=NORMAL), the rate that a design committing each event alone cannot beat.

    python bench/engine.py [--events 20000] [--contacts 500] [--concurrency 32] [--logging]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.engine.engine import advance  # noqa: E402
from controller.engine.inputs import Inbound  # noqa: E402
from controller.engine.messages import Contact, InboundEvent  # noqa: E402
from controller.engine.session import Session  # noqa: E402
from controller.lifecycle.desired import desired_account, desired_flow  # noqa: E402
from controller.lifecycle.state import Action  # noqa: E402
from controller.manifests.models import Account, Flow  # noqa: E402
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


def run_engine(directory: Path, events: int, contacts: int, concurrency: int, logging: bool) -> tuple[float, int, float]:
    store, runtime, account = setup(directory / "engine.db", logging)
    addresses = [f"1555{i:07d}" for i in range(contacts)]
    ids = itertools.count()
    sizes: list[int] = []

    async def conversation(address: str, count: int) -> None:
        for _ in range(count):
            n = next(ids)
            await runtime.receive(account, [message(address, f"message {n}", n)])

    async def run(per_contact: dict[str, int]) -> float:
        gate = asyncio.Semaphore(concurrency)

        async def one(address: str, count: int) -> None:
            async with gate:
                await conversation(address, count)

        started = time.perf_counter()
        await asyncio.gather(*(one(a, c) for a, c in per_contact.items()))
        return time.perf_counter() - started

    async def main() -> float:
        await run({a: 1 for a in addresses})  # every conversation starts and waits at `ask`
        share = {a: events // contacts + (1 if i < events % contacts else 0) for i, a in enumerate(addresses)}
        return await run(share)

    elapsed = asyncio.run(main())
    for row in store.sessions(limit=50):
        sizes.append(len(json.dumps(row.session.to_json())))
    outbox = store.messages(limit=10**9)
    per_message = sum(len(json.dumps(dict(m.message))) for m in outbox[:100]) / min(100, len(outbox))
    batches, units = runtime.committer.batches, runtime.committer.units
    store.close()
    runtime.close()
    assert len(outbox) == contacts * 2 + events * 2, len(outbox)
    size = int(sum(sizes) / len(sizes) + 2 * per_message)
    return events / elapsed, size, units / batches


def run_engine_alone(directory: Path, events: int, logging: bool = False) -> float:
    """advance() alone on one waiting session, read back from JSON each time (no store): the
    share of the per-event cost that is the engine's. Execution events are built only when the
    flow logs them, as the host asks."""
    store, runtime, account = setup(directory / "alone.db", logging)
    asyncio.run(runtime.receive(account, [message("15550000001", "hi", 0)]))
    row = store.sessions(limit=1)[0]
    flow = runtime.flows.current.flows["bench"].flow
    data = json.dumps(row.session.to_json())
    now = row.session.updated_at
    started = time.perf_counter()
    for i in range(events):
        session = Session.from_json(json.loads(data))
        advance(flow, session, Inbound(text=f"message {i}"), now, record=logging)
    elapsed = time.perf_counter() - started
    store.close()
    runtime.close()
    return events / elapsed


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
    parser.add_argument("--concurrency", type=int, default=32, help="conversations in flight at once")
    parser.add_argument("--logging", action="store_true", help="the flow records execution events")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatflow-bench-") as tmp:
        rate, size, per_batch = run_engine(Path(tmp), args.events, args.contacts, args.concurrency, args.logging)
        floor = run_floor(Path(tmp), args.events, size)
        alone = run_engine_alone(Path(tmp), min(args.events, 5000), args.logging)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared with other work)")
    print(f"engine + store: {rate:,.0f} events/s  ({args.events} events, {args.contacts} conversations, "
          f"{args.concurrency} in flight, 10-node flow, logging {'on' if args.logging else 'off'}, "
          f"~{size} bytes written per event, {per_batch:.1f} events per transaction)")
    print(f"floor:          {floor:,.0f} inserts/s  (one {size}-byte row per transaction, WAL, synchronous=NORMAL)")
    print(f"ratio:          {rate / floor:.0%} of the floor (target >= 40%)")
    print(f"engine alone:   {alone:,.0f} events/s  (advance() on a session read back from JSON, no store): "
          f"{1e6 / alone:.0f} of the {1e6 / rate:.0f} microseconds per event")


if __name__ == "__main__":
    main()
