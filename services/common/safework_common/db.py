"""Database plumbing shared by the services: naming convention, engines, the per-request session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import DateTime, FromClause, MetaData, func, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from safework_common.settings import asyncpg_url, plain_pg_url

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    """Created and updated times, stored with time zone, on every table."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class _NoRows(logging.Filter):
    """Drops SQLAlchemy's DEBUG lines that print each result row: rows are people's records."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Row %r"


_NO_ROWS = _NoRows()


def make_engine(url: str, *, pool_size: int = 20, read_only: bool = False, **kw: Any) -> AsyncEngine:
    """An engine that never writes people's data to the logs, whatever the log levels
    (ARCHITECTURE "Privacy"): SQL may be logged (``sqlalchemy.engine`` at INFO), but its
    parameters (national ID hashes, results, symptoms) are hidden, in log lines and in the text
    of database errors alike, and result rows (DEBUG) are dropped."""
    logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NO_ROWS)
    connect_args: dict[str, Any] = {"server_settings": {"timezone": "Asia/Ho_Chi_Minh", "jit": "off"}}
    if read_only:
        connect_args["server_settings"]["default_transaction_read_only"] = "on"
    return create_async_engine(
        asyncpg_url(url),
        # Connections beyond pool_size are closed when returned: under a steady load above it,
        # each request paid a new server session (measured: 78 in 8 s at 16 concurrent
        # requests, with 10). Keep enough, and allow a little burst.
        pool_size=pool_size,
        max_overflow=max(1, pool_size // 4),
        # A ping per checkout (three round trips, ~13% of a simple read's time, measured) so a
        # connection the server dropped is replaced before use: without it a request could
        # fail half-way on one after an outage (found by tests/reliability/test_db_outage.py).
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={**connect_args, "timeout": 5, "command_timeout": 60},
        hide_parameters=True,
        **kw,
    )


def _dropped(exc: BaseException) -> bool:
    """The connection itself failed (the server dropped it, the socket broke), as opposed to the
    statement: only then is a statement worth running again on another connection."""
    if isinstance(exc, ConnectionError | OSError):
        return True
    if isinstance(exc, asyncpg.exceptions.ConnectionDoesNotExistError | asyncpg.exceptions.ConnectionFailureError):
        return True
    if isinstance(exc, asyncpg.exceptions.AdminShutdownError | asyncpg.exceptions.CannotConnectNowError):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return True
    # A connection the server terminated while it sat idle can be left mid-protocol: its next
    # statement finds "another operation is in progress" (seen by the summary's test).
    return isinstance(exc, asyncpg.InternalClientError) and "another operation" in str(exc)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset on release (asyncpg's default sends ``RESET ALL`` and more: a round trip per
    statement). A pool of :func:`make_pool` runs single autocommit statements that leave no
    session state behind."""


