"""The engine's only ways out: HTTP, the LLM and ids, injected so the engine stays pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Literal

from controller.manifests.components import SecretRef



@dataclass(frozen=True)
class Secret:
    """A header value made of a fixed prefix and a secret (`Bearer ` + a key), resolved by the client."""

    ref: SecretRef
    prefix: str = ""


HeaderValue = str | SecretRef | Secret


@dataclass(frozen=True)
class HttpRequest:
    """A rendered `http` node. Secret headers stay references; the client resolves them."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    headers: tuple[tuple[str, HeaderValue], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    body_type: Literal["json", "form"] = "json"
    timeout: float = 10.0


@dataclass(frozen=True)
class HttpResponse:
    """`status` None with `error` set: no answer (timeout, refused, a secret missing...)."""

    status: int | None
    body: Any = None  # parsed JSON, else the text
    error: str | None = None
    elapsed_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class LlmRequest:
    prompt: str
    system: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class LlmResponse:
    text: str | None
    error: str | None = None
    elapsed_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


Http = Callable[[HttpRequest], HttpResponse]
Llm = Callable[[LlmRequest], LlmResponse]


def no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(None, error="HTTP calls are not available here")


def no_llm(request: LlmRequest) -> LlmResponse:
    return LlmResponse(None, error="no LLM is available here")


def new_uuid() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Services:
    """What a host injects. The defaults make no call at all (every call fails cleanly)."""

    http: Http = no_http
    llm: Llm = no_llm
    new_id: Callable[[], str] = new_uuid


OFFLINE = Services()
