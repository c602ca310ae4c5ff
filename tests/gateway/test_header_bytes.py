"""Header bytes a client may send (issue 12, item 4): never a 500, always the error envelope.

* App level (in-process): bytes 0x80-0xFF in ``Accept``, ``Idempotency-Key`` or a
  ``Content-Type`` charset reach the app (HTTP allows them as "obs-text") and used to answer 500
  on every forwarded route (httpx cannot send them on: UnicodeEncodeError). Every forwarded route,
  with each upstream transport (``lean`` and ``httpx``, to a registry and scheduler served by
  uvicorn), now answers 400 ``invalid_header`` / 422 ``invalid_idempotency_key`` naming the header.
* Server level (raw sockets, a real uvicorn): a DEL or another control byte in a header never
  reaches the app; the server refuses it, and its 400 is now in the envelope too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from safework_common.server import H11Protocol, HttpToolsProtocol
from safework_gateway.app import create_app
from safework_gateway.auth.access import api_routes
from safework_gateway.forwarding.routes import FORWARDS, Forward
from tests.conftest import running
from tests.gateway.conftest import DOWN_URL, Stack, bearer, gateway_settings_for
from tests.support.net import loopback_listener

NON_ASCII = "é".encode()  # as a client would send it: UTF-8, which the server hands over as Latin-1


@contextlib.asynccontextmanager
async def served(app: FastAPI, http: Any = "auto") -> AsyncIterator[tuple[str, int]]:
    """The app behind a real uvicorn server on an ephemeral loopback port."""
    sock = loopback_listener()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", http=http))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with httpx.AsyncClient() as probe:
        for _ in range(500):
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        await task


class _Ids(dict[str, str]):
    """Path parameters: a fresh UUID for every ``*_id`` not given."""

    def __missing__(self, key: str) -> str:
        return "Việt Yên" if key == "district" else str(uuid.uuid4())


def filled(path: str) -> str:
    return path.format_map(_Ids({"travel_id": "1", "code": "AZD1222"}))


def token_for(stack: Stack, spec: Forward) -> dict[str, str]:
    """A token of a role the route allows, for its own tenant (the province authority where
    allowed; the worker for the worker's own routes)."""
    if "authority" in spec.roles:
        return stack.province()
    return bearer(stack.token("worker", person_id=str(uuid.uuid4()), enterprise_id=str(uuid.uuid4())))


def envelope(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    return dict(body["error"])


@pytest.fixture(params=["lean", "httpx"])
async def over_sockets(
    request: pytest.FixtureRequest, registry_app: FastAPI, scheduler_app: FastAPI, db: str, keys_dir: Path
) -> AsyncIterator[Stack]:
    """The gateway in-process, forwarding with the given transport to a registry and a scheduler
    each served by uvicorn."""
    async with served(registry_app) as (host, reg_port), served(scheduler_app) as (_, sch_port):
        settings = gateway_settings_for(
            db, keys_dir, registry_url=f"http://{host}:{reg_port}", scheduler_url=f"http://{host}:{sch_port}",
            upstream_transport=request.param,
        )  # fmt: skip
        app = create_app(settings, configure_logs=False)
        async with running(app) as http:
            yield Stack(app=app, http=http)


async def test_non_ascii_header_values_are_refused_in_the_envelope_on_every_forwarded_route(
    over_sockets: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = over_sockets
    caplog.set_level(logging.INFO)
    checked = 0
    for spec in FORWARDS:
        url = filled("/api/v1" + spec.path)
        body = b"{}" if spec.body is not None else None
        ok = [(b"authorization", token_for(stack, spec)["Authorization"].encode())]
        if body is not None:
            ok.append((b"content-type", b"application/json"))

        async def send(name: bytes, value: bytes, ok: list[tuple[bytes, bytes]] = ok) -> httpx.Response:
            headers = [h for h in ok if h[0] != name] + [(name, value)]
            return await stack.http.request(spec.method, url, content=body, headers=headers)  # noqa: B023

        # Accept: passed on for every route, so refused on every route.
        r = await send(b"accept", b"application/json; q=" + NON_ASCII)
        error = envelope(r)
        assert (r.status_code, error["code"]) == (400, "invalid_header"), (spec.method, url, r.text)
        assert error["details"][0]["field"] == "header.Accept"

        # A Content-Type charset: refused where there is a body to describe, else not passed on.
        r = await send(b"content-type", b"application/json; charset=utf-8" + NON_ASCII)
        if body is not None:
            error = envelope(r)
            assert (r.status_code, error["code"]) == (400, "invalid_header"), (spec.method, url, r.text)
            assert error["details"][0]["field"] == "header.Content-Type"
        else:
            assert r.status_code < 500, (spec.method, url, r.text)

        # Idempotency-Key: refused as the registry refuses a bad key, where it is honoured.
        r = await send(b"idempotency-key", b"retry-" + NON_ASCII)
        if spec.idempotent:
            error = envelope(r)
            assert (r.status_code, error["code"]) == (422, "invalid_idempotency_key"), (spec.method, url, r.text)
            assert error["details"][0]["field"] == "header.Idempotency-Key"
        else:
            assert r.status_code < 500, (spec.method, url, r.text)
        checked += 1
    assert checked == len(FORWARDS) > 50
    # No 500, so no traceback: nothing was logged as an error.
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR or rec.exc_info], caplog.text


async def test_no_route_answers_500_to_non_ascii_header_values(gateway: Stack) -> None:
    """The routes the gateway answers itself (tokens, clients, activation, the worker's status,
    compliance) with the same bytes in every header they read."""
    forwarded = {("/api/v1" + f.path, f.method) for f in FORWARDS}
    others = [r for r in api_routes(gateway.app) if (r.path, r.method) not in forwarded]
    assert len(others) > 10
    bad = b"x" + NON_ASCII
    for route in others:
        url = filled(route.path)
        for name in (b"accept", b"content-type", b"idempotency-key", b"authorization", b"if-none-match",
                     b"x-request-id", b"user-agent"):  # fmt: skip
            headers = [(b"authorization", gateway.province()["Authorization"].encode()), (name, bad)]
            r = await gateway.http.request(route.method, url, content=b"{}", headers=headers)
            # (Its upstreams are down: a route that needs one answers 503 upstream_unavailable.)
            assert r.status_code != 500, (route.method, url, name, r.text)
            if r.status_code >= 400:
                envelope(r)


# --- the server's own 400 ----------------------------------------------------------------------


def exchange(host: str, port: int, raw: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


# The bytes each server refuses in a header value by itself (h11 lets DEL and C0 controls but NUL
# through to the app, whose own check answers for them: see the forwarded routes above).
REFUSED = {
    "httptools": ((b"Accept", b"a\x7fb"), (b"Idempotency-Key", b"k\x7f"), (b"Content-Type", b"x\x01y")),
    "h11": ((b"Accept", b"a\x00b"), (b"Idempotency-Key", b"k\x00")),
}


@pytest.mark.parametrize("protocol", [HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def test_the_servers_own_400_is_in_the_envelope_naming_the_header(
    protocol: type[asyncio.Protocol], db: str, keys_dir: Path
) -> None:
    app = create_app(gateway_settings_for(db, keys_dir, registry_url=DOWN_URL, scheduler_url=DOWN_URL),
                     configure_logs=False)  # fmt: skip
    async with served(app, http=protocol) as (host, port):
        for name, value in REFUSED["h11" if protocol is H11Protocol else "httptools"]:
            raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + name + b": " + value + b"\r\n\r\n"
            head, body = await asyncio.to_thread(exchange, host, port, raw)
            assert head.startswith(b"HTTP/1.1 400 "), head
            assert b"\r\ncontent-type: application/json\r\n" in head and b"connection: close" in head
            error = json.loads(body)["error"]
            assert error["code"] == "invalid_header"
            assert error["details"] == [{"field": "header." + name.decode(), "code": "invalid_header",
                                         "message": error["details"][0]["message"]}]  # fmt: skip
        # Not HTTP at all (a TLS hello on the plain port): the envelope, no header to name.
        head, body = await asyncio.to_thread(
            exchange, host, port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"
        )
        assert head.startswith(b"HTTP/1.1 400 ")
        assert json.loads(body) == {"error": {"code": "malformed_request", "message": "The request is not valid "
                                              "HTTP/1.1.", "details": []}}  # fmt: skip
        # obs-text is HTTP: the server hands it to the app, which refuses it itself.
        async with httpx.AsyncClient() as unused:
            token = Stack(app=app, http=unused).province()["Authorization"].encode()
        raw = (b"GET /api/v1/enterprises/" + str(uuid.uuid4()).encode() + b" HTTP/1.1\r\nHost: x\r\n"
               b"Authorization: " + token + b"\r\nAccept: " + NON_ASCII + b"\r\nConnection: close\r\n\r\n")  # fmt: skip
        head, body = await asyncio.to_thread(exchange, host, port, raw)
        assert head.startswith(b"HTTP/1.1 400 "), head
        assert json.loads(body)["error"]["details"][0]["field"] == "header.Accept"
