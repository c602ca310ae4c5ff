"""The gateway's lean HTTP/1.1 transport: keep-alive reuse, chunked and closing answers, a safe
request retried once when its reused connection was closed (an unsafe one never), failures as
httpx's own exceptions; and the whole gateway over real sockets to a uvicorn-served registry."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from safework_gateway.app import create_app
from safework_gateway.transport import LeanTransport
from tests.conftest import running
from tests.gateway.conftest import Stack, gateway_settings_for
from tests.support.net import loopback_listener

Reply = Callable[[int, bytes], Awaitable[bytes | None]]


class Scripted:
    """A tiny HTTP/1.1 server on an ephemeral loopback port, answering by script."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                answer = await self.reply(len(self.requests), request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def scripted(reply: Reply) -> AsyncIterator[Scripted]:
    server = Scripted(reply)
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.server.close()
        for writer in server.writers:  # handlers still waiting (the silent one) end here
            writer.close()
        await server.server.wait_closed()


def ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


async def always_ok(n: int, request: bytes) -> bytes:
    return ok(b'{"n":%d}' % n)


async def test_keep_alive_reuses_one_connection_and_sends_what_was_asked() -> None:
    async with scripted(always_ok) as server, httpx.AsyncClient(transport=LeanTransport()) as client:
        first = await client.get(f"{server.url}/v1/things?a=1&b=%C3%A9", headers={"X-Internal-Token": "t"})
        second = await client.post(f"{server.url}/v1/things", content=b'{"x":1}', headers={"content-type": "a/b"})
        third = await client.post(f"{server.url}/v1/empty")
    assert [r.json()["n"] for r in (first, second, third)] == [1, 2, 3]
    assert server.connections == 1
    get, post, empty = server.requests
    assert get.startswith(b"GET /v1/things?a=1&b=%C3%A9 HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in get.lower() and b"x-internal-token: t" in get.lower()
    assert b"accept-encoding" not in get.lower()
    assert b"content-length: 7\r\n" in post.lower() and post.endswith(b'{"x":1}')
    assert b"content-length: 0\r\n" in empty.lower()


async def test_chunked_answers_are_decoded() -> None:
    async def chunked(n: int, request: bytes) -> bytes:
        return b'HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'

    async with scripted(chunked) as server, httpx.AsyncClient(transport=LeanTransport()) as client:
        r = await client.get(server.url + "/")
        again = await client.get(server.url + "/")
    assert (r.status_code, r.json(), again.json()) == (201, {"a": 1}, {"a": 1})
    assert server.connections == 1


async def test_an_answer_with_connection_close_is_not_reused() -> None:
    async def closing(n: int, request: bytes) -> bytes:
        return ok(extra=b"connection: close\r\n")

    async with scripted(closing) as server, httpx.AsyncClient(transport=LeanTransport()) as client:
        for _ in range(3):
            assert (await client.get(server.url + "/")).status_code == 200
    assert server.connections == 3


async def test_a_safe_request_is_retried_once_when_its_reused_connection_was_dropped() -> None:
    async def drop_second(n: int, request: bytes) -> bytes | None:
        return None if n == 2 else ok(b'{"n":%d}' % n)

    async with scripted(drop_second) as server, httpx.AsyncClient(transport=LeanTransport()) as client:
        assert (await client.get(server.url + "/")).json() == {"n": 1}
        assert (await client.get(server.url + "/")).json() == {"n": 3}
    assert server.connections == 2


async def test_an_unsafe_request_is_never_retried() -> None:
    async def drop_second(n: int, request: bytes) -> bytes | None:
        return None if n == 2 else ok()

    async with scripted(drop_second) as server, httpx.AsyncClient(transport=LeanTransport()) as client:
        assert (await client.post(server.url + "/", content=b"{}")).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url + "/", content=b"{}")
    assert len(server.requests) == 2  # the POST reached the server once


async def test_failures_are_httpx_exceptions() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    async with httpx.AsyncClient(transport=LeanTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port}/")
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get("https://127.0.0.1/")

    async def garbage(n: int, request: bytes) -> bytes:
        return b"NOT HTTP AT ALL\r\n\r\n"

    async with scripted(garbage) as server, httpx.AsyncClient(transport=LeanTransport()) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url + "/")

    never = asyncio.Event()

    async def silent(n: int, request: bytes) -> bytes:
        await never.wait()
        return ok()

    async with scripted(silent) as server, httpx.AsyncClient(transport=LeanTransport(), timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url + "/")
        never.set()


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn server on an ephemeral loopback port."""
    sock = loopback_listener()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with httpx.AsyncClient() as probe:
        for _ in range(500):
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_gateway_forwards_over_real_sockets_with_the_lean_transport(
    registry_app: FastAPI, db: str, keys_dir: Path
) -> None:
    async with served(registry_app) as registry_url:
        settings = gateway_settings_for(db, keys_dir, registry_url=registry_url, upstream_transport="lean")
        app = create_app(settings, configure_logs=False)
        async with running(app) as http:
            assert isinstance(app.state.registry.client._transport, LeanTransport)
            stack = Stack(app=app, http=http)
            body = {"tax_code": "2400999001", "name": "Công ty Lean", "district": "Việt Yên", "zone_type": "OUTSIDE"}
            created = await http.post("/api/v1/enterprises", json=body, headers=stack.province())
            assert created.status_code == 201, created.text
            eid = created.json()["id"]
            r = await http.get(f"/api/v1/enterprises/{eid}", headers=stack.province())
            assert r.status_code == 200 and r.json()["name"] == "Công ty Lean"
            missing = await http.get(f"/api/v1/enterprises/{uuid.uuid4()}", headers=stack.province())
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "enterprise_not_found"
        app = create_app(settings, configure_logs=False)
    async with running(app) as http:
        r = await http.get(f"/api/v1/enterprises/{eid}", headers=Stack(app=app, http=http).province())
        assert r.status_code == 503 and r.json()["error"]["code"] == "upstream_unavailable"
        assert "retry-after" in r.headers


async def test_no_module_is_stubbed_for_httpx() -> None:
    """Issue 19: httpcore's event-loop check used to find a ``None`` planted in ``sys.modules``
    for sniffio; sniffio is a dependency now, and the real module answers."""
    import safework_gateway.upstream  # noqa: F401  (it used to plant the stub on import)

    sniffio = sys.modules.get("sniffio")
    assert sniffio is not None
    assert sniffio.current_async_library() == "asyncio"
