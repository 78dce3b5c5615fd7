"""A real git repository in a temp dir, for tests that commit manifests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


class Repo:
    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)

    def git(self, *args: str) -> str:
        out = subprocess.run(["git", *args], cwd=self.path, env=ENV, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def write(self, rel: str, text: str) -> Path:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


ACCOUNT = """\
apiVersion: chatflow/v1
kind: Account
metadata: {{name: {name}}}
spec:
  channel: whatsapp
  credentials: {{accessToken: {{env: WA_TOKEN}}, appSecret: {{env: WA_SECRET}}, verifyToken: {{env: WA_VERIFY}}}}
  whatsapp: {{phoneNumberId: "{phone_id}"}}
"""


def account(name: str = "wa", phone_id: str = "111") -> str:
    return ACCOUNT.format(name=name, phone_id=phone_id)


def flow(name: str = "faq", state: str = "published", account: str | None = "wa", trigger: str = "whatsapp",
         text: str = "Hello!", keywords: tuple[str, ...] = (), logging: bool = False, display: str | None = None) -> str:
    acct = f", account: {account}" if account else ""
    kw = f", keywords: [{', '.join(keywords)}]" if keywords else ""
    disp = f", displayName: {display}" if display else ""
    return f"""\
apiVersion: chatflow/v1
kind: Flow
metadata: {{name: {name}{disp}}}
spec:
  state: {state}
  logging: {str(logging).lower()}
  trigger: {{type: {trigger}{acct}{kw}}}
  nodes:
    start: {{type: start, next: hello}}
    hello: {{type: message, text: "{text}", next: done}}
    done: {{type: end}}
"""
