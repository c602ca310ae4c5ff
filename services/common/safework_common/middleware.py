"""Pure ASGI middleware shared by the services: request IDs, access log, body-size limit."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safework_common.errors import ErrorBody, ErrorEnvelope
from safework_common.i18n import DEFAULT_LANGUAGE, language_var, negotiate
from safework_common.logging import mask_national_ids, request_id_var
from safework_common.metrics import HTTP_REQUESTS, UNMATCHED

REQUEST_ID_HEADER = "x-request-id"
_VALID_RID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
access_log = logging.getLogger("safework.access")


# In a hex string digits are joined by nothing :func:`mask_national_ids` counts as a separator,
# so it masks exactly the runs of 9 digits or more: this test, without a Python call per digit
# group (~3% of a cheap read's time, py-spy).
_MASKED_IN_HEX = re.compile(r"[0-9]{9}")


def new_request_id() -> str:
    """A random request ID that logs keep whole (no digit run a national ID could hide in)."""
    while True:
        rid = uuid.uuid4().hex
        if _MASKED_IN_HEX.search(rid) is None:
            return rid


def usable_request_id(candidate: str) -> bool:
    """A caller's ``X-Request-ID`` is taken when it is short, plain and holds no digit run that
    could be a national ID (it is written on every log line of the request)."""
    return bool(_VALID_RID.match(candidate)) and mask_national_ids(candidate) == candidate


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the caller (the gateway passes its own on) or makes one,
    puts it in the logging context, echoes it in the response and writes one access line (its
    path masked of national IDs by the log formatter; never the query string, which may carry
    names or IDs being searched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Route -> its full path template (``/api/v1/persons/{person_id}``), the metrics' label.
        self._templates: dict[int, str] | None = None
        # (route, method, status) -> its histogram child: one dict look-up a request instead of
        # prometheus-client's labels() (a lock and a tuple of strings). Bounded by the routes.
        self._series: dict[tuple[int, str, int], Any] = {}

    def _template(self, scope: Scope) -> str:
        """The matched route's path template, never the path itself (paths hold IDs)."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        if self._templates is None:
            self._templates = _route_templates(scope.get("app"))
        found = self._templates.get(id(route))
        if found is None:
            found = getattr(route, "path_format", None) or UNMATCHED
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        language = DEFAULT_LANGUAGE
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if usable_request_id(candidate):
                    rid = candidate
            elif name == b"accept-language":
                language = negotiate(value.decode("latin-1"))
        rid = rid or new_request_id()
        token = request_id_var.set(rid)
        # Messages follow Accept-Language (safework_common.i18n); the answer says which it used.
        language_var.set(language)
        content_language = language.encode()
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        raw_rid = rid.encode()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", raw_rid),
                    (b"content-language", content_language),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            key = (id(scope.get("route")), scope["method"], status)
            series = self._series.get(key)
            if series is None:
                series = HTTP_REQUESTS.labels(self._template(scope), _method(scope["method"]), str(status))
                if len(self._series) < 10_000:
                    self._series[key] = series
            series.observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(method: str) -> str:
    """A bounded label: any other method a caller invents counts as OTHER."""
    return method if method in _METHODS else "OTHER"


def _route_templates(app: Any) -> dict[int, str]:
    """Every route of a FastAPI app with its full path template (routers included under a
    prefix keep only their own part in ``path_format``)."""
    from fastapi.routing import iter_route_contexts

    routes = getattr(app, "routes", None)
    if routes is None:
        return {}
    out: dict[int, str] = {}
    for ctx in iter_route_contexts(routes):
        route = ctx.original_route
        path = ctx.path_format or getattr(route, "path_format", None)
        if path:
            out.setdefault(id(route), path)
    return out


def _too_large_body() -> bytes:
    return (
        ErrorEnvelope(error=ErrorBody(code="payload_too_large", message="The request body is larger than allowed."))
        .model_dump_json()
        .encode()
    )


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413 in the error envelope, by Content-Length up
    front and by counting streamed chunks otherwise, before the app buffers them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
                break
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._reject(send)

    @staticmethod
    async def _reject(send: Send) -> None:
        body = _too_large_body()
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
