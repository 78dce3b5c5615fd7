"""The starlette app: health, status, metrics, pages and the git push hook; later issues add their routes here."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from controller.reconcile.loop import ReconcileLoop
from controller.reconcile.reconciler import Reconciler
from controller.reconcile.report import status_json
from controller.store.base import StateStore

from .metrics import CONTENT_TYPE, Metrics

MAX_HOOK_BODY = 1024 * 1024


@dataclass
class Settings:
    host: str = "127.0.0.1"
    api_token: str | None = None  # CHATFLOW_API_TOKEN
    git_hook_secret: str | None = None  # CHATFLOW_GIT_HOOK_SECRET
    source_label: str = ""  # where the manifests come from (credentials redacted)
    branch: str | None = None

    @classmethod
    def from_env(cls, host: str, source_label: str = "", branch: str | None = None) -> "Settings":
        return cls(host, os.environ.get("CHATFLOW_API_TOKEN") or None, os.environ.get("CHATFLOW_GIT_HOOK_SECRET") or None,
                   source_label, branch)

    @property
    def loopback(self) -> bool:
        if self.host in ("localhost",):
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass
class Context:
    """What the routes need: the store, the loop and the settings (composition root fills it)."""

    store: StateStore
    loop: ReconcileLoop
    reconciler: Reconciler
    settings: Settings
    extra_routes: list[BaseRoute] = field(default_factory=list)
    metrics: Metrics | None = None  # one registry per app; made from the store when not given

    def __post_init__(self) -> None:
        if self.metrics is None:
            self.metrics = Metrics(self.store)


def _client_is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


def authorized(request: Request, settings: Settings) -> bool:
    """Bearer token (or the page cookie); open when the server is bound to loopback (DESIGN §6)."""
    if settings.loopback and settings.api_token is None:
        return True
    if settings.api_token is None:
        return False
    header = request.headers.get("authorization", "")
    supplied = header[7:] if header.lower().startswith("bearer ") else request.cookies.get("chatflow_token", "")
    return bool(supplied) and hmac.compare_digest(supplied.encode(), settings.api_token.encode())


def guarded(ctx: Context, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if not authorized(request, ctx.settings):
            return JSONResponse({"error": "unauthorized", "hint": "send Authorization: Bearer $CHATFLOW_API_TOKEN"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    return endpoint


async def read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than `limit` (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    while True:  # request.stream(), without an async generator per request
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def status_document(ctx: Context) -> dict[str, Any]:
    state = ctx.loop.state
    last = ctx.reconciler.last
    desired = last.snapshot.desired if last is not None and last.snapshot is not None else None
    report = status_json(ctx.store, desired)
    report["reconciler"] = {
        "source": ctx.settings.source_label,
        "branch": ctx.settings.branch,
        "ready": state.ready,
        "reconciling": state.reconciling,
        "consecutiveFailures": state.failures,
        "lastError": state.last_error,
    }
    return report


def build_app(ctx: Context, on_startup: list[Callable[[], Any]] | None = None,
              on_shutdown: list[Callable[[], Any]] | None = None, lifespan: Any = None) -> Starlette:
    from .pages import page_routes  # the pages use this module's helpers

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        state = ctx.loop.state
        if state.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready", "reason": state.last_error or "the first reconcile has not finished"},
                            status_code=503)

    async def status(request: Request) -> Response:
        return JSONResponse(status_document(ctx))

    async def metrics(request: Request) -> Response:
        assert ctx.metrics is not None
        return Response(await asyncio.to_thread(ctx.metrics.exposition), media_type=CONTENT_TYPE)

    async def git_hook(request: Request) -> Response:
        body = await read_body(request, MAX_HOOK_BODY)
        if body is None:
            return JSONResponse({"error": "body too large"}, status_code=413)
        secret = ctx.settings.git_hook_secret
        if secret is None:
            if not _client_is_loopback(request):
                return JSONResponse({"error": "set CHATFLOW_GIT_HOOK_SECRET to accept push hooks from other hosts"}, status_code=403)
        elif not _hook_signed(request, body, secret):
            return JSONResponse({"error": "bad or missing signature (X-Hub-Signature-256 or X-Gitlab-Token)"}, status_code=401)
        ctx.loop.trigger("push hook")
        return JSONResponse({"queued": True}, status_code=202)

    routes: list[BaseRoute] = [
        *ctx.extra_routes,  # first: starlette tries routes in order, and the webhooks are the busiest
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/status", guarded(ctx, status)),
        Route("/metrics", guarded(ctx, metrics)),
        Route("/hooks/git", git_hook, methods=["POST"]),
        *page_routes(ctx),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _hook_signed(request: Request, body: bytes, secret: str) -> bool:
    github = request.headers.get("x-hub-signature-256")
    if github:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(github.strip().lower(), expected)
    gitlab = request.headers.get("x-gitlab-token")
    if gitlab:
        return hmac.compare_digest(gitlab.encode(), secret.encode())
    gitea = request.headers.get("x-gitea-signature")
    if gitea:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(gitea.strip().lower(), expected)
    return False
