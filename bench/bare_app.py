"""The bare reference for ``bench_gateway``: FastAPI and asyncpg running exactly the SQL the real
services run for a read, and answering with the raw rows as JSON. No rules, no validation, no
auth, no ORM, no response models: what the same database work costs with the least framework
around it.

    BARE_DATABASE_URL=postgresql://... uvicorn bench.bare_app:create_app --factory --port 18155

The statements are imported from the services' modules, never copied, so the reference follows
them when they change:

- ``GET /compliance/{enterprise_id}``, the scheduler's ``GET /v1/enterprises/{id}/compliance``:
  ``due.repository.ENTERPRISE`` (no roster count), ``compliance.repository.COMPLIANCE``,
  then ``due.repository.CUSTOM_PLANS`` and ``ENTERPRISE_PEOPLE``.
- ``GET /summary/{person_id}``, the registry's ``GET /v1/persons/{id}/summary``:
  ``summary.service.READ_SQL`` (the person, their employer's district and the summary in one
  statement, compiled once by the registry for asyncpg), run as the registry runs it: alone, in
  autocommit (no transaction around it), on a pool of the registry reader's size.
- ``GET /due/{person_id}``, the scheduler's ``GET /v1/persons/{id}/due``:
  ``due.repository.CUSTOM_PLANS``, ``PERSON``, ``ENTERPRISE`` (with the roster count)
  and, when the enterprise draws a rotating sample (``?roster=1``: the bench asks the scheduler
  which mode the enterprise runs), ``ROSTERS``.
- ``GET /status/{person_id}``: the worker's status as the gateway builds it, the two above at
  once on two connections.

The scheduler's reads run in one transaction, on a pool configured like the service's engine
(the same server settings, read-only, 20 + 5 connections). Left out, as the service's own
overhead: SQLAlchemy's pre-ping on checkout (``BEGIN``, an empty query, ``ROLLBACK``: three
round trips per request), the ``SELECT 1`` the scheduler sends to open its transaction, and the
policy look-up (cached in the service). Checked against the server's
statement log (``log_statement = all``): the same statements, in the same order, with the same
parameters. The statements'
parameters are what the services pass: ``as_of`` is now, the history window, the arrivals
instant and the sanctioned app IDs come from the policy in force, read once by the benchmark
and passed in the environment (``BARE_HISTORY_SECONDS``, ``BARE_ARRIVALS_SECONDS`` (empty: no
new-hire rule), ``BARE_SANCTIONED_APP_IDS``, comma-separated).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI
from fastapi.responses import Response

from safework_common.settings import plain_pg_url
from safework_registry.summary import service as summary_service
from safework_scheduler.compliance import repository as compliance_repo
from safework_scheduler.due import repository as due_repo

POOL_MIN, POOL_MAX = 20, 25  # the services' engines: pool_size 20, max_overflow 5
READER_MIN, READER_MAX = 10, 12  # the registry's reader: pool_size 20 // 2, max_overflow 10 // 4
SERVER_SETTINGS = {"timezone": "Asia/Ho_Chi_Minh", "jit": "off"}


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):  # asyncpg's own UUID type, which orjson does not know
        return str(value)
    if isinstance(value, asyncpg.Record | tuple):
        return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def rows(records: Any) -> list[list[Any]]:
    return [list(r) for r in records]


def answer(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body, default=_default), status_code=status_code, media_type="application/json")


async def _keep(conn: asyncpg.Connection) -> None:
    """No reset query on release (asyncpg's default sends ``RESET ALL`` and more, a round trip
    per request): each read is one transaction and sets only ``SET LOCAL``, as in the services,
    whose pool does not reset either (a rollback after the commit is a no-op)."""


class Bare:
    def __init__(self, url: str, history: timedelta, arrivals: timedelta | None, apps: list[str]) -> None:
        self.url = url
        self.history = history
        self.arrivals = arrivals
        self.apps = apps
        self.registry: asyncpg.Pool | None = None
        self.scheduler: asyncpg.Pool | None = None

    async def open(self) -> None:
        self.registry = await asyncpg.create_pool(
            self.url, min_size=READER_MIN, max_size=READER_MAX, server_settings=SERVER_SETTINGS, reset=_keep
        )
        self.scheduler = await asyncpg.create_pool(
            self.url,
            min_size=POOL_MIN,
            max_size=POOL_MAX,
            server_settings={**SERVER_SETTINGS, "default_transaction_read_only": "on"},
            reset=_keep,
        )

    async def close(self) -> None:
        for pool in (self.registry, self.scheduler):
            if pool is not None:
                await pool.close()

    def window(self) -> tuple[datetime, datetime, datetime | None]:
        """``as_of`` (now), the history window's start and the arrivals instant."""
        as_of = datetime.now(UTC)
        return as_of, as_of - self.history, None if self.arrivals is None else as_of - self.arrivals

    async def compliance(self, enterprise_id: uuid.UUID) -> dict[str, Any] | None:
        assert self.scheduler is not None
        as_of, since, arrivals = self.window()
        async with self.scheduler.acquire() as conn, conn.transaction():
            e = due_repo.ENTERPRISE
            enterprise = await conn.fetchrow(e.sql, *e.args(enterprise_id=enterprise_id, roster_size=False))
            if enterprise is None:
                return None
            c = compliance_repo.COMPLIANCE
            figures = await conn.fetch(
                c.sql,
                *c.args(as_of=as_of, app_ids=self.apps, district=None, zone_type=None, enterprise_id=enterprise_id),
            )
            await conn.execute(due_repo.CUSTOM_PLANS)
            ep = due_repo.ENTERPRISE_PEOPLE
            people = await conn.fetch(
                ep.sql, *ep.args(as_of=as_of, since=since, arrivals_after=arrivals, enterprise_id=enterprise_id)
            )
        # The people's rows are fetched and decoded, not sent back: the service answers counts.
        return {"enterprise": list(enterprise), "figures": rows(figures), "people": len(people)}

    async def summary(self, person_id: uuid.UUID) -> dict[str, Any] | None:
        assert self.registry is not None
        args = summary_service.read_parameters(person_id, datetime.now(UTC))
        async with self.registry.acquire() as conn:
            row = await conn.fetchrow(summary_service.READ_SQL, *args)
        return None if row is None else {"summary": list(row)}

    async def due(self, person_id: uuid.UUID, roster: bool) -> dict[str, Any] | None:
        assert self.scheduler is not None
        as_of, since, arrivals = self.window()
        async with self.scheduler.acquire() as conn, conn.transaction():
            await conn.execute(due_repo.CUSTOM_PLANS)
            p = due_repo.PERSON
            person = await conn.fetchrow(
                p.sql, *p.args(as_of=as_of, since=since, arrivals_after=arrivals, person_id=person_id)
            )
            if person is None:
                return None
            enterprise_id = person["enterprise_id"]
            enterprise = roster_rows = None
            if enterprise_id is not None:
                e = due_repo.ENTERPRISE
                enterprise = await conn.fetchrow(e.sql, *e.args(enterprise_id=enterprise_id, roster_size=True))
                if roster and person["status"] == "active":  # as the service: a rotating sample's population
                    r = due_repo.ROSTERS
                    roster_rows = rows(await conn.fetch(r.sql, *r.args(enterprise_ids=[enterprise_id])))
        return {
            "person": list(person),
            "enterprise": None if enterprise is None else list(enterprise),
            "roster": roster_rows,
        }


