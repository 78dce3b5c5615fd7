"""Signed WhatsApp text webhooks, each from a new contact, at `chatflow serve`, beside a bare
starlette endpoint that only reads the body, in the same run.

Four processes: the server under test (`chatflow serve`, one uvicorn worker, SQLite state), a
fake Graph API that answers every send and counts the replies per contact, the load generator
(keep-alive HTTP/1.1 over N connections, requests signed beforehand), and this driver. Reports
messages/s, p50/p99 latency, the ratio to the bare endpoint, the server's memory, and the replies
counted at the fake API (none may be missing or repeated).

    python bench/webhooks.py [--messages 5000] [--connections 32] [--rounds 3] [--rate 0] [--send-concurrency 16]

`--rate R` paces the load at R requests/s (open loop) instead of as fast as answers come back.
Each round measures the bare endpoint, then `chatflow serve` (the same server throughout, new
contacts each round); the ratio is taken within a round, and the summary gives the medians, so a
slow moment of a shared machine moves one round, not the result.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import importlib.util
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-app-secret"
PHONE_ID = "106540352242922"
ACCOUNT = """\
apiVersion: chatflow/v1
kind: Account
metadata: {{name: wa}}
spec:
  channel: whatsapp
  credentials: {{accessToken: {{env: BENCH_WA_TOKEN}}, appSecret: {{env: BENCH_WA_SECRET}}, verifyToken: {{env: BENCH_WA_VERIFY}}}}
  whatsapp: {{phoneNumberId: "{phone_id}"}}
  apiBase: {api}
"""
FLOW = """\
apiVersion: chatflow/v1
kind: Flow
metadata: {name: welcome}
spec:
  state: published
  trigger: {type: whatsapp, account: wa}
  nodes:
    start: {type: start, next: ask}
    ask: {type: question, text: "Hi {{ contact.name }}! What is your order number?", expect: number, save_as: order, next: done}
    done: {type: end}
"""
REPLIES = 1  # the flow answers each new contact once, then waits
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}


def http_stack() -> str:
    """What uvicorn runs both endpoints on: with http and loop left at "auto", as serve leaves them,
    it takes httptools and uvloop whenever they are installed (`pip install -e '.[fast]'`)."""
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{parser} on {loop}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the fake Graph API (its own process) ---------------------------------------------------------


def fake_graph_app():
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    counts: dict[str, int] = {}

    async def send(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        to = body["to"]
        counts[to] = counts.get(to, 0) + 1
        n = sum(counts.values())
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                             "messages": [{"id": f"wamid.bench{n}"}]})

    async def count(request: Request) -> JSONResponse:
        return JSONResponse(counts)

    return Starlette(routes=[Route("/{version}/{phone}/messages", send, methods=["POST"]), Route("/counts", count)])


def bare_app():
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hook(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"received": 1})

    return Starlette(routes=[Route("/webhooks/whatsapp/wa", hook, methods=["POST"])])


def serve_app(kind: str, port: int) -> None:
    import uvicorn

    if kind == "fake":
        # In production the Graph API is Meta's servers, not this machine's CPU: the stand-in
        # must not take the CPU time that chatflow serve needs (it is still fast enough to answer)
        os.nice(10)

    app = fake_graph_app() if kind == "fake" else bare_app()
    # the bare endpoint runs on uvicorn exactly as `chatflow serve` configures it (no access log)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---- the load generator (its own process) ---------------------------------------------------------


def requests(count: int, seed: str) -> list[bytes]:
    out = []
    for i in range(count):
        wa_id = f"1{seed}{i:09d}"
        doc = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
                "contacts": [{"profile": {"name": "Ana"}, "wa_id": wa_id}],
                "messages": [{"from": wa_id, "timestamp": "1749416383", "id": f"wamid.{seed}{i:09d}",
                              "type": "text", "text": {"body": "hello"}}]}}]}]}
        raw = json.dumps(doc).encode()
        signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        out.append(b"POST /webhooks/whatsapp/wa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"X-Hub-Signature-256: sha256=" + signature.encode() + b"\r\nContent-Length: "
                   + str(len(raw)).encode() + b"\r\n\r\n" + raw)
    return out


async def _connection(port: int, queue: asyncio.Queue, latencies: list[float], statuses: dict[int, int],
                      pace: "Pacer | None") -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                request = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if pace is not None:
                await pace.turn()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


class Pacer:
    """Open-loop pacing: request k may start at `start + k / rate`, whatever came back."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.start = time.perf_counter()
        self.n = 0

    async def turn(self) -> None:
        at = self.start + self.n / self.rate
        self.n += 1
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


