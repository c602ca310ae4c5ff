"""A lean HTTP/1.1 transport for httpx: pooled keep-alive connections over asyncio streams,
answers parsed by httptools (the C parser uvicorn already ships with).

Why: on the gateway's forwarding path httpx's default transport (httpcore's pool and the
pure-Python h11 parser) measured about 1.0 ms of CPU per request against 0.22 ms for this one
(16 concurrent requests to a trivial upstream on loopback). Measured again against the
maintained pools (issue 19, ``bench/bench_gateway.py``, the same gateway three ways in one run):
httpx's own pool (sniffio installed, no module stubbed) and aiohttp's (``ClientSession`` over a
``TCPConnector``, beneath the same httpx client) each served about 60% of this one's cheap reads
(62 against 38 and 36 req/s), and no more status or compliance reads: it stays, with
``GATEWAY_UPSTREAM_TRANSPORT=httpx`` to switch back (BENCHMARKS.md).

It does only what the gateway needs: plain HTTP/1.1 to the internal services, bodies read whole
(they are bounded), failures raised as httpx's own exceptions (so callers map them to 503/504 as
before). An idle connection is reused only while younger than ``keepalive_expiry`` (set below
the upstream's own keep-alive timeout) and not closed by the peer; a safe request (GET, HEAD)
that finds its reused connection closed is retried once on a new one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

import httptools
import httpx

_CRLF = b"\r\n"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Hop-by-hop or recomputed here; accept-encoding is dropped so answers come back as sent.
_SKIP_HEADERS = frozenset({b"transfer-encoding", b"content-length", b"connection", b"accept-encoding", b"keep-alive"})


class _Answer:
    """httptools parser callbacks, collecting one response."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.keep_alive = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        # Read here, while the parser still holds this message (as uvicorn does).
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def usable(self, now: float, expiry: float) -> bool:
        return now - self.idle_since < expiry and not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class LeanTransport(httpx.AsyncBaseTransport):
    """At most ``max_connections`` requests in flight; idle connections kept per host."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry: float = 4.0,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
    ) -> None:
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)
        self._expiry = keepalive_expiry
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol("This transport speaks plain HTTP/1.1 to internal services only.")
        host = request.url.host
        port = request.url.port or 80
        payload = _serialize(request, host, port, await request.aread())
        timeouts = request.extensions.get("timeout", {})
        connect_timeout = timeouts.get("connect") or self._connect_timeout
        read_timeout = timeouts.get("read") or self._read_timeout
        async with self._slots:
            conn = self._reuse(host, port)
            reused = conn is not None
            if conn is None:
                conn = await self._open(host, port, connect_timeout, request)
            try:
                status, answer, keep = await self._exchange(conn, payload, read_timeout, request)
            except httpx.RemoteProtocolError:
                conn.close()
                if not reused or request.method not in _SAFE_METHODS:
                    raise
                conn = await self._open(host, port, connect_timeout, request)
                try:
                    status, answer, keep = await self._exchange(conn, payload, read_timeout, request)
                except BaseException:
                    conn.close()
                    raise
            except BaseException:
                conn.close()
                raise
            if keep and not self._closed:
                conn.idle_since = time.monotonic()
                self._idle.setdefault((host, port), deque()).append(conn)
            else:
                conn.close()
        return httpx.Response(
            status,
            headers=answer.headers,
            content=b"".join(answer.body),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _reuse(self, host: str, port: int) -> _Connection | None:
        idle = self._idle.get((host, port))
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # the most recently used first: the likeliest to be alive
            if conn.usable(now, self._expiry):
                return conn
            conn.close()
        return None

    async def _open(self, host: str, port: int, limit: float, request: httpx.Request) -> _Connection:
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("connecting to the upstream timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        return _Connection(reader, writer)

    async def _exchange(
        self, conn: _Connection, payload: bytes, limit: float, request: httpx.Request
    ) -> tuple[int, _Answer, bool]:
        answer = _Answer()
        try:
            async with asyncio.timeout(limit):
                conn.writer.write(payload)
                await conn.writer.drain()
                while not answer.complete:
                    chunk = await conn.reader.read(65536)
                    if not chunk:
                        raise httpx.RemoteProtocolError("the upstream closed the connection", request=request)
                    answer.parser.feed_data(chunk)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("the upstream did not answer in time", request=request) from exc
        except httptools.HttpParserError as exc:
            raise httpx.RemoteProtocolError(f"malformed answer from the upstream: {exc}", request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=request) from exc
        return answer.status, answer, answer.keep_alive

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().close()


def _serialize(request: httpx.Request, host: str, port: int, body: bytes) -> bytes:
    lines = [request.method.encode() + b" " + request.url.raw_path + b" HTTP/1.1"]
    has_host = False
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower in _SKIP_HEADERS:
            continue
        if b"\r" in value or b"\n" in value:
            raise httpx.LocalProtocolError("header values may not contain line breaks", request=request)
        has_host = has_host or lower == b"host"
        lines.append(name + b": " + value)
    if not has_host:
        lines.append(b"host: " + (host if port == 80 else f"{host}:{port}").encode())
    if body or request.method not in _SAFE_METHODS:
        lines.append(b"content-length: " + str(len(body)).encode())
    return _CRLF.join(lines) + _CRLF + _CRLF + body
