"""The channel webhooks (DESIGN §6): `/webhooks/{channel}/{account}` and, for Meta's channels, the
per-app `/webhooks/{channel}`. Size, then signature on the raw body, then parse, then route; 200
only once every event of the request is committed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from controller.channels.base import ChannelAdapter, ParseError
from controller.channels.registry import ADAPTERS, UnknownChannel, adapter
from controller.engine.messages import InboundEvent
from controller.manifests.models import Account
from controller.manifests.secrets import SecretMissing
from controller.runtime.host import Runtime

from .app import read_body
from .metrics import Metrics

log = structlog.get_logger("chatflow.webhooks")


def _error(status: int, message: str, hint: str | None = None) -> JSONResponse:
    body = {"error": message}
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status_code=status)


class _Received(Response):
    """`{"received": n}`, the answer to nearly every webhook, from bytes made once per `n`
    (JSONResponse would serialise and build its headers again for every request)."""

    media_type = "application/json"
    _made: dict[int, tuple[bytes, list[tuple[bytes, bytes]]]] = {}

    def __init__(self, count: int) -> None:
        made = self._made.get(count)
        if made is None:
            once = JSONResponse({"received": count})
            made = (once.body, once.raw_headers)
            if len(self._made) < 64:
                self._made[count] = made
        self.status_code = 200
        self.background = None
        self.body = made[0]
        self.raw_headers = list(made[1])  # a list of its own: whoever sends it may add to it


@dataclass(frozen=True)
class _Target:
    """Who a request is for: one account (per-account URL) or every account of the channel."""

    adapter: ChannelAdapter
    accounts: tuple[Account, ...]
    per_account: bool


class Webhooks:
    def __init__(self, runtime: Runtime, metrics: Metrics | None = None) -> None:
        self.runtime = runtime
        self.metrics = metrics

    def routes(self) -> list[Route]:
        return [
            Route("/webhooks/{channel}/{account}", self._counted(self.account_url), methods=["GET", "POST"]),
            Route("/webhooks/{channel}", self._counted(self.app_url), methods=["GET", "POST"]),
        ]

    def first(self, app: ASGIApp) -> ASGIApp:
        """`app` with the webhooks answered ahead of it: a GET or POST to `/webhooks/{channel}`
        or `/webhooks/{channel}/{account}` goes straight to its handler, without starlette's
        middleware and route matching (the busiest path, and each layer costs every request);
        everything else, and any other method, is `app`'s as before."""
        handlers = {1: self._counted(self.app_url), 2: self._counted(self.account_url)}

        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            path: str = scope["path"] if scope["type"] == "http" else ""
            if path.startswith("/webhooks/") and scope["method"] in ("GET", "POST"):
                parts = path[len("/webhooks/"):].split("/")
                if len(parts) <= 2 and all(parts):
                    scope["path_params"] = dict(zip(("channel", "account"), parts))
                    request = Request(scope, receive)
                    try:
                        response = await handlers[len(parts)](request)
                    except Exception:  # a bug, never the input: what starlette's error middleware did
                        log.exception("webhook request failed", path=path)
                        response = _error(500, "internal error")
                    await response(scope, receive, send)
                    return
            await app(scope, receive, send)

        return asgi

    def _counted(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Every answer counted by channel and outcome (a channel name that is none counts as `unknown`)."""
        async def endpoint(request: Request) -> Response:
            response = await handler(request)
            if self.metrics is not None:
                channel = request.path_params["channel"]
                self.metrics.webhook_request(channel if channel in ADAPTERS else "unknown", response.status_code)
            return response

        return endpoint

    async def account_url(self, request: Request) -> Response:
        channel, name = request.path_params["channel"], request.path_params["account"]
        try:
            chan = adapter(channel)
        except UnknownChannel as exc:
            return _error(404, str(exc))
        account = self.runtime.flows.current.accounts.get(name)
        if account is None:
            return _error(404, f"no account `{name}`", "the URL names an Account manifest's metadata.name")
        if account.spec.channel != channel:
            return _error(404, f"account `{name}` is a {account.spec.channel} account, not {channel}",
                          f"use /webhooks/{account.spec.channel}/{name}")
        return await self._handle(request, _Target(chan, (account,), True))

    async def app_url(self, request: Request) -> Response:
        channel = request.path_params["channel"]
        try:
            chan = adapter(channel)
        except UnknownChannel as exc:
            return _error(404, str(exc))
        if chan.routing != "payload":
            return _error(404, f"{channel} callbacks carry no account id",
                          f"set each bot's webhook to /webhooks/{channel}/<account>")
        accounts = self.runtime.flows.current.by_channel.get(channel, ())
        if not accounts:
            return _error(404, f"no {channel} account is applied")
        return await self._handle(request, _Target(chan, accounts, False))

    # -- the steps ----------------------------------------------------------------------------
    async def _handle(self, request: Request, target: _Target) -> Response:
        if request.method == "GET":
            return self._handshake(request, target)
        body = await read_body(request, target.adapter.max_body_bytes)
        if body is None:
            return _error(413, f"body larger than {target.adapter.name}'s maximum of {target.adapter.max_body_bytes} bytes")
        verified, refusal = self._verify(request, body, target)
        if refusal is not None:
            return refusal
        try:
            events = target.adapter.parse(body)
        except ParseError as exc:
            log.warning("malformed webhook body", channel=target.adapter.name, error=str(exc), bytes=len(body))
            return _error(400, f"malformed body: {exc}")
        routed = self._route(events, verified, target)
        try:
            answer = None
            for account, event in routed:
                reply = await self.runtime.receive(account, [event])
                answer = reply or answer
        except Exception:  # the store or a bug, never the input: the channel retries later
            log.exception("webhook events could not be applied; the channel will redeliver", channel=target.adapter.name)
            return _error(503, "the events could not be stored; retry later")
        if answer is not None:
            return Response(answer, media_type="application/json")
        return _Received(len(routed))

    def _handshake(self, request: Request, target: _Target) -> Response:
        query = dict(request.query_params)
        missing = 0
        answers = []
        for account in target.accounts:
            try:
                shake = target.adapter.handshake(account, query)
            except SecretMissing as exc:
                log.warning("webhook handshake: account secret missing", account=account.name, error=str(exc))
                missing += 1
                continue
            if shake is None:
                return _error(405, f"{target.adapter.name} has no GET handshake; it posts its events")
            if shake.ok:
                return PlainTextResponse(shake.body)
            answers.append(shake)
        if not answers:
            return _error(503, "the account's secrets are missing", "set the secrets its Account references")
        worst = max(answers, key=lambda h: h.status == 403)  # a wrong token says more than a bad request
        return PlainTextResponse(worst.body, status_code=worst.status)

    def _verify(self, request: Request, body: bytes, target: _Target) -> tuple[tuple[Account, ...], Response | None]:
        verified: list[Account] = []
        missing = bad = 0
        for account in target.accounts:
            try:
                check = target.adapter.verify(account, body, request.headers)
            except SecretMissing as exc:
                log.warning("webhook refused: account secret missing", account=account.name, error=str(exc))
                missing += 1
                continue
            if check == "missing":
                return (), _error(401, f"missing {target.adapter.signature_header} header")
            if check == "ok":
                verified.append(account)
            else:
                bad += 1
        if verified:
            return tuple(verified), None
        if missing and not bad:
            return (), _error(503, "the account's secrets are missing; events cannot be verified",
                              "set the secrets its Account references; the channel redelivers")
        return (), _error(401, f"bad {target.adapter.signature_header} signature")

    def _route(self, events: list[InboundEvent], verified: tuple[Account, ...],
               target: _Target) -> list[tuple[Account, InboundEvent]]:
        """Each event to the verified account its payload names (Viber: the URL's account)."""
        if target.adapter.routing == "url":
            return [(verified[0], e) for e in events]
        routed = []
        for event in events:
            owner = event.account_channel_id
            account = next((a for a in verified if target.adapter.channel_id(a) == owner), None)
            if account is None and owner is None and target.per_account:
                account = verified[0]  # an envelope without ids: the URL says whose it is
            if account is None:
                log.warning("webhook event for an account this request is not signed for; ignored",
                            channel=target.adapter.name, account_id=owner, kind=event.kind)
                continue
            routed.append((account, event))
        return routed