async def _load(port: int, payloads: list[bytes], connections: int, rate: float) -> dict:
    queue: asyncio.Queue = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    pace = Pacer(rate) if rate > 0 else None
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, queue, latencies, statuses, pace) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000, "statuses": statuses, "count": len(latencies)}


def load_main(port: int, count: int, connections: int, seed: str, rate: float, warmup: int) -> None:
    payloads = requests(count + warmup, seed)
    if warmup:
        asyncio.run(_load(port, payloads[:warmup], connections, 0))
    print(json.dumps(asyncio.run(_load(port, payloads[warmup:], connections, rate))))


# ---- the driver -----------------------------------------------------------------------------------


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} did not open")


WRK_SCRIPT = Path(__file__).with_suffix(".lua")
WRK_INSTALL = "apt-get install wrk (Debian/Ubuntu) or brew install wrk (macOS)"


def _wrk(port: int, payloads: list[bytes], connections: int, rate: float, tmp: Path) -> dict:
    data, offsets = tmp / "requests.bin", tmp / "offsets.txt"
    at, lines = 0, []
    for p in payloads:
        lines.append(f"{at} {len(p)}")
        at += len(p)
    data.write_bytes(b"".join(payloads))
    offsets.write_text("\n".join(lines) + "\n")
    # one connection per wrk thread (the script pairs each request with its answer); the run ends
    # when the script has every answer, well before the duration given here
    out = subprocess.run(["wrk", "-t", str(connections), "-c", str(connections), "-d", "600s", "--timeout", "60s",
                          "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}/", "--", str(data), str(offsets),
                          str(connections), str(rate)], capture_output=True, text=True, check=True, timeout=660)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")
    result = json.loads(line[len("RESULT "):])
    result["statuses"] = {int(k): v for k, v in result["statuses"].items()}
    return result


