"""`http`: a templated request through the injected HTTP service.

A 2xx answer saves the `save` fields (JMESPath) and goes to `next`; any other status, a timeout
or an error goes to `on_failure` (no `on_failure`: the conversation ends).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jmespath
from jmespath.exceptions import JMESPathError

from controller.manifests.components import SECRET_HEADER, Http, duration_seconds
from controller.manifests.expressions import ExpressionError

from .. import events as ev
from ..run import Go, Move, Run
from ..services import HeaderValue, HttpRequest
from .executor import Executor

REDACTED = "***"


def request(node: Http, run: Run) -> HttpRequest:
    """The node's request with every template rendered; raises ExpressionError."""
    url = run.render(node.url).strip()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ExpressionError(f"url {shown_url(url, ())!r} is not an http:// or https:// URL")
    headers: list[tuple[str, HeaderValue]] = [
        (name, run.render(value) if isinstance(value, str) else value) for name, value in node.headers.items()
    ]
    query = tuple((name, run.render(value)) for name, value in node.query.items())
    return HttpRequest(
        method=node.method,
        url=url,
        headers=tuple(headers),
        query=query,
        body=_body(node.body, run),
        body_type=node.body_type,
        timeout=float(duration_seconds(node.timeout)),
    )


def _body(value: Any, run: Run) -> Any:
    if isinstance(value, str):
        return run.render(value)
    if isinstance(value, dict):
        return {k: _body(v, run) for k, v in value.items()}
    if isinstance(value, list):
        return [_body(v, run) for v in value]
    return value


def shown_url(url: str, query: tuple[tuple[str, str], ...]) -> str:
    """The URL as logs show it: no user:password, and secret-looking query values masked."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (host + (f":{parts.port}" if parts.port else "")) if "@" in parts.netloc else parts.netloc
    pairs = parse_qsl(parts.query, keep_blank_values=True) + list(query)
    shown = urlencode([(k, REDACTED if SECRET_HEADER.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, shown, ""))


def enter(node: Http, node_id: str, run: Run) -> Move:
    try:
        req = request(node, run)
    except ExpressionError as exc:
        return run.fail(node_id, node, str(exc))
    response = run.services.http(req)
    run.emit(
        ev.HTTP_CALL,
        node_id,
        method=req.method,
        url=shown_url(req.url, req.query),
        status=response.status,
        error=response.error,
        elapsed_ms=response.elapsed_ms,
    )
    if not response.ok:
        reason = response.error or f"status {response.status}"
        return run.fail(node_id, node, f"{req.method} {shown_url(req.url, req.query)} failed: {reason}")
    saved: dict[str, Any] = {}
    for name, path in node.save.items():
        try:
            saved[name] = jmespath.search(path, response.body)
        except JMESPathError as exc:
            return run.fail(node_id, node, f"save.{name}: JMESPath {path!r} does not compile: {exc}")
    for name, value in saved.items():
        run.set_var(node_id, name, value)
    return Go(node.next)


EXECUTOR = Executor(enter)
