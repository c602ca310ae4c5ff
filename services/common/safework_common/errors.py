"""One error envelope for every error: ``{"error": {"code", "message", "details"}}``.

Domain code raises :class:`SafeworkError` (or a subclass) carrying a stable code and an HTTP
status; :func:`install_error_handlers` turns it, FastAPI's validation errors, Starlette's HTTP
errors and anything unexpected into the same envelope. Clients switch on ``code``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from safework_common.contract.codes import BY_CODE, ERROR_CODES
from safework_common.i18n import DEFAULT_LANGUAGE, language_var, translate

log = logging.getLogger("safework.errors")


class ErrorDetail(BaseModel):
    field: str | None = None
    code: str
    message: str


class ErrorBody(BaseModel):
    code: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "enum": list(ERROR_CODES),
                "description": "Stable; never changes with the language. Catalogued at GET /api/v1/codes.",
            }
        ),
    ]
    message: str = Field(description="In the language of Accept-Language (vi or en; default en).")
    details: list[ErrorDetail] = []


class ErrorEnvelope(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorBody


class SafeworkError(Exception):
    status_code = 400
    code = "bad_request"
    message = "The request is not valid."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        field: str | None = None,
        details: Sequence[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.headers = headers
        self.details = list(details or [])
        if field is not None and not self.details:
            self.details.append(ErrorDetail(field=field, code=self.code, message=self.message))
        super().__init__(self.message)


class BadRequest(SafeworkError):
    status_code = 400
    code = "bad_request"


class Unauthorized(SafeworkError):
    status_code = 401
    code = "unauthorized"
    message = "Authentication is required."

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kw)


class Forbidden(SafeworkError):
    status_code = 403
    code = "forbidden"
    message = "This caller may not do that."


class NotFound(SafeworkError):
    status_code = 404
    code = "not_found"
    message = "No such resource."


class Conflict(SafeworkError):
    status_code = 409
    code = "conflict"
    message = "The request conflicts with the stored state."


class Unprocessable(SafeworkError):
    status_code = 422
    code = "validation_error"
    message = "The request is not valid."


class PayloadTooLarge(SafeworkError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is larger than allowed."


class ServiceUnavailable(SafeworkError):
    status_code = 503
    code = "service_unavailable"
    message = "A dependency is unavailable; retry later."

    def __init__(self, message: str | None = None, *, retry_after: int = 5, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(message, **kw)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def envelope(
    status_code: int,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    if language_var.get() != DEFAULT_LANGUAGE:
        message, details = localized(code, message, details)
    body = ErrorEnvelope(error=ErrorBody(code=code, message=message, details=list(details)))
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


def localized(code: str, message: str, details: Sequence[ErrorDetail]) -> tuple[str, list[ErrorDetail]]:
    """The catalogue's message for each catalogued code, in the request's language (English
    answers keep the raiser's more specific wording; a code not catalogued keeps its message)."""

    def say(c: str, default: str) -> str:
        info = BY_CODE.get(c)
        return translate(info.message) if info is not None else default

    return say(code, message), [d.model_copy(update={"message": say(d.code, d.message)}) for d in details]


def field_path(loc: Sequence[int | str]) -> str:
    """``("body", "items", 3, "sample_id")`` -> ``body.items[3].sample_id``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def validation_details(errors: Sequence[Any]) -> list[ErrorDetail]:
    details = []
    for err in errors:
        loc = [p for p in err.get("loc", ()) if p not in ("function-after", "function-before")]
        msg = str(err.get("msg", "invalid"))
        details.append(ErrorDetail(field=field_path(loc) or None, code=str(err.get("type", "invalid")), message=msg))
    return details


async def _safework_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SafeworkError)
    return envelope(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(exc.errors())
    if any(d.code == "json_invalid" for d in details):
        return envelope(400, "malformed_json", "The request body is not valid JSON.", details)
    return envelope(422, "validation_error", "The request is not valid.", details)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return envelope(exc.status_code, code, message, headers=getattr(exc, "headers", None))


def _outage() -> JSONResponse:
    return envelope(
        503, "database_unavailable", "The database is unavailable; retry later.", headers={"Retry-After": "5"}
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it, outermost first: ``__cause__``, else ``__context__``,
    else a wrapper's ``orig`` (SQLAlchemy's DBAPI errors); each once."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__ or getattr(cur, "orig", None)


# PostgreSQL undid the transaction because of another one running at the same time
# (deadlock_detected, serialization_failure): nothing was written, and the same request again
# succeeds.
_TRANSIENT_CONFLICTS = frozenset({"40P01", "40001"})


def _transient_conflict(exc: BaseException) -> JSONResponse | None:
    for cur in _chain(exc):
        if getattr(cur, "sqlstate", None) in _TRANSIENT_CONFLICTS:
            log.warning("transaction undone by a concurrent one: %s", type(cur).__name__)
            return envelope(
                503,
                "write_conflict",
                "The request met another one writing the same records at the same time and nothing was "
                "written; retry it.",
                headers={"Retry-After": "1"},
            )
    return None


def _database_answer(exc: BaseException) -> JSONResponse | None:
    """The answer to a database failure that is not a bug: an outage (503), input the database
    cannot hold (422), a transaction undone by a concurrent one (503); None for anything else."""
    if _is_db_outage(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return _outage()
    if (refused := _unstorable_input(exc)) is not None:
        return refused
    return _transient_conflict(exc)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    if (answer := _database_answer(exc)) is not None:
        return answer
    log.exception("unhandled error", exc_info=exc)
    return envelope(500, "internal_error", "An unexpected error occurred.")


async def _outage_or_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A database failure that is not a bug is answered where domain errors are (the response
    keeps its request ID and the connection stays open); anything else goes on to the catch-all
    handler, as before."""
    if (answer := _database_answer(exc)) is not None:
        return answer
    raise exc


# PostgreSQL's "character not in repertoire": text cannot hold U+0000.
_NUL_IN_TEXT = "22021"


def _unstorable_input(exc: BaseException) -> JSONResponse | None:
    """Input that passed validation but cannot be stored or computed with is the caller's
    error (422), not ours (500): text with a NUL character, which PostgreSQL refuses in text
    (SQLSTATE 22021), and instants or numbers beyond what Python's ``datetime`` or the column
    can hold (year 1 or 9999 shifted by a time zone, dates computed past them), which surface
    as ``OverflowError``; anywhere in the cause chain. Nothing is logged: the statement's
    parameters are the caller's data."""
    for cur in _chain(exc):
        if getattr(cur, "sqlstate", None) == _NUL_IN_TEXT:
            return envelope(422, "invalid_character", "Text may not contain the NUL character (U+0000).")
        if isinstance(cur, OverflowError):
            return envelope(422, "value_out_of_range", "A date, time or number is outside the supported range.")
    return None


async def _overflow(_: Request, exc: Exception) -> JSONResponse:
    refused = _unstorable_input(exc)
    assert refused is not None
    return refused


# Exception families a database outage surfaces as: the OS (refused, reset, missing socket,
# timed out), asyncpg (the raw connection of the COPY paths), SQLAlchemy (wrapped, pool).
_OUTAGE_FAMILIES: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sa_exc.SQLAlchemyError,
)


