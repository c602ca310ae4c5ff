"""Set-based statements (``unnest`` arrays, COPY) on the driver connection under a session,
inside the request's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, already inside the session's transaction.

    SQLAlchemy's asyncpg adapter begins the driver transaction on the first statement, so a
    statement through ``session`` must run before this is used; it is checked here."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None and driver.is_in_transaction(), "run a session statement first"
    return driver
