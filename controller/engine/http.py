"""The real HTTP service a host injects: httpx, secret headers resolved at call time, answers bounded."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from controller.manifests.components import SecretRef
from controller.manifests.secrets import SecretMissing, describe, resolve

from .services import HeaderValue, HttpRequest, HttpResponse, Secret

MAX_RESPONSE_BYTES = 1024 * 1024
USER_AGENT = "chatflow"


class HttpClient:
    """Callable as `Services.http`. Redirects are not followed (a 3xx is a failure), so a secret
    header is only ever sent to the URL the flow names."""

    def __init__(self, client: httpx.Client | None = None, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._client = client or httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT})
        self._max_bytes = max_bytes

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            headers = {name: _value(value) for name, value in request.headers}
        except SecretMissing as exc:
            return HttpResponse(None, error=f"secret missing: {exc}")
        content: dict[str, Any] = {}
        if request.body is not None:
            if request.body_type == "form":
                content["data"] = _form(request.body)
            else:
                content["json"] = request.body
        started = time.perf_counter()
        try:
            # merged, not passed as `params`: httpx would replace the URL's own query string with them
            url = httpx.URL(request.url).copy_merge_params(list(request.query)) if request.query else request.url
            with self._client.stream(
                request.method,
                url,
                headers=headers,
                timeout=httpx.Timeout(request.timeout),
                **content,
            ) as response:
                data = bytearray()
                for chunk in response.iter_bytes():
                    data.extend(chunk)
                    if len(data) > self._max_bytes:
                        return HttpResponse(response.status_code, error=f"response larger than {self._max_bytes} bytes",
                                            elapsed_ms=_ms(started))
                    if time.perf_counter() - started > request.timeout:
                        raise httpx.ReadTimeout("total time exceeded")
                status = response.status_code
                content_type = response.headers.get("content-type", "")
                encoding = response.encoding or "utf-8"
        except httpx.TimeoutException:
            return HttpResponse(None, error=f"timed out after {request.timeout:g}s", elapsed_ms=_ms(started))
        except (httpx.HTTPError, ValueError) as exc:
            return HttpResponse(None, error=f"{type(exc).__name__}: {_scrub(str(exc), request)}", elapsed_ms=_ms(started))
        return HttpResponse(status, _parse(bytes(data), content_type, encoding), elapsed_ms=_ms(started))


def _value(value: HeaderValue) -> str:
    if isinstance(value, Secret):
        return value.prefix + resolve(value.ref)
    if isinstance(value, SecretRef):
        return resolve(value)
    return value


def _form(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        return {"body": body if isinstance(body, str) else json.dumps(body)}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}


def _parse(data: bytes, content_type: str, encoding: str) -> Any:
    text = data.decode(encoding, errors="replace")
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _scrub(message: str, request: HttpRequest) -> str:
    """An error text with any resolved secret value taken out (a client error may echo headers)."""
    for _, value in request.headers:
        ref = value.ref if isinstance(value, Secret) else value
        if isinstance(ref, SecretRef):
            try:
                secret = resolve(ref)
            except SecretMissing:
                continue
            for form in {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]}:
                message = message.replace(form, f"<{describe(ref)}>")
    return message


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
