"""`chatflow serve` as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, repo: Path, *args: str, env: dict[str, str] | None = None, state: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.repo = repo
        self.args = ["--repo", str(repo), "--port", str(self.port), *args]
        if state is not None:
            self.args += ["--state", str(state)]
        self.env = {**os.environ, "CHATFLOW_POLL_INTERVAL": "30s", **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def start(self, wait_ready: bool = True, wait_answer: bool = True) -> "Server":
        self.log = open(self.repo.parent / f"serve-{self.port}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "controller", "serve", *self.args], cwd=self.repo,
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        if wait_answer:
            self.wait_for(lambda: self._get("/healthz") is not None, what="the server to answer")
        if wait_answer and wait_ready:
            self.wait_for(lambda: (r := self._get("/readyz")) is not None and r.status_code == 200, what="readiness")
        return self

    def _get(self, path: str) -> httpx.Response | None:
        try:
            return self.client.get(path)
        except httpx.TransportError:
            return None

    def status(self) -> dict[str, Any]:
        return self.client.get("/status").json()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode} while waiting for {what}: {self.output()}")
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; server log: {self.output()[-2000:]}")

    def output(self) -> str:
        self.log.flush()
        return (self.repo.parent / f"serve-{self.port}.log").read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        self.client.close()
