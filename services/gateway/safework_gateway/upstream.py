"""Forwarding to the registry and the scheduler: one pooled httpx client per upstream.

The caller reaches the upstream as the internal service token minted for it; the public token
never leaves the gateway. Bodies pass through as bytes; answers come back as they were."""

from __future__ import annotations

import functools
import logging
import re
import ssl
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from safework_common.errors import BadRequest, ErrorDetail, SafeworkError, ServiceUnavailable, Unprocessable
from safework_common.i18n import language_var
from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter
from safework_common.logging import request_id_var
from safework_common.metrics import UPSTREAM_ERRORS, UPSTREAM_REQUESTS

log = logging.getLogger("safework.gateway.upstream")

# Answer headers worth passing back to the public caller (``idempotent-replayed``: the registry's
# mark on an answer replayed for a repeated Idempotency-Key).
_PASS_BACK = (
    "content-type",
    "etag",
    "cache-control",
    "retry-after",
    "location",
    "link",
    "content-disposition",
    "idempotent-replayed",
)
# Request headers worth passing on to the upstream (besides the internal token and request
# ID): Content-Type, Accept, Idempotency-Key (see ``forwarding.routes``). A value passed on may
# hold visible ASCII, spaces and tabs. HTTP also lets a value carry bytes 0x80-0xFF
# ("obs-text"), which the server hands over as Latin-1; httpx refuses to send them
# (UnicodeEncodeError), so they are the caller's error here, not a 500.
_SENDABLE = re.compile(r"[\t\x20-\x7e]*")
_NAMES = {"content-type": "Content-Type", "accept": "Accept", "idempotency-key": "Idempotency-Key"}


def pass_on(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The caller's ``names`` headers to send upstream. A value that cannot be sent is refused
    in the error envelope with the header as the field: ``Idempotency-Key`` with the registry's
    own answer (422 ``invalid_idempotency_key``), any other with 400 ``invalid_header``."""
    out = {}
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        if not _SENDABLE.fullmatch(value):
            field = "header." + _NAMES.get(name, name)
            if name == "idempotency-key":
                raise Unprocessable(
                    "Idempotency-Key must be 1-255 printable ASCII characters.",
                    code="invalid_idempotency_key",
                    field=field,
                )
            raise BadRequest(
                f"The {_NAMES.get(name, name)} header may hold visible ASCII characters, spaces and tabs only.",
                code="invalid_header",
                field=field,
            )
        out[name] = value
    return out


class _NoQueryStrings(logging.Filter):
    """httpx logs each request's URL at INFO; a query string can carry personal data (a roster
    search by national ID, ``?q=...``), so the line keeps the path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], httpx.URL) and args[1].query:
            record.args = (args[0], args[1].copy_with(query=None), *args[2:])
        return True


_NO_QUERY_STRINGS = _NoQueryStrings()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of this process's upstream clients (the default verification, the CA
    bundle httpx would load). httpx builds a new one for each client otherwise, ~30 ms of CPU
    reading the bundle, twice for every upstream a gateway's lifespan opens."""
    return httpx.create_ssl_context()


class UpstreamError(SafeworkError):
    """An upstream's error answer, re-raised as the same envelope."""


