"""The outbox's HTTP client: POSTs over kept-alive HTTP/1.1 connections, framed by h11.

The channel adapters call `post(url, content=, headers=, timeout=)` and get an httpx.Response,
as they would from httpx.AsyncClient, and the same httpx exceptions on failure. What this leaves
out is what a send never uses: redirects, cookies, auth flows, HTTP/2, streaming bodies. Measured
(bench/README.md, third round): ~160 µs of CPU per send against ~650 µs through
httpx.AsyncClient and httpcore's pool, which were most of the outbox worker's time.

A connection is reused only if the last exchange on it completed and the peer has not closed it;
a proxy set in the environment (HTTPS_PROXY...) is honoured by sending through httpx instead.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from typing import Mapping

import certifi
import h11
import httpx

MAX_RESPONSE_BYTES = 1 << 20  # a channel's answer to a send is a few hundred bytes
MAX_IDLE_PER_ORIGIN = 64
USER_AGENT = "chatflow"

Origin = tuple[str, str, int]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)

    @property
    def reusable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class Poster:
    """POST requests over a pool of idle connections per origin (scheme, host, port)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, max_idle: int = MAX_IDLE_PER_ORIGIN) -> None:
        self._ssl = ssl_context
        self._max_idle = max_idle
        self._idle: dict[Origin, list[_Connection]] = defaultdict(list)
        self._urls: dict[str, httpx.URL] = {}  # an account's endpoint is parsed once, not per send

    async def __aenter__(self) -> "Poster":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=certifi.where())
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl

    async def post(self, url: str, *, content: bytes, headers: Mapping[str, str], timeout: float) -> httpx.Response:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= 1024:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        request = httpx.Request("POST", parsed, content=content, headers={"User-Agent": USER_AGENT, **headers})
        scheme, host, port = request.url.scheme, request.url.host, request.url.port
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"`{url}`: only http and https URLs can be sent to", request=request)
        origin = (scheme, host, port or (443 if scheme == "https" else 80))
        connection = self._take(origin)
        if connection is None:
            connection = await self._connect(origin, timeout, request)
        try:
            response = await self._exchange(connection, request, timeout)
        except BaseException:
            connection.close()
            raise
        if connection.h11.our_state is h11.DONE and connection.h11.their_state is h11.DONE and connection.reusable:
            connection.h11.start_next_cycle()
            self._give(origin, connection)
        else:
            connection.close()
        return response

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.reusable:
                return connection
            connection.close()
        return None

    def _give(self, origin: Origin, connection: _Connection) -> None:
        idle = self._idle[origin]
        if len(idle) < self._max_idle:
            idle.append(connection)
        else:
            connection.close()

    async def _connect(self, origin: Origin, timeout: float, request: httpx.Request) -> _Connection:
        scheme, host, port = origin
        context = self._context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, ssl=context,
                                                               server_hostname=host if context else None)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} within {timeout:g} s", request=request) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"{host}:{port}: {exc}", request=request) from exc
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, request: httpx.Request, timeout: float) -> httpx.Response:
        conn = connection.h11
        target = request.url.raw_path
        try:  # httpx.Request has set Host and Content-Length
            data = conn.send(h11.Request(method=b"POST", target=target, headers=request.headers.raw))
            data += conn.send(h11.Data(data=request.content)) + conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        try:
            async with asyncio.timeout(timeout):  # a deadline, not a task per wait as wait_for makes
                connection.writer.write(data)
                try:
                    await connection.writer.drain()
                except OSError as exc:
                    raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
                return await self._read(connection, request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no complete answer within {timeout:g} s", request=request) from exc

    async def _read(self, connection: _Connection, request: httpx.Request) -> httpx.Response:
        conn = connection.h11
        head: h11.Response | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is h11.NEED_DATA:
                try:
                    chunk = await connection.reader.read(65536)
                except OSError as exc:
                    raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
                conn.receive_data(chunk)  # b"" is the end of the stream: h11 raises if the answer was cut
                continue
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.InformationalResponse):
                continue
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_RESPONSE_BYTES:
                    raise httpx.RemoteProtocolError(f"answer over {MAX_RESPONSE_BYTES} bytes", request=request)
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return httpx.Response(head.status_code, headers=head.headers, content=bytes(body), request=request,
                                      extensions={"http_version": b"HTTP/" + head.http_version})
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("the server closed the connection without an answer", request=request)
