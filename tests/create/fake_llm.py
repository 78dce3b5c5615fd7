"""A fake OpenAI-compatible chat completions server on 127.0.0.1, scripted by the model name."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-key"

BROKEN = """\
apiVersion: chatflow/v1
kind: Flow
metadata: {name: csat, displayName: Satisfaction survey}
spec:
  state: published
  trigger: {type: whatsapp, account: made-up-account}
  nodes:
    start: {type: start, next: ask}
    ask: {type: question, text: "How happy are you, 1-5?", expect: number, save_as: score, next: thanks}
    thank: {type: message, text: "Thanks for the {{ vars.score }}!", next: done}
    done: {type: end}
"""

FIXED = BROKEN.replace("next: thanks}", "next: thank}")


def _answer(model: str, messages: list[dict[str, str]]) -> str:
    """The scripted answer; `behaviour#label` lets each test use its own model name."""
    model = model.split("#")[0]
    repairing = len(messages) > 2
    if model == "fix-on-repair":
        last = messages[-1]["content"]
        # only a repair request that carries the diagnostic gets the fixed draft
        if repairing and "CF103" in last and "`ask.next: thanks` names no node" in last:
            return f"Here is the corrected manifest:\n```yaml\n{FIXED}```\n"
        return f"```yaml\n{BROKEN}```"
    if model == "never-valid":
        return f"```yaml\n{BROKEN}```"
    if model == "chatty":
        return f"Sure! This flow asks for a score.\n\n```yaml\n{FIXED}```\n\nLet me know if you need changes."
    if model == "no-yaml":
        return "Sorry, I can't help with that."
    return f"```yaml\n{FIXED}```"


class _Handler(BaseHTTPRequestHandler):
    server: "FakeLlm"  # type: ignore[assignment]

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        model = request.get("model", "")
        self.server.record({"path": self.path, "model": model, "stream": request.get("stream"),
                            "messages": request.get("messages", []), "authorization": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": f"no route {self.path}"}})
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        behaviour = model.split("#")[0]
        if behaviour == "overloaded":
            return self._json(500, {"error": {"message": "model overloaded"}})
        if behaviour == "slow":
            time.sleep(3)
        content = _answer(model, request.get("messages", []))
        if not request.get("stream"):
            return self._json(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": model,
                                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                                 "finish_reason": "stop"}]})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        first = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        self.wfile.write(f"data: {json.dumps(first)}\n\n".encode())
        for i in range(0, len(content), 7):
            chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {"content": content[i:i + 7]}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


class FakeLlm(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(request)

    def requests_for(self, model: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["model"] == model]