def run_load(port: int, count: int, connections: int, seed: str, rate: float, warmup: int, loadgen: str,
             tmp: Path) -> dict:
    """One measured run (after `warmup` requests); adds the load generator's CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    if loadgen == "wrk":
        payloads = requests(count + warmup, seed)
        if warmup:
            _wrk(port, payloads[:warmup], connections, 0, tmp)
        result = _wrk(port, payloads[warmup:], connections, rate, tmp)
    else:
        out = subprocess.run([sys.executable, __file__, "--load", str(port), "--messages", str(count), "--connections",
                              str(connections), "--seed", seed, "--rate", str(rate), "--warmup", str(warmup)],
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")}
    return values.get("VmRSS", 0) / 1024, values.get("VmHWM", 0) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children that it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_replies(fake_port: int, count: int, timeout: float) -> bool:
    """Until the fake API has counted `count` replies; False if `timeout` seconds passed first."""
    deadline = time.monotonic() + timeout
    while sum(counts(fake_port).values()) < count:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def counts(fake_port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{fake_port}/counts", timeout=10) as r:
        return json.loads(r.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0, help="open-loop requests/s (0: closed loop)")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 8), metavar="{1..7}",
                        help="bare-then-chatflow rounds; the summary gives the medians")
    parser.add_argument("--send-concurrency", type=int, default=16,
                        help="CHATFLOW_SEND_CONCURRENCY for the server (default: serve's own default)")
    parser.add_argument("--loadgen", choices=["wrk", "python"], default=None,
                        help="load generator for both endpoints (default: wrk when installed, else python)")
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--app", choices=["fake", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", default="0", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load, args.messages, args.connections, args.seed, args.rate, args.warmup)
        return
    if args.app:
        serve_app(args.app, args.port)
        return

    loadgen = args.loadgen or ("wrk" if shutil.which("wrk") else "python")
    if loadgen == "wrk" and not shutil.which("wrk"):
        raise SystemExit(f"error: wrk is not installed ({WRK_INSTALL}); or pass --loadgen python")
    procs: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory(prefix="chatflow-bench-") as tmp:
            fake_port, bare_port, serve_port = free_port(), free_port(), free_port()
            procs.append(subprocess.Popen([sys.executable, __file__, "--app", "fake", "--port", str(fake_port)]))
            procs.append(subprocess.Popen([sys.executable, __file__, "--app", "bare", "--port", str(bare_port)]))
            repo = Path(tmp) / "repo"
            (repo / "flows.d").mkdir(parents=True)
            (repo / "flows.d" / "account.yaml").write_text(ACCOUNT.format(phone_id=PHONE_ID, api=f"http://127.0.0.1:{fake_port}"))
            (repo / "flows.d" / "welcome.yaml").write_text(FLOW)
            for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
                subprocess.run(["git", *cmd], cwd=repo, env=GIT_ENV, check=True)
            env = {**os.environ, "BENCH_WA_TOKEN": "token", "BENCH_WA_SECRET": SECRET, "BENCH_WA_VERIFY": "verify",
                   "CHATFLOW_POLL_INTERVAL": "1h", "PYTHONPATH": str(ROOT),
                   # WhatsApp's default is 80 sends/s per number (1,000 after an upgrade): lift it so the
                   # bench measures chatflow, not the rate limit
                   "CHATFLOW_SEND_RATE": "100000",
                   # serve's default unless told: with fewer, sending falls further behind receiving
                   "CHATFLOW_SEND_CONCURRENCY": str(args.send_concurrency)}
            log = open(Path(tmp) / "serve.log", "w")
            server = subprocess.Popen([sys.executable, "-m", "controller", "serve", "--repo", str(repo), "--port",
                                       str(serve_port)], cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
            procs.append(server)
            wait_http(f"http://127.0.0.1:{fake_port}/counts")
            wait_http(f"http://127.0.0.1:{serve_port}/readyz")
            wait_port(bare_port)
            time.sleep(0.5)
            worker = children(server.pid)
            watched = {"server": server.pid, "fake API": procs[0].pid, **{"outbox worker": w for w in worker}}
            used = dict.fromkeys(watched, 0.0)
            rounds: list[tuple[dict, dict]] = []
            outbox: list[tuple[int, int, float | None]] = []  # per round: replies out at its end, due, catch-up s
            sent_before = 0  # replies the fake API had counted when the round began
            for r in range(args.rounds):
                bare = run_load(bare_port, args.messages, args.connections, "1", args.rate, args.warmup, loadgen,
                                Path(tmp))
                before = {k: cpu_seconds(p) for k, p in watched.items()}
                served = run_load(serve_port, args.messages, args.connections, str(2 + r), args.rate,
                                  args.warmup if r == 0 else 0, loadgen, Path(tmp))
                for k, p in watched.items():
                    used[k] += cpu_seconds(p) - before[k]
                rounds.append((bare, served))
                # how far sending runs behind receiving: the replies out when the run ended, and how
                # long the rest took; the next round starts once the outbox has caught up, so its
                # sends do not slow the bare endpoint's run
                due = REPLIES * (args.messages + (args.warmup if r == 0 else 0))
                out_at_end = sum(counts(fake_port).values()) - sent_before
                started = time.monotonic()
                caught_up = wait_replies(fake_port, sent_before + due, 60)
                outbox.append((out_at_end, due, time.monotonic() - started if caught_up else None))
                sent_before += due
            rss, peak = rss_mb(server.pid)
            for w in worker:
                rss, peak = rss + rss_mb(w)[0], peak + rss_mb(w)[1]
            time.sleep(1.0)  # a repeated reply would still be on its way
            got = counts(fake_port)
            server.send_signal(signal.SIGTERM)
            server.wait(30)
            log.close()
            stopped = [json.loads(line) for line in (Path(tmp) / "serve.log").read_text().splitlines()
                       if line.startswith("{") and '"stopped"' in line]
            commits = stopped[-1] if stopped else {}
        contacts = [f"1{2 + r}{i:09d}" for r in range(args.rounds)
                    for i in range(args.messages + (args.warmup if r == 0 else 0))]
        lost = sum(1 for c in contacts if got.get(c, 0) < REPLIES)
        repeated = sum(max(0, n - REPLIES) for n in got.values())
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared with other work)")
        print(f"http stack: uvicorn, {http_stack()}, for both endpoints")
        if loadgen == "wrk":
            print("load generator: wrk (bench/webhooks.lua), one connection per wrk thread, for both endpoints")
        else:
            print("load generator: Python asyncio (bench/webhooks.py --load), for both endpoints"
                  + ("" if args.loadgen else f"; wrk is not installed ({WRK_INSTALL})"))
        for r, ((bare, served), (out, due, late)) in enumerate(zip(rounds, outbox), 1):
            print(f"round {r}: bare {bare['rps']:,.0f} req/s (p50 {bare['p50']:.1f} ms, p99 {bare['p99']:.1f} ms); "
                  f"chatflow {served['rps']:,.0f} msg/s (p50 {served['p50']:.1f} ms, p99 {served['p99']:.1f} ms); "
                  f"ratio {served['rps'] / bare['rps']:.0%}; statuses {served['statuses']}; "
                  f"replies out at the end {out:,} of {due:,}, "
                  + (f"all {late:.1f} s later" if late is not None else "not all within 60 s"))
        med = statistics.median
        print(f"bare starlette: {med(b['rps'] for b, _ in rounds):,.0f} req/s, p50 {med(b['p50'] for b, _ in rounds):.1f} ms, "
              f"p99 {med(b['p99'] for b, _ in rounds):.1f} ms (medians of {args.rounds} rounds of {args.messages} "
              f"requests, {args.connections} connections)")
        print(f"chatflow serve: {med(s['rps'] for _, s in rounds):,.0f} msg/s, p50 {med(s['p50'] for _, s in rounds):.1f} ms, "
              f"p99 {med(s['p99'] for _, s in rounds):.1f} ms (medians; target p99 < 20 ms)")
        print(f"ratio:          {med(s['rps'] / b['rps'] for b, s in rounds):.0%} of the bare endpoint, median of the "
              f"rounds' ratios (target >= 35%)")
        print(f"server memory:  {rss:.0f} MB RSS at the end, {peak:.0f} MB peak, server and outbox worker "
              f"together (target < 200 MB)")
        print("cpu during the chatflow runs: " + ", ".join(f"{k} {v:.2f} s" for k, v in used.items())
              + f", load generator {sum(s['cpu'] for _, s in rounds):.2f} s "
              f"(bare runs: {sum(b['cpu'] for b, _ in rounds):.2f} s); "
              f"{sum(s['count'] / s['rps'] for _, s in rounds):.2f} s wall, {args.rounds * args.messages} messages "
              f"after {args.warmup} warm-up requests")
        lags = [late for _, _, late in outbox if late is not None]
        rest = f"the rest {med(lags):.1f} s later" if lags else "the rest not within 60 s"
        print(f"sending:        {med(out / due for out, due, _ in outbox):.0%} of a round's replies out when its run "
              f"ended, {rest} (medians; {args.send_concurrency} sends in flight, rate limit lifted)")
        if commits.get("commits"):
            print(f"group commit:   {commits['units'] / commits['commits']:.1f} webhooks per transaction "
                  f"({commits['units']} in {commits['commits']}, warm-up included); "
                  f"{commits.get('busy', 0)} tries put off while the outbox worker held the write lock; "
                  f"{commits.get('rebuilds', 0)} inputs built again after a conflict")
        print(f"replies:        {sum(got.values())} counted at the fake API for {len(contacts)} contacts; "
              f"lost {lost}, repeated {repeated}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
