"""The read-only web pages: the flows table at `/`, a flow's canvas, revisions, events and test panel at `/flows/{name}`."""

from __future__ import annotations

import asyncio
import hmac
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from controller.lifecycle.state import RevisionRecord
from controller.manifests.svg import render

from .app import Context, authorized, status_document

TEMPLATES = Path(__file__).parent / "templates"
COOKIE = "chatflow_token"
REFRESH_SECONDS = 5
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True)


def page_routes(ctx: Context) -> list[BaseRoute]:
    """GET /, /flows/{name}, /flows/{name}/graph.svg and /login (DESIGN §6 access rules)."""

    def guard(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not authorized(request, ctx.settings):
                return _page("message.html", request, ctx, status_code=401, title="Sign in",
                             message="This page needs the API token.",
                             hint=f"Open /login?token=…&next={quote(request.url.path)} with $CHATFLOW_API_TOKEN once; "
                                  "a cookie keeps you signed in.", headers={"WWW-Authenticate": "Bearer"})
            return await handler(request)

        return endpoint

    async def index(request: Request) -> Response:
        report, actual = await asyncio.to_thread(lambda: (status_document(ctx), ctx.store.actual()))
        names = {n: r.display_name for n, r in actual.flows.items() if r.display_name}
        return _page("index.html", request, ctx, title="Flows", report=report, display_names=names, **_summary(report))

    async def flow_page(request: Request) -> Response:
        name = request.path_params["name"]
        view = await asyncio.to_thread(_flow_view, ctx, name, request.query_params.get("rev"))
        if view is None:
            return _page("message.html", request, ctx, status_code=404, title="No such flow",
                         message=f"There is no flow `{name}` in the manifests or the state store.", hint="The flows are listed at /.")
        return _page("flow.html", request, ctx, title=name, **view)

    async def graph_svg(request: Request) -> Response:
        name = request.path_params["name"]
        view = await asyncio.to_thread(_flow_view, ctx, name, request.query_params.get("rev"))
        if view is None or not view["svg"]:
            return Response(f"no stored revision of flow {name} to draw\n", status_code=404, media_type="text/plain")
        return Response(view["svg"], media_type="image/svg+xml")

    async def login(request: Request) -> Response:
        token = request.query_params.get("token", "")
        target = _local(request.query_params.get("next", "/"))
        expected = ctx.settings.api_token
        if expected is None and ctx.settings.loopback:
            return RedirectResponse(target, status_code=303)  # nothing to sign in to
        if expected is None or not token or not hmac.compare_digest(token.encode(), expected.encode()):
            why = ("the server has no CHATFLOW_API_TOKEN set, so pages are closed off loopback" if expected is None
                   else "the token does not match CHATFLOW_API_TOKEN")
            return _page("message.html", request, ctx, status_code=401, title="Sign in", message=f"Not signed in: {why}.",
                         hint="Open /login?token=… with the server's CHATFLOW_API_TOKEN.")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https", max_age=30 * 86400)
        return response

    return [
        Route("/", guard(index)),
        Route("/flows/{name}", guard(flow_page)),
        Route("/flows/{name}/graph.svg", guard(graph_svg)),
        Route("/login", login),
    ]


def _local(target: str) -> str:
    """Only a path on this server (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _page(template: str, request: Request, ctx: Context, status_code: int = 200, headers: dict[str, str] | None = None,
          **values: Any) -> HTMLResponse:
    html = _env.get_template(template).render(settings=ctx.settings, refresh=REFRESH_SECONDS, path=request.url.path, **values)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store", **(headers or {})})


def _ready(item: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in item["conditions"] if c["type"] == "Ready"),
                {"type": "Ready", "status": "Unknown", "reason": "NotReconciled", "message": "not reconciled yet"})


def _problems(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Conditions that say something is wrong: Invalid or Blocked true."""
    return [c for c in item["conditions"] if c["type"] in ("Invalid", "Blocked") and c["status"] == "True"]


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    flows = [dict(f, ready=_ready(f), problems=_problems(f)) for f in report["flows"]]
    accounts = [dict(a, ready=_ready(a), problems=_problems(a)) for a in report["accounts"]]
    not_ready = sum(1 for item in (*flows, *accounts) if item["ready"]["status"] != "True")
    return {"flows": flows, "accounts": accounts, "not_ready": not_ready}


def _flow_view(ctx: Context, name: str, rev: str | None) -> dict[str, Any] | None:
    report = status_document(ctx)
    status = next((f for f in report["flows"] if f["name"] == name), None)
    record = ctx.store.flow(name)
    if status is None and record is None:
        return None
    revisions: list[RevisionRecord] = ctx.store.revisions(name) if record is not None else []
    chosen = _choose(revisions, record.live_revision if record else None, rev)
    spec = json.loads(chosen.spec_json) if chosen is not None else {}
    last = ctx.reconciler.last
    desired = last.snapshot.desired.flows.get(name) if last is not None and last.snapshot is not None else None
    item = dict(status or {"name": name, "conditions": []})
    trigger = (spec.get("trigger") or {}).get("type") or item.get("trigger")
    # the declared trigger inputs, with their defaults (or an empty value to fill in)
    variables = {k: (v or {}).get("default") if (v or {}).get("default") is not None else "" for k, v in (spec.get("variables") or {}).items()}
    return {
        "flow": dict(item, ready=_ready(item), problems=_problems(item)),
        "record": record,
        "display_name": (record.display_name if record else None) or (desired.display_name if desired else None),
        "remark": (record.remark if record else None) or (desired.remark if desired else None),
        "logging": record.logging if record else (desired.logging if desired else False),
        "keywords": list(record.keywords) if record else [],
        "manifest_path": desired.path if desired else None,
        "trigger": trigger,
        "manual": trigger == "manual",
        "variables_json": json.dumps(variables, ensure_ascii=False),
        "revisions": [{"number": r.number, "hash": r.hash, "commit": r.commit, "created_at": r.created_at,
                       "live": record is not None and r.hash == record.live_revision,
                       "shown": chosen is not None and r.hash == chosen.hash} for r in reversed(revisions)],
        "shown": chosen,
        "shown_is_live": chosen is not None and record is not None and chosen.hash == record.live_revision,
        "selected": rev if chosen is not None and rev else None,
        "node_count": len(spec.get("nodes") or {}),
        "svg": _canvas(name, chosen.hash, chosen.number, chosen.spec_json) if chosen else "",
        "commit": report["commit"],
    }


@lru_cache(maxsize=256)
def _canvas(name: str, revision: str, number: int, spec_json: str) -> str:
    """A stored revision never changes, so neither does its drawing (pages refresh every few seconds)."""
    return render(json.loads(spec_json).get("nodes") or {}, f"{name} revision #{number}", id_prefix="canvas")


def _choose(revisions: list[RevisionRecord], live: str | None, rev: str | None) -> RevisionRecord | None:
    """?rev=N or ?rev=HASH, else the live revision, else the newest."""
    if rev:
        wanted = rev.lstrip("#")
        found = next((r for r in revisions if str(r.number) == wanted or r.hash == wanted), None)
        if found is not None:
            return found
    return next((r for r in revisions if r.hash == live), revisions[-1] if revisions else None)