async def make_pool(url: str, *, size: int) -> asyncpg.Pool:
    """A pool of plain asyncpg connections for single statements on hot paths, each its own
    transaction (autocommit): reads (:func:`fetchrow_retrying`) and idempotent writes
    (:func:`execute_retrying`), with the engines' server settings. No SQLAlchemy around the
    checkout (its greenlet hand-over cost more CPU than the statement, measured), no ping, no
    BEGIN/COMMIT. A connection the server closed while it sat in the pool (a restart, an outage,
    an idle timeout: asyncpg saw its socket close) is replaced by asyncpg at checkout, without a
    round trip. Opened lazily, up to ``size`` connections."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        plain_pg_url(url),
        min_size=0,
        max_size=size,
        server_settings={"timezone": "Asia/Ho_Chi_Minh", "jit": "off"},
        timeout=5,
        command_timeout=60,
        reset=_keep_session,
    )
    return pool


_R = TypeVar("_R")


async def _retrying(pool: asyncpg.Pool, run: Callable[[Any], Awaitable[_R]]) -> _R:
    """``run`` on a connection of ``pool``; again on another when the connection itself failed.

    A connection that fails as a connection (the server dropped it) is closed, so the pool opens
    a fresh one in its place, and the statement runs again on another: after a restart every
    pooled connection may be broken in this way without asyncpg having noticed yet, so up to the
    pool's size more times, each on a connection not tried before (a fresh one last). When the
    server is down, opening the fresh one fails at once."""
    attempts = pool.get_max_size() + 1
    for attempt in range(attempts):
        async with pool.acquire() as conn:
            try:
                return await run(conn)
            except Exception as exc:
                if not _dropped(exc) or attempt == attempts - 1:
                    raise
                with contextlib.suppress(asyncpg.InterfaceError):  # already closed and detached
                    conn.terminate()
    raise AssertionError("unreachable")


async def fetchrow_retrying(pool: asyncpg.Pool, sql: str, args: Sequence[Any]) -> asyncpg.Record | None:
    """One read-only statement compiled once for asyncpg (``$n`` parameters) on a
    :func:`make_pool` pool: one round trip, instead of seven with a session (ping: BEGIN,
    ``;``, ROLLBACK; then BEGIN, the statement, COMMIT), and none of SQLAlchemy's execution
    machinery. Run again on another connection when its connection was dropped
    (:func:`_retrying`)."""
    row: asyncpg.Record | None = await _retrying(pool, lambda conn: conn.fetchrow(sql, *args))
    return row


async def execute_retrying(pool: asyncpg.Pool, sql: str, args: Sequence[Any]) -> int:
    """One writing statement (``INSERT``, ``UPDATE``, ``DELETE``) compiled once for asyncpg on a
    :func:`make_pool` pool, committed when it returns (autocommit: one round trip, no
    BEGIN/COMMIT); how many rows it wrote. Run again on another connection when its connection
    was dropped (:func:`_retrying`), so only for a statement that may run twice: idempotent
    (``ON CONFLICT DO NOTHING``, an ``UPDATE`` to fixed values of rows not yet updated), since a
    connection may drop after the server committed."""
    tag: str = await _retrying(pool, lambda conn: conn.execute(sql, *args))
    return int(tag.rpartition(" ")[2])  # "INSERT 0 3", "UPDATE 3"


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; commits on success, rolls back on error. Services only flush().

    Use it through :data:`SessionDep`: its ``scope="function"`` makes the commit happen before
    the response is sent, so a failed commit is an error answer, never an acknowledged loss."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))
        return True
    except Exception:
        return False


# The one way to the database on a hot path (docs/ARCHITECTURE.md "One way in"): a SQLAlchemy
# Core statement over ``Table`` objects, compiled once for asyncpg (:func:`compiled`), run on
# the asyncpg connection under the session (:func:`driver_connection`) with its parameters by
# name (:meth:`Compiled.args`), its rows read by column name.

_ASYNCPG = asyncpg_dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class Compiled:
    """A Core statement compiled for asyncpg: its SQL (``$n`` parameters), the parameter names
    in ``$n`` order, and the names of the columns its rows carry, in order."""

    sql: str
    names: tuple[str, ...]
    columns: tuple[str, ...]

    def args(self, **values: Any) -> tuple[Any, ...]:
        """The parameters in ``$n`` order; a missing or unknown name is an error."""
        if values.keys() != set(self.names):
            raise TypeError(f"parameters {sorted(values)} are not {sorted(self.names)}")
        return tuple(values[n] for n in self.names)

    def at(self, column: str) -> int:
        """The position of ``column`` in the rows (for a slice of consecutive columns)."""
        return self.columns.index(column)


def compiled(statement: Any) -> Compiled:
    """``statement`` compiled once for asyncpg: call at import (or behind ``functools.cache``),
    never per request. SQLAlchemy's per-execution cache lookup and parameter processing cost
    more than a short statement (see ``safework_gateway.passes.repository``)."""
    c = statement.compile(dialect=_ASYNCPG)
    columns = tuple(statement.selected_columns.keys()) if hasattr(statement, "selected_columns") else ()
    return Compiled(str(c), tuple(c.positiontup or ()), columns)


def column_names(table: FromClause, *, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """The columns of ``table`` in its order, less ``exclude``: the column list of a COPY
    (``copy_records_to_table(columns=...)``) or of an ``unnest`` INSERT, derived from the table
    so a renamed or added column is never missed in a list typed by hand."""
    skip = set(exclude)
    unknown = skip - set(table.c.keys())
    if unknown:
        raise KeyError(f"{table} has no column {sorted(unknown)}")
    return tuple(c.name for c in table.c if c.name not in skip)


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``, inside the session's transaction (begun now if
    nothing has run on it yet: SQLAlchemy's adapter begins the driver's transaction lazily, on
    the first statement). What runs on it is part of the session's transaction: committed or
    rolled back with it."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")
    return driver


async def prefetched(conn: Any, sql: str, *args: Any, batch: int = 10_000) -> AsyncGenerator[list[Any], None]:
    """``sql``'s rows in batches from a server-side cursor on ``conn`` (an asyncpg connection,
    inside its transaction), the next batch requested before this one is handed over, so the
    database produces it while the caller works on this one. The scheduler's province reads
    and the registry's FHIR export share it; close it with ``contextlib.aclosing``."""
    cursor = await conn.cursor(sql, *args)
    pending = asyncio.ensure_future(cursor.fetch(batch))
    try:
        while True:
            rows = await pending
            if not rows:
                return
            pending = asyncio.ensure_future(cursor.fetch(batch))
            await asyncio.sleep(0)  # let the request go out first
            yield rows
    finally:
        if not pending.done():
            await pending  # leave the connection idle for the rest of the transaction
        elif not pending.cancelled():
            pending.exception()  # retrieved: an error after the last batch is not left unread
