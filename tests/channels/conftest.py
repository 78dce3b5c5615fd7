"""Channel test fixtures: webhook payloads, accounts with env secrets, a fake channel API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from controller.channels.base import ChannelAdapter, SendResult
from controller.channels.poster import Poster
from controller.engine.messages import OutboundMessage
from controller.manifests.models import Account

FIXTURES = Path(__file__).parent / "fixtures"

SECRETS = {
    "CF_TEST_WA_TOKEN": "wa-access-token-123",
    "CF_TEST_WA_APP_SECRET": "wa-app-secret",
    "CF_TEST_WA_VERIFY": "wa-verify-token",
    "CF_TEST_FB_TOKEN": "fb-page-token-456",
    "CF_TEST_FB_APP_SECRET": "fb-app-secret",
    "CF_TEST_FB_VERIFY": "fb-verify-token",
    "CF_TEST_IG_TOKEN": "ig-page-token-789",
    "CF_TEST_IG_APP_SECRET": "ig-app-secret",
    "CF_TEST_IG_VERIFY": "ig-verify-token",
    "CF_TEST_VIBER_TOKEN": "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9",
}

WA_PHONE_NUMBER_ID = "106540352242922"
FB_PAGE_ID = "107311555555555"
IG_USER_ID = "17841400000000001"


def payload(channel: str, name: str) -> bytes:
    """A webhook body exactly as stored (the raw bytes a channel would sign)."""
    return (FIXTURES / channel / f"{name}.json").read_bytes()


def fixture_names(channel: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / channel).glob("*.json"))


def account(channel: str, api_base: str | None = None, **extra: Any) -> Account:
    """An Account manifest whose secrets are env references to SECRETS."""
    specs: dict[str, dict[str, Any]] = {
        "whatsapp": {"credentials": {"accessToken": {"env": "CF_TEST_WA_TOKEN"},
                                     "appSecret": {"env": "CF_TEST_WA_APP_SECRET"},
                                     "verifyToken": {"env": "CF_TEST_WA_VERIFY"}},
                     "whatsapp": {"phoneNumberId": WA_PHONE_NUMBER_ID, "businessAccountId": "102290129340398"}},
        "messenger": {"credentials": {"pageAccessToken": {"env": "CF_TEST_FB_TOKEN"},
                                      "appSecret": {"env": "CF_TEST_FB_APP_SECRET"},
                                      "verifyToken": {"env": "CF_TEST_FB_VERIFY"}},
                      "messenger": {"pageId": FB_PAGE_ID}},
        "instagram": {"credentials": {"pageAccessToken": {"env": "CF_TEST_IG_TOKEN"},
                                      "appSecret": {"env": "CF_TEST_IG_APP_SECRET"},
                                      "verifyToken": {"env": "CF_TEST_IG_VERIFY"}},
                      "instagram": {"igUserId": IG_USER_ID}},
        "viber": {"credentials": {"authToken": {"env": "CF_TEST_VIBER_TOKEN"}},
                  "viber": {"senderName": "Acme Support", **extra}},
    }
    spec: dict[str, Any] = {"channel": channel, **specs[channel]}
    if api_base is not None:
        spec["apiBase"] = api_base
    return Account.model_validate({"apiVersion": "chatflow/v1", "kind": "Account",
                                   "metadata": {"name": f"acme-{channel}"}, "spec": spec})


@pytest.fixture(autouse=True)
def channel_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return SECRETS


# -- a fake Graph API and Viber API, served by uvicorn on loopback --------------------------------

GRAPH_ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "window": (400, {"error": {
        "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
        "error_data": {"messaging_product": "whatsapp",
                       "details": "Message failed to send because more than 24 hours have passed since the "
                                  "customer last replied to this number."},
        "fbtrace_id": "AbCdEf"}}),
    "throughput": (400, {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException",
                                   "code": 130429, "fbtrace_id": "AbCdEf"}}),
    "bad-recipient": (400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException",
                                      "code": 100, "fbtrace_id": "AbCdEf"}}),
    "outside-window": (400, {"error": {"message": "(#10) This message is sent outside of allowed window.",
                                       "type": "OAuthException", "code": 10, "error_subcode": 2018278,
                                       "fbtrace_id": "AbCdEf"}}),
}

VIBER_ANSWERS: dict[str, dict[str, Any]] = {
    "not-subscribed": {"status": 6, "status_message": "receiverNotSubscribed", "chat_hostname": "SN-CHAT-05_"},
    "busy": {"status": 12, "status_message": "tooManyRequests", "chat_hostname": "SN-CHAT-05_"},
}

VIBER_TOKEN = 5741311803571721087  # above 2**53: a float would change it


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeChannelApi:
    """Answers sends by recipient: `ok`, the GRAPH_ERRORS / VIBER_ANSWERS keys, `throttle` (429),
    `boom` (500), `empty` (200 without an id) and `hang` (answers only once released)."""

    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    ids: itertools.count = field(default_factory=itertools.count)

    def reset(self) -> None:
        self.requests.clear()
        self.release.clear()

    async def _record(self, request: Request) -> Any:
        raw = await request.body()
        body = json.loads(raw)
        self.requests.append(Recorded(request.method, request.url.path, dict(request.headers), body))
        return body

    async def _common(self, to: str) -> Response | None:
        if to == "throttle":
            return JSONResponse({"error": {"message": "(#4) Application request limit reached", "code": 4}},
                                status_code=429, headers={"Retry-After": "2"})
        if to == "boom":
            return PlainTextResponse("upstream exploded", status_code=500)
        if to == "hang":
            deadline = time.monotonic() + 5
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return None

    async def graph(self, request: Request) -> Response:
        body = await self._record(request)
        to = body.get("to") or body.get("recipient", {}).get("id")
        common = await self._common(to)
        if common is not None:
            return common
        if to in GRAPH_ERRORS:
            status, error = GRAPH_ERRORS[to]
            return JSONResponse(error, status_code=status)
        if to == "empty":
            return JSONResponse({})
        n = next(self.ids)
        if body.get("messaging_product") == "whatsapp":
            return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                                 "messages": [{"id": f"wamid.fake{n}"}]})
        return JSONResponse({"recipient_id": to, "message_id": f"m_fake{n}"})

    async def viber(self, request: Request) -> Response:
        body = await self._record(request)
        to = body.get("receiver")
        common = await self._common(to)
        if common is not None:
            return common
        if to in VIBER_ANSWERS:
            return JSONResponse(VIBER_ANSWERS[to])
        # written by hand so the 64-bit token goes out as an exact JSON integer
        return Response(f'{{"status":0,"status_message":"ok","message_token":{VIBER_TOKEN},'
                        f'"chat_hostname":"SN-CHAT-05_"}}', media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/pa/send_message", self.viber, methods=["POST"]),
            Route("/{version}/{node}/messages", self.graph, methods=["POST"]),
        ])


@pytest.fixture(scope="session")
def fake_api_server():
    api = FakeChannelApi()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    api.base_url = f"http://{host}:{port}"
    server = uvicorn.Server(uvicorn.Config(api.app(), lifespan="off", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake channel API did not start")
        time.sleep(0.01)
    yield api
    api.release.set()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def fake_api(fake_api_server: FakeChannelApi) -> FakeChannelApi:
    fake_api_server.reset()
    yield fake_api_server
    fake_api_server.release.set()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def send(adapter: ChannelAdapter, acct: Account, to: str, message: OutboundMessage,
         timeout: float = 5.0) -> SendResult:
    """Run one adapter send with a fresh client, as the outbox will."""
    async def go() -> SendResult:
        async with Poster() as client:
            return await adapter.send(client, acct, to, message, timeout=timeout)
    return asyncio.run(go())
