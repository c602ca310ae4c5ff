"""``Idempotency-Key`` for POST routes (IETF draft-ietf-httpapi-idempotency-key-header).

Keyed by (caller subject, key). The first request claims the key inside the request's own
transaction, under a transaction-scoped advisory lock on the key: a concurrent repeat cannot
take the lock and gets 409 ``idempotency_key_in_progress`` at once. The claim and the response
are committed with the work, so a key is either unknown (no effects committed) or done with
exactly the response that was sent. A repeat with the same method, path and body replays that
response; another body under the same key is 422 ``idempotency_key_reused``. If the work fails,
or the process dies mid-request (PostgreSQL ends the transaction when the connection drops), the
claim and the lock vanish with the transaction, so the client's retry runs afresh at once.
A claim committed unfinished (by an earlier version of this code) is taken over after
:data:`STALE_AFTER`. Completed records are honoured for :data:`RETAIN_FOR`.

A route uses it as::

    async def post(..., session: Session, idem: Idempotency) -> Response:
        if (replay := await idem.start()) is not None:
            return replay
        ...  # the work, flushed in ``session``
        return await idem.finish(session, 201, payload)

``finish`` commits before the answer is sent: what is acknowledged is durable.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.db import SessionDep
from safework_common.errors import Conflict, Unprocessable
from safework_common.internal_auth import Caller, internal_caller

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
FIELD = f"header.{HEADER}"
# A claim committed unfinished and older than this is taken to be from a dead process.
STALE_AFTER = timedelta(minutes=5)
# How long a finished key is honoured; after that the key may be used afresh (draft §2: the
# resource decides the expiry).
RETAIN_FOR = timedelta(hours=24)
# The draft makes the key a structured-header String: printable ASCII, optionally quoted.
_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")

# Held until the request's transaction ends: commit, rollback, or its connection dropping.
_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock)")
_CLAIM = text(
    "INSERT INTO idempotency_record (caller, key, method, path, fingerprint) "
    "VALUES (:caller, :key, :method, :path, :fingerprint) "
    "ON CONFLICT (caller, key) DO NOTHING RETURNING 1"
)
_TAKE_OVER = text(
    "UPDATE idempotency_record SET method = :method, path = :path, fingerprint = :fingerprint, "
    "status_code = NULL, response = NULL, created_at = now(), completed_at = NULL "
    "WHERE caller = :caller AND key = :key AND ("
    "(completed_at IS NULL AND created_at < now() - make_interval(secs => :stale)) "
    "OR completed_at < now() - make_interval(secs => :retain)) RETURNING 1"
)
_EXISTING = text(
    "SELECT method, path, fingerprint, status_code, response::text AS response "
    "FROM idempotency_record WHERE caller = :caller AND key = :key"
)
_COMPLETE = text(
    "UPDATE idempotency_record SET status_code = :status, response = CAST(:response AS jsonb), "
    "completed_at = now() WHERE caller = :caller AND key = :key"
)


def parse_key(raw: str | None) -> str | None:
    """The key from the header value, or None when absent. ``"abc"`` and ``abc`` are the same key."""
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.match(value) or not value.strip():
        raise Unprocessable(
            "Idempotency-Key must be 1-255 printable ASCII characters.", code="invalid_idempotency_key", field=FIELD
        )
    return value


def json_response(status_code: int, payload: bytes, *, replayed: bool = False) -> Response:
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return Response(content=payload, status_code=status_code, media_type="application/json", headers=headers)


class IdempotencyGuard:
    """One request's view of its ``Idempotency-Key`` (absent key: it only commits and answers)."""

    def __init__(
        self,
        session: AsyncSession,
        caller: str,
        key: str | None,
        method: str,
        path: str,
        body: bytes,
    ) -> None:
        self._session = session
        self._params: dict[str, Any] = {
            "caller": caller[:128],
            "key": key,
            "method": method,
            "path": path[:255],
            "fingerprint": hashlib.sha256(body).digest(),
        }
        # The advisory lock's 64-bit key: the (caller, key) pair, hashed.
        pair = hashlib.sha256(self._params["caller"].encode() + b"\0" + (key or "").encode()).digest()
        self._lock = int.from_bytes(pair[:8], "big", signed=True)
        self.key = key
        self.claimed = False

    async def start(self) -> Response | None:
        """Claim the key. None: go ahead and do the work. A response: replay it, do nothing."""
        if self.key is None:
            return None
        s = self._session
        if not await s.scalar(_LOCK, {"lock": self._lock}):
            raise Conflict(
                "A request with this Idempotency-Key is still being processed.",
                code="idempotency_key_in_progress",
                field=FIELD,
                headers={"Retry-After": "1"},
            )
        if await s.scalar(_CLAIM, self._params) is not None or (
            await s.scalar(
                _TAKE_OVER,
                {**self._params, "stale": STALE_AFTER.total_seconds(), "retain": RETAIN_FOR.total_seconds()},
            )
            is not None
        ):
            self.claimed = True
            return None
        row = (await s.execute(_EXISTING, self._params)).one_or_none()
        if row is None:  # removed between our statements: the caller may simply retry
            raise Conflict(
                "A request with this key has just finished; retry.",
                code="idempotency_key_in_progress",
                headers={"Retry-After": "1"},
            )
        p = self._params
        if (row.method, row.path, bytes(row.fingerprint)) != (p["method"], p["path"], p["fingerprint"]):
            raise Unprocessable(
                "This Idempotency-Key was used for another request.", code="idempotency_key_reused", field=FIELD
            )
        if row.status_code is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed.",
                code="idempotency_key_in_progress",
                field=FIELD,
                headers={"Retry-After": "1"},
            )
        return json_response(row.status_code, row.response.encode(), replayed=True)

    async def finish(self, session: AsyncSession, status_code: int, payload: bytes) -> Response:
        """Store the response with the work, commit, then answer (nothing acknowledged is lost)."""
        try:
            if self.claimed:
                await session.execute(_COMPLETE, {**self._params, "status": status_code, "response": payload.decode()})
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        return json_response(status_code, payload)

    async def finish_model(self, session: AsyncSession, status_code: int, model: BaseModel) -> Response:
        return await self.finish(session, status_code, model.model_dump_json().encode())

    async def finish_json(self, session: AsyncSession, status_code: int, data: Any) -> Response:
        return await self.finish(session, status_code, orjson.dumps(data))


async def idempotency_guard(
    request: Request,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Makes a retry safe: the same key and body replay the first answer "
            "(draft-ietf-httpapi-idempotency-key-header).",
        ),
    ] = None,
) -> IdempotencyGuard:
    """Dependency: the request's guard, working in the request's session (the same one the
    route gets), so its claim commits or rolls back with the work."""
    caller: Caller = await internal_caller(request)
    return IdempotencyGuard(
        session,
        caller.subject,
        parse_key(idempotency_key),
        request.method,
        request.url.path,
        await request.body(),
    )


Idempotency = Annotated[IdempotencyGuard, Depends(idempotency_guard)]