NOT_FOUND = {"error": {"code": "not_found"}}


def create_app() -> FastAPI:
    arrivals = os.environ.get("BARE_ARRIVALS_SECONDS", "")
    bare = Bare(
        plain_pg_url(os.environ["BARE_DATABASE_URL"]),
        timedelta(seconds=float(os.environ["BARE_HISTORY_SECONDS"])),
        timedelta(seconds=float(arrivals)) if arrivals else None,
        [a for a in os.environ.get("BARE_SANCTIONED_APP_IDS", "").split(",") if a],
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bare.open()
        try:
            yield
        finally:
            await bare.close()

    app = FastAPI(title="bare reference", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> Response:
        return answer({"status": "ok"})

    @app.get("/compliance/{enterprise_id}")
    async def compliance(enterprise_id: uuid.UUID) -> Response:
        body = await bare.compliance(enterprise_id)
        return answer(NOT_FOUND, 404) if body is None else answer(body)

    @app.get("/summary/{person_id}")
    async def summary(person_id: uuid.UUID) -> Response:
        body = await bare.summary(person_id)
        return answer(NOT_FOUND, 404) if body is None else answer(body)

    @app.get("/due/{person_id}")
    async def due(person_id: uuid.UUID, roster: int = 0) -> Response:
        body = await bare.due(person_id, bool(roster))
        return answer(NOT_FOUND, 404) if body is None else answer(body)

    @app.get("/status/{person_id}")
    async def status(person_id: uuid.UUID, roster: int = 0) -> Response:
        summary, due = await asyncio.gather(bare.summary(person_id), bare.due(person_id, bool(roster)))
        if summary is None or due is None:
            return answer(NOT_FOUND, 404)
        return answer({"summary": summary, "due": due})

    return app
