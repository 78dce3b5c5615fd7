"""`chatflow serve`'s webhook path without HTTP: ASGI calls straight into the server's app (the
same Service, lifespan and store as `chatflow serve`; no uvicorn, no sockets), N connections in a
closed loop, each request a signed WhatsApp text from a new contact (bench/webhooks.py's).

Prints the process's CPU time per webhook (all threads), the rate, the webhooks per group commit,
and how long the group commits held the event loop (`--connections 8` gives the ~8 webhooks per
commit that the HTTP bench sees). The figure to compare between two versions
of the code: run both alternately, several times (`--repeat`), on the same machine.

    python bench/webhooks_inprocess.py [--messages 8000] [--connections 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webhooks as wire  # noqa: E402  (the payloads, account and flow of the HTTP bench)


def service(tmp: Path):
    repo = tmp / "repo"
    (repo / "flows.d").mkdir(parents=True)
    (repo / "flows.d" / "account.yaml").write_text(wire.ACCOUNT.format(phone_id=wire.PHONE_ID, api="http://127.0.0.1:9"))
    (repo / "flows.d" / "welcome.yaml").write_text(wire.FLOW)
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *cmd], cwd=repo, env=wire.GIT_ENV, check=True)
    os.environ.update(BENCH_WA_TOKEN="t", BENCH_WA_SECRET=wire.SECRET, BENCH_WA_VERIFY="v",
                      CHATFLOW_POLL_INTERVAL="1h",
                      CHATFLOW_SEND_RATE="0.001")  # the outbox worker sends (almost) nothing meanwhile
    from controller.logs import configure
    from controller.web.server import ServeConfig, Service

    configure(json_lines=True)
    return Service(ServeConfig(repo=str(repo)))


def signed(count: int, seed: str) -> list[tuple[bytes, bytes]]:
    out = []
    for raw in wire.requests(count, seed):
        head, body = raw.split(b"\r\n\r\n", 1)
        sig = next(l.split(b": ", 1)[1] for l in head.split(b"\r\n") if l.lower().startswith(b"x-hub-signature-256"))
        out.append((sig, body))
    return out


async def call(app, sig: bytes, body: bytes) -> None:
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)

    status: list[int] = []

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/webhooks/whatsapp/wa", "raw_path": b"/webhooks/whatsapp/wa", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8080),
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"x-hub-signature-256", sig), (b"content-length", str(len(body)).encode())]}
    await app(scope, receive, send)
    assert status == [200], status


async def measure(svc, requests: list[tuple[bytes, bytes]], connections: int, warmup: int) -> dict:
    commits: list[float] = []
    store = svc.store
    commit_many = store.commit_many

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return commit_many(*args, **kwargs)
        finally:
            commits.append(time.perf_counter() - started)

    store.commit_many = timed  # the committer calls it through the store
    async with svc._lifespan(svc.app):
        while not svc.loop.state.ready:
            await asyncio.sleep(0.05)
        queue = list(reversed(requests))

        async def connection(items):
            while items:
                await call(svc.app, *items.pop())

        warm = [queue.pop() for _ in range(warmup)]
        await asyncio.gather(*(connection(warm) for _ in range(connections)))
        commits.clear()
        units0, batches0 = svc.runtime.committer.units, svc.runtime.committer.batches
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(connection(queue) for _ in range(connections)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        units = svc.runtime.committer.units - units0
        batches = svc.runtime.committer.batches - batches0
    n = len(requests) - warmup
    commits.sort()
    return {"cpu_us_per_webhook": cpu / n * 1e6, "rate": n / wall, "per_commit": units / max(batches, 1),
            "commit_p50_ms": commits[len(commits) // 2] * 1e3, "commit_p99_ms": commits[int(len(commits) * 0.99)] * 1e3,
            "commit_max_ms": commits[-1] * 1e3, "commits": len(commits),
            "stalls": sum(1 for c in commits if c > 3 * commits[len(commits) // 2])}


def run_once(messages: int, connections: int, warmup: int, seed: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="chatflow-inproc-") as tmp:
        svc = service(Path(tmp))
        return asyncio.run(measure(svc, signed(messages + warmup, seed), connections, warmup))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=8000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:  # one run in a fresh process: the figures of one run must not warm the next
        print(json.dumps(run_once(args.messages, args.connections, args.warmup, "3")))
        return
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, __file__, "--once", "--messages", str(args.messages), "--connections",
                              str(args.connections), "--warmup", str(args.warmup)],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    for r in runs:
        print(f"run: {r['cpu_us_per_webhook']:.0f} us CPU per webhook, {r['rate']:,.0f} webhooks/s, "
              f"{r['per_commit']:.1f} per commit; group commits p50 {r['commit_p50_ms']:.2f} ms, "
              f"p99 {r['commit_p99_ms']:.2f} ms, max {r['commit_max_ms']:.2f} ms; "
              f"{r['stalls']} of {r['commits']} over 3x the median")
    print(f"median: {statistics.median(r['cpu_us_per_webhook'] for r in runs):.0f} us CPU per webhook "
          f"({args.messages} webhooks, {args.connections} connections, {args.repeat} runs)")


if __name__ == "__main__":
    main()
