"""The one small interface every channel adapter implements: verify, parse, render, send."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import httpx

from controller.engine.messages import InboundEvent, OutboundMessage
from controller.manifests.models import Account
from controller.manifests.secrets import SecretMissing

SignatureCheck = Literal["ok", "missing", "invalid"]
Outcome = Literal["sent", "retryable", "permanent"]
Routing = Literal["payload", "url"]

DEFAULT_SEND_TIMEOUT = 10.0  # seconds; Meta answers a send in well under a second when healthy


class ParseError(ValueError):
    """The webhook body is not a JSON object; the host answers 400 and logs the message."""


class RenderError(ValueError):
    """This channel cannot carry the message at all (e.g. a WhatsApp template on Viber)."""


@dataclass(frozen=True)
class Handshake:
    """The answer to a subscription handshake (Meta's GET `hub.*`): status code and plain-text body."""

    status: int
    body: str

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class SendResult:
    """How one send went: `sent` with the channel's message id, or a classified failure.

    `retryable` failures (throttling, 5xx, timeouts, connection errors) may succeed later;
    `permanent` ones never will (bad recipient, outside the 24-hour window, bad token).
    `maybe_delivered` is true when the request may have reached the channel before it failed
    (a read timeout, a dropped connection): a retry can then repeat the message.
    """

    outcome: Outcome
    message_id: str | None = None
    code: str | None = None
    title: str | None = None
    hint: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    maybe_delivered: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"

    @property
    def retryable(self) -> bool:
        return self.outcome == "retryable"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively, from starlette's Headers or a plain dict."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a `Retry-After: <seconds>` header; the HTTP-date form is ignored."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86400 else None


def response_json(response: httpx.Response) -> Any:
    """The response body as JSON (integers kept exact), or None when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return None


class Client(Protocol):
    """What a send needs of an HTTP client: the outbox's Poster, or an httpx.AsyncClient."""

    async def post(self, url: str, *, content: bytes, headers: Mapping[str, str],
                   timeout: float) -> httpx.Response: ...


class ChannelAdapter(ABC):
    """One channel's wire format. Pure apart from `send`, which does the one HTTP call.

    The host (runtime/web) calls, per webhook request: `handshake` for a GET, else `verify`
    on the raw body (401 unless "ok"), then `parse` (ParseError -> 400), and routes each event
    by `event.account_channel_id` (payload routing) or by the URL (url routing). The outbox
    calls `send`, which renders, posts to `{apiBase}` and classifies the answer.
    """

    name: ClassVar[str]
    max_body_bytes: ClassVar[int]  # larger webhook bodies get 413 before anything else
    signature_header: ClassVar[str]
    routing: ClassVar[Routing]  # "payload": ids in the body name the account; "url": only the URL does
    default_api_base: ClassVar[str]

    # -- verify ------------------------------------------------------------------------------

    def handshake(self, account: Account, query: Mapping[str, str]) -> Handshake | None:
        """The GET subscription handshake; None when the channel has none (the host answers 405)."""
        return None

    @abstractmethod
    def verify(self, account: Account, body: bytes, headers: Mapping[str, str]) -> SignatureCheck:
        """Check the request signature over the raw body bytes with this account's secret.

        Raises SecretMissing when the secret is not available (the host answers 503).
        """

    # -- parse -------------------------------------------------------------------------------

    @abstractmethod
    def parse(self, body: bytes) -> list[InboundEvent]:
        """Every event in the body, in payload order; never empty.

        Raises ParseError (and nothing else) when the body is not a JSON object. Any valid
        JSON object parses: shapes the adapter does not know become kind "other".
        """

    # -- render and send ---------------------------------------------------------------------

    @abstractmethod
    def render(self, account: Account, to: str, message: OutboundMessage) -> dict[str, Any]:
        """The channel's JSON request body for `message` to the contact address `to`.

        Degrades what the channel cannot show (see docs/channels.md); raises RenderError when
        the channel cannot carry the message at all.
        """

    @abstractmethod
    def endpoint(self, account: Account) -> str:
        """The URL sends for this account go to."""

    @abstractmethod
    def auth_headers(self, account: Account) -> dict[str, str]:
        """The headers that authenticate a send; resolves the account's secret (SecretMissing)."""

    @abstractmethod
    def classify(self, response: httpx.Response) -> SendResult:
        """Turn the channel's HTTP answer into a SendResult."""

    def api_base(self, account: Account) -> str:
        return (account.spec.apiBase or self.default_api_base).rstrip("/")

    def channel_id(self, account: Account) -> str | None:
        """The id a payload carries for this account (phone_number_id, page id, IG user id)."""
        return account.spec.channel_id()

    def check_account(self, account: Account) -> None:
        if account.spec.channel != self.name:
            raise ValueError(
                f"account {account.name!r} is a {account.spec.channel} account, not {self.name}"
            )

    async def send(
        self,
        client: Client,
        account: Account,
        to: str,
        message: OutboundMessage,
        *,
        timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> SendResult:
        """Render `message`, POST it to the channel, classify the answer. Never raises for I/O."""
        self.check_account(account)
        try:
            body = self.render(account, to, message)
        except RenderError as exc:
            return SendResult("permanent", code="render", title=str(exc))
        try:
            auth = self.auth_headers(account)
        except SecretMissing as exc:
            return SendResult("retryable", code="secret_missing", title=str(exc),
                              hint="set the secret the Account references; the message waits")
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {**auth, "Content-Type": "application/json"}
        try:
            response = await client.post(self.endpoint(account), content=content, headers=headers,
                                         timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return SendResult("retryable", code="connection", title=_describe(exc))
        except httpx.TimeoutException as exc:
            return SendResult("retryable", code="timeout", title=_describe(exc), maybe_delivered=True)
        except httpx.TransportError as exc:
            return SendResult("retryable", code="transport", title=_describe(exc), maybe_delivered=True)
        return self.classify(response)


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