def _is_db_outage(exc: BaseException) -> bool:
    """Connection-level failures of the database are outages (503), not bugs (500): the server
    refusing, dropping or not answering connections, shutting down or starting up, and the pool
    finding no connection in time; anywhere in the exception's cause chain."""
    for cur in _chain(exc):
        name = type(cur).__name__
        module = type(cur).__module__
        if isinstance(cur, ConnectionError | OSError | TimeoutError):
            return True
        if module.startswith("asyncpg") and (
            "Connection" in name or "CannotConnectNow" in name or "AdminShutdown" in name
        ):
            return True
        # asyncpg's own connection (the COPY paths use it directly) after the server dropped it.
        if isinstance(cur, asyncpg.InterfaceError) and "connection is closed" in str(cur):
            return True
        # ... or whose protocol was left mid-operation when the server went away under a COPY
        # (seen ~1 run in 10 of the outage test: the next statement on it finds "another
        # operation is in progress"). The pool's ping replaces it at the next checkout.
        if isinstance(cur, asyncpg.InternalClientError) and "another operation" in str(cur):
            return True
        # The pool found no connection within pool_timeout: the database is not keeping up.
        if isinstance(cur, sa_exc.TimeoutError):
            return True
        if name in {"InterfaceError", "OperationalError"} and getattr(cur, "connection_invalidated", False):
            return True
        if name == "DBAPIError" and getattr(cur, "connection_invalidated", False):
            return True
    return False


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SafeworkError, _safework_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Handlers for ``Exception`` run outside the app's middleware and re-raise after answering,
    # so the server logs a traceback and closes the keep-alive connection: for an outage, which
    # is expected, these narrower handlers answer instead.
    for family in _OUTAGE_FAMILIES:
        app.add_exception_handler(family, _outage_or_unexpected)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": desc}
    for status, desc in {
        400: "Malformed request",
        401: "Missing or invalid credentials",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        422: "Validation error",
        503: "Dependency unavailable",
    }.items()
}
"""OpenAPI ``responses=`` for routers so every error documents the envelope."""
