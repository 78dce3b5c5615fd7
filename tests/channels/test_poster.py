"""The outbox's HTTP client against a real server on loopback that misbehaves on request."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess

import httpx
import pytest

from controller.channels.poster import MAX_RESPONSE_BYTES, Poster


class Server:
    """HTTP/1.1 on 127.0.0.1: answers each request as `mode` says; counts connections, keeps requests."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.connections = 0
        self.requests: list[tuple[bytes, dict[bytes, bytes], bytes]] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v20.0/123/messages?x=1"

    async def __aenter__(self) -> "Server":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                headers = {k.lower(): v for k, v in (line.split(b": ", 1) for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers[b"content-length"]))
                self.requests.append((lines[0], headers, body))
                if self.mode == "silent":
                    await asyncio.sleep(30)
                if self.mode == "cut":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"mess")
                    await writer.drain()
                    writer.close()
                    return
                if self.mode == "chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                                 b"5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n")
                elif self.mode == "huge":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (MAX_RESPONSE_BYTES + 10)
                                 + b"x" * (MAX_RESPONSE_BYTES + 10))
                else:
                    answer = json.dumps({"messages": [{"id": f"wamid.{len(self.requests)}"}]}).encode()
                    close = self.mode == "close"
                    writer.write(b"HTTP/1.1 429 Too Many\r\n" if self.mode == "429" else b"HTTP/1.1 200 OK\r\n")
                    writer.write(b"content-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
                                 % (len(answer), b"connection: close\r\n" if close else b"", answer))
                    if close:
                        await writer.drain()
                        writer.close()
                        return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def run(coro):
    return asyncio.run(coro)


def test_posts_go_out_on_one_kept_alive_connection_with_their_headers_and_body() -> None:
    async def go() -> None:
        async with Server() as server, Poster() as poster:
            for i in range(5):
                response = await poster.post(server.url, content=b'{"n":%d}' % i,
                                             headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
                                             timeout=5)
                assert response.status_code == 200
                assert response.json() == {"messages": [{"id": f"wamid.{i + 1}"}]}
            assert server.connections == 1
            line, headers, body = server.requests[-1]
            assert line == b"POST /v20.0/123/messages?x=1 HTTP/1.1"
            assert headers[b"authorization"] == b"Bearer t"
            assert headers[b"content-type"] == b"application/json"
            assert headers[b"host"].startswith(b"127.0.0.1:")
            assert body == b'{"n":4}'

    run(go())


def test_a_connection_the_server_closed_is_not_reused() -> None:
    async def go() -> None:
        async with Server() as server, Poster() as poster:
            server.mode = "close"
            for _ in range(3):
                assert (await poster.post(server.url, content=b"{}", headers={}, timeout=5)).status_code == 200
                await asyncio.sleep(0.01)  # the close reaches the client's reader
            assert server.connections == 3

    run(go())


def test_error_statuses_come_back_as_responses_for_the_adapter_to_classify() -> None:
    async def go() -> None:
        async with Server() as server, Poster() as poster:
            server.mode = "429"
            response = await poster.post(server.url, content=b"{}", headers={}, timeout=5)
            assert response.status_code == 429
            server.mode = "ok"
            assert (await poster.post(server.url, content=b"{}", headers={}, timeout=5)).status_code == 200
            assert server.connections == 1

    run(go())


def test_a_chunked_answer_is_read_whole() -> None:
    async def go() -> None:
        async with Server() as server, Poster() as poster:
            server.mode = "chunked"
            assert (await poster.post(server.url, content=b"{}", headers={}, timeout=5)).json() == {"a": 1}

    run(go())


def test_a_silent_server_is_a_read_timeout_and_its_connection_is_dropped() -> None:
    async def go() -> None:
        async with Server() as server, Poster() as poster:
            server.mode = "silent"
            with pytest.raises(httpx.ReadTimeout):
                await poster.post(server.url, content=b"{}", headers={}, timeout=0.2)
            server.mode = "ok"
            assert (await poster.post(server.url, content=b"{}", headers={}, timeout=5)).status_code == 200
            assert server.connections == 2

    run(go())


def test_an_answer_cut_short_or_too_large_is_a_protocol_error() -> None:
    async def go() -> None:
        async with Server() as server, Poster() as poster:
            server.mode = "cut"
            with pytest.raises(httpx.RemoteProtocolError):
                await poster.post(server.url, content=b"{}", headers={}, timeout=5)
            server.mode = "huge"
            with pytest.raises(httpx.RemoteProtocolError, match="bytes"):
                await poster.post(server.url, content=b"{}", headers={}, timeout=5)

    run(go())


def test_nothing_listening_is_a_connect_error(closed_port_url: str) -> None:
    async def go() -> None:
        async with Poster() as poster:
            with pytest.raises(httpx.ConnectError):
                await poster.post(closed_port_url + "/x", content=b"{}", headers={}, timeout=5)
            with pytest.raises(httpx.UnsupportedProtocol):
                await poster.post("ftp://127.0.0.1/x", content=b"{}", headers={}, timeout=5)

    run(go())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (openssl), and its key."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = str(where / "cert.pem"), str(where / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def test_https_is_verified_against_trusted_certificates(certificate: tuple[str, str]) -> None:
    cert, key = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)

    async def go() -> None:
        async with Server() as server:
            tls = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=server_side)
            url = f"https://127.0.0.1:{tls.sockets[0].getsockname()[1]}/v20.0/123/messages"
            try:
                async with Poster() as poster:  # the system's trusted roots: a self-signed certificate is refused
                    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                        await poster.post(url, content=b"{}", headers={}, timeout=5)
                trusting = ssl.create_default_context(cafile=cert)
                async with Poster(ssl_context=trusting) as poster:
                    for _ in range(2):
                        assert (await poster.post(url, content=b"{}", headers={}, timeout=5)).status_code == 200
                assert server.connections == 1
            finally:
                tls.close()

    run(go())


def test_the_outbox_sends_through_httpx_when_the_environment_names_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.runtime.dispatcher import Dispatcher

    dispatcher = Dispatcher(store=None, accounts=lambda name: None)  # type: ignore[arg-type]
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(dispatcher._client(), Poster)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert isinstance(dispatcher._client(), httpx.AsyncClient)
