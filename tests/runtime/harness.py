"""The runtime test harness: a served repository with WhatsApp, Messenger and Viber accounts whose
apiBase is a fake channel API on 127.0.0.1, and a client that posts signed webhooks to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ..gitrepo import Repo
from ..server import Server
from .fakechannel import FakeChannel
from .payloads import FB_PAGE_ID, IG_USER_ID, WA_PHONE_ID, body, meta_signature, viber_signature

SECRETS = {
    "WA_TOKEN": "wa-access-token-1234", "WA_SECRET": "wa-app-secret-5678", "WA_VERIFY": "wa-verify-token",
    "FB_TOKEN": "fb-page-token-1234", "FB_SECRET": "fb-app-secret-5678", "FB_VERIFY": "fb-verify-token",
    "VB_TOKEN": "viber-auth-token-1234", "IG_TOKEN": "ig-page-token-1234",
}

ACCOUNTS = """\
apiVersion: chatflow/v1
kind: Account
metadata: {{name: wa}}
spec:
  channel: whatsapp
  phoneNumber: "+15550001111"
  credentials: {{accessToken: {{env: WA_TOKEN}}, appSecret: {{env: WA_SECRET}}, verifyToken: {{env: WA_VERIFY}}}}
  whatsapp: {{phoneNumberId: "{wa}"}}
  apiBase: {api}
---
apiVersion: chatflow/v1
kind: Account
metadata: {{name: fb}}
spec:
  channel: messenger
  credentials: {{pageAccessToken: {{env: FB_TOKEN}}, appSecret: {{env: FB_SECRET}}, verifyToken: {{env: FB_VERIFY}}}}
  messenger: {{pageId: "{fb}"}}
  apiBase: {api}
---
apiVersion: chatflow/v1
kind: Account
metadata: {{name: vb}}
spec:
  channel: viber
  credentials: {{authToken: {{env: VB_TOKEN}}}}
  viber: {{senderName: Acme Clinic}}
  apiBase: {api}
---
apiVersion: chatflow/v1
kind: Account
metadata: {{name: ig}}
spec:
  channel: instagram
  credentials: {{pageAccessToken: {{env: IG_TOKEN}}, appSecret: {{env: FB_SECRET}}, verifyToken: {{env: FB_VERIFY}}}}
  instagram: {{igUserId: "{ig}"}}
  apiBase: {api}
"""

ORDERS = """\
apiVersion: chatflow/v1
kind: Flow
metadata: {name: orders}
spec:
  state: published
  logging: true
  trigger: {type: whatsapp, account: wa}
  nodes:
    start: {type: start, next: menu}
    menu:
      type: question
      text: "Hi {{ contact.name }}! What do you need?"
      buttons: [{id: track, title: Track my order}, {id: agent, title: Talk to a person}]
      save_as: choice
      next: route
    route:
      type: condition
      branches: [{when: "vars.choice == 'track'", next: ask}]
      default: agent
    ask: {type: question, text: "Your order number?", expect: number, save_as: order, next: tell}
    tell: {type: message, text: "Order {{ vars.order }} is on its way.", next: bye}
    agent: {type: handoff, note: help, next: bye}
    bye: {type: message, text: "Bye!", next: done}
    done: {type: end}
"""


def flow(name: str, trigger: str, account: str | None, nodes: str, *, keywords: str = "", extra: str = "",
         state: str = "published", logging: bool = True) -> str:
    acct = f", account: {account}" if account else ""
    kw = f", keywords: [{keywords}]" if keywords else ""
    return (f"apiVersion: chatflow/v1\nkind: Flow\nmetadata: {{name: {name}}}\nspec:\n  state: {state}\n"
            f"  logging: {str(logging).lower()}\n  trigger: {{type: {trigger}{acct}{kw}}}\n{extra}  nodes:\n{nodes}")


@pytest.fixture
def fake():
    with FakeChannel() as f:
        yield f


@pytest.fixture
def repo(tmp_path: Path, fake: FakeChannel) -> Repo:
    r = Repo(tmp_path / "repo")
    r.write("flows.d/accounts.yaml", ACCOUNTS.format(wa=WA_PHONE_ID, fb=FB_PAGE_ID, ig=IG_USER_ID, api=fake.url))
    r.write("flows.d/orders.yaml", ORDERS)
    r.commit("accounts and the orders flow")
    return r


class Chat(Server):
    """`chatflow serve` with the channel secrets set, and signed webhooks."""

    def __init__(self, repo: Path, *args: str, env: dict[str, str] | None = None, state: Path | None = None) -> None:
        super().__init__(repo, *args, env={**SECRETS, "CHATFLOW_SEND_BACKOFF": "0.05", **(env or {})}, state=state)

    def wa(self, doc: dict[str, Any], path: str = "/webhooks/whatsapp/wa", secret: str | None = None) -> httpx.Response:
        raw = body(doc)
        return self.client.post(path, content=raw, headers=meta_signature(raw, secret or SECRETS["WA_SECRET"]))

    def fb(self, doc: dict[str, Any], path: str = "/webhooks/messenger/fb") -> httpx.Response:
        raw = body(doc)
        return self.client.post(path, content=raw, headers=meta_signature(raw, SECRETS["FB_SECRET"]))

    def viber(self, doc: dict[str, Any], path: str = "/webhooks/viber/vb") -> httpx.Response:
        raw = body(doc)
        return self.client.post(path, content=raw, headers=viber_signature(raw, SECRETS["VB_TOKEN"]))

    def conversations(self, **params: str) -> list[dict[str, Any]]:
        return self.client.get("/api/v1/conversations", params=params).json()["conversations"]

    def execution(self, session_id: str) -> dict[str, Any]:
        return self.client.get(f"/api/v1/executions/{session_id}").json()

    def outbox(self, address: str) -> list[dict[str, Any]]:
        live = [c for c in self.conversations(limit="1000") if c["contact"]["address"] == address]
        rows: list[dict[str, Any]] = []
        for c in live:
            rows.extend(self.execution(c["id"])["messages"])
        return sorted(rows, key=lambda m: m["id"])