class Upstream:
    def __init__(
        self,
        name: str,
        base_url: str,
        minter: InternalTokenMinter,
        *,
        timeout: float,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None = None,
        stream_transport: httpx.AsyncBaseTransport | None = None,
        stream_timeout: float = 600.0,
    ) -> None:
        self.name = name
        self.minter = minter
        logging.getLogger("httpx").addFilter(_NO_QUERY_STRINGS)
        # Exports (CSV, XLSX, NDJSON) are relayed as they arrive, never held whole: httpx's own
        # transport streams bodies (the lean one reads them whole). A long export may be quiet for
        # a while before its first byte (an XLSX is zipped before it is sent): its own timeout.
        self.streams = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(stream_timeout, connect=2.0),
            limits=httpx.Limits(max_connections=max_connections, keepalive_expiry=4.0),
            transport=stream_transport,
            verify=tls_context(),
        )
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=2.0),
            # Idle connections are dropped before uvicorn's own 5 s keep-alive timeout, so a
            # request is never written into a connection the upstream is closing.
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=4.0
            ),
            transport=transport,
            verify=tls_context(),
        )

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.streams.aclose()

    def headers(self, caller: Caller, extra: dict[str, str] | None = None) -> dict[str, str]:
        # The caller's language, so the upstream's error messages are in it too.
        headers = {INTERNAL_HEADER: self.minter.mint(caller), "accept-language": language_var.get()}
        rid = request_id_var.get()
        if rid:
            headers["x-request-id"] = rid
        if extra:
            headers.update(extra)
        return headers

    async def request(
        self, method: str, path: str, caller: Caller, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """Send one request as ``caller``. Connection failures become 503 with Retry-After."""
        started = time.perf_counter()
        try:
            response = await self.client.request(method, path, headers=self.headers(caller, headers), **kw)
        except (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            UPSTREAM_ERRORS.labels(self.name, "unavailable").inc()
            raise ServiceUnavailable(
                f"The {self.name} is unavailable; retry later.", code="upstream_unavailable"
            ) from exc
        except httpx.TimeoutException as exc:
            UPSTREAM_ERRORS.labels(self.name, "timeout").inc()
            raise SafeworkError(
                f"The {self.name} did not answer in time.", code="upstream_timeout", status_code=504
            ) from exc
        UPSTREAM_REQUESTS.labels(self.name, method, str(response.status_code)).observe(time.perf_counter() - started)
        if response.status_code == 401:
            # The public caller was authenticated; a refusal of our internal token is ours.
            UPSTREAM_ERRORS.labels(self.name, "auth_failed").inc()
            log.error("%s refused the internal token", self.name)
            raise SafeworkError(f"The {self.name} refused the gateway.", code="upstream_auth_failed", status_code=502)
        return response

    async def stream(
        self, method: str, path: str, caller: Caller, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """Like :meth:`request`, but the answer's body is left unread, to be relayed as it comes
        (:func:`relay_stream`); the caller must close it."""
        request = self.streams.build_request(method, path, headers=self.headers(caller, headers), **kw)
        try:
            response = await self.streams.send(request, stream=True)
        except (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            raise ServiceUnavailable(
                f"The {self.name} is unavailable; retry later.", code="upstream_unavailable"
            ) from exc
        except httpx.TimeoutException as exc:
            raise SafeworkError(
                f"The {self.name} did not answer in time.", code="upstream_timeout", status_code=504
            ) from exc
        if response.status_code == 401:
            await response.aclose()
            log.error("%s refused the internal token", self.name)
            raise SafeworkError(f"The {self.name} refused the gateway.", code="upstream_auth_failed", status_code=502)
        return response

    async def json(self, method: str, path: str, caller: Caller, **kw: Any) -> Any:
        """The decoded JSON of a 2xx answer; an error answer is raised as it came."""
        response = await self.request(method, path, caller, **kw)
        if response.status_code >= 400:
            raise error_from(response)
        return response.json()

    async def ready(self) -> bool:
        try:
            r = await self.client.get("/readyz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return r.status_code == 200


def error_from(response: httpx.Response) -> UpstreamError:
    """The upstream's envelope as an exception carrying the same status, code and details."""
    headers = {k: response.headers[k] for k in ("retry-after",) if k in response.headers}
    try:
        body = response.json()["error"]
        details = [ErrorDetail.model_validate(d) for d in body.get("details", [])]
        return UpstreamError(
            str(body["message"]),
            code=str(body["code"]),
            status_code=response.status_code,
            details=details,
            headers=headers or None,
        )
    except (ValueError, KeyError, TypeError):
        return UpstreamError("The upstream answered with an error.", code="upstream_error", status_code=502)


def relay(response: httpx.Response) -> Response:
    """The upstream's answer as the gateway's, status and body unchanged."""
    headers = {}
    for name in _PASS_BACK:
        value = response.headers.get(name)
        if value is not None:
            if name == "location" and value.startswith("/v1/"):
                value = "/api" + value
            headers[name] = value
    return Response(content=response.content, status_code=response.status_code, headers=headers)


async def relay_stream(response: httpx.Response) -> Response:
    """A streamed upstream answer relayed chunk by chunk; an error answer (small) is read whole
    and relayed as it came. The upstream connection is closed when the relay ends."""
    if response.status_code >= 300:
        try:
            await response.aread()
        finally:
            await response.aclose()
        return relay(response)
    headers = {name: response.headers[name] for name in _PASS_BACK if name in response.headers}
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers=headers,
        background=BackgroundTask(response.aclose),
    )
