"""A fake Graph API (WhatsApp, Messenger, Instagram) and Viber API on 127.0.0.1 that records every
send, so tests count replies where a channel would."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

# What the fake does with one send: answer normally, or fail in a way a channel does.
OK, THROTTLE, ERROR_500, HANG, WINDOW = "ok", "throttle", "error500", "hang", "window"


@dataclass(frozen=True)
class Received:
    n: int
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def to(self) -> str:
        b = self.body
        return str(b.get("to") or b.get("receiver") or (b.get("recipient") or {}).get("id"))

    @property
    def text(self) -> str | None:
        """The message's text as the contact would read it, whatever the channel's shape."""
        b = self.body
        if "messaging_product" in b:  # WhatsApp
            kind = b.get("type")
            if kind == "text":
                return b["text"]["body"]
            if kind == "interactive":
                return b["interactive"]["body"]["text"]
            if kind == "template":
                return "template " + b["template"]["name"]
            return b.get(kind, {}).get("caption")
        if "message" in b:  # Messenger / Instagram
            return b["message"].get("text")
        return b.get("text")  # Viber

    @property
    def buttons(self) -> list[str]:
        b = self.body
        if b.get("type") == "interactive" and b["interactive"]["type"] == "button":
            return [x["reply"]["title"] for x in b["interactive"]["action"]["buttons"]]
        if "keyboard" in b:
            return [x["Text"] for x in b["keyboard"]["Buttons"]]
        return [q["title"] for q in (b.get("message") or {}).get("quick_replies", [])]


class FakeChannel:
    """`plan(received) -> OK | THROTTLE | ERROR_500 | HANG | WINDOW` decides each answer (default OK).
    HANG records the message (the channel has it) and answers only after `hang_for` seconds."""

    def __init__(self, hang_for: float = 3.0) -> None:
        self.received: list[Received] = []
        self.attempts = 0
        self.plan: Callable[[Received], str] = lambda r: OK
        self.hang_for = hang_for
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with fake._lock:
                    n = next(fake._ids)
                    fake.attempts += 1
                seen = Received(n, self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"{}"))
                decision = fake.plan(seen)
                if decision in (OK, HANG):
                    with fake._changed:
                        fake.received.append(seen)
                        fake._changed.notify_all()
                if decision == HANG:
                    time.sleep(fake.hang_for)
                status, body = fake._answer(seen, decision)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _answer(self, seen: Received, decision: str) -> tuple[int, dict[str, Any]]:
        viber = seen.path.endswith("/pa/send_message")
        if decision == THROTTLE:
            if viber:
                return 200, {"status": 12, "status_message": "tooManyRequests"}
            return 429, {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}}
        if decision == ERROR_500:
            return 500, {"error": {"message": "An unknown error occurred", "code": 1}}
        if decision == WINDOW:
            return 400, {"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException",
                                   "code": 131047, "error_data": {"details": "Message failed to send because more "
                                                                             "than 24 hours have passed"}}}
        if viber:
            return 200, {"status": 0, "status_message": "ok", "message_token": 5491234567890000000 + seen.n}
        if "messaging_product" in seen.body:
            return 200, {"messaging_product": "whatsapp", "contacts": [{"input": seen.to, "wa_id": seen.to}],
                         "messages": [{"id": f"wamid.fake{seen.n}"}]}
        return 200, {"recipient_id": seen.to, "message_id": f"m_fake{seen.n}"}

    # -- reading what arrived ---------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def texts(self, to: str | None = None) -> list[str | None]:
        with self._lock:
            return [r.text for r in self.received if to is None or r.to == to]

    def to(self, recipient: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.to == recipient]

    def wait_for(self, count: int, to: str | None = None, timeout: float = 15.0) -> list[Received]:
        """Block until `count` sends (to `to`) have arrived; fail with what did arrive."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [r for r in self.received if to is None or r.to == to]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} sends{f' to {to}' if to else ''}, got {len(got)}: "
                                         f"{[r.text for r in got]}")
                self._changed.wait(left)

    def __enter__(self) -> "FakeChannel":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
