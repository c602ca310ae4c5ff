"""PostgreSQL advisory locks: one runner of a periodic job at a time, whatever the number of
processes or machines (``safework up`` with several workers, two compose replicas of the jobs
runner, an operator running the same job by hand).

A session-level ``pg_try_advisory_lock``: taken without waiting (a runner that does not get it
skips this round; the holder is doing the work), held by the connection for the whole run, and
let go by ``pg_advisory_unlock``, or by PostgreSQL itself when the holder's connection ends (a
runner killed half-way never leaves the lock behind)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine


def lock_key(name: str) -> int:
    """A stable 64-bit lock number for a job's name (signed, as PostgreSQL's bigint)."""
    return int.from_bytes(hashlib.sha256(f"safework:{name}".encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def try_lock(conn: Any, name: str) -> AsyncIterator[bool]:
    """On an asyncpg connection: True while this session holds ``name``'s lock, False when
    another session holds it (then nothing is to be done)."""
    key = lock_key(name)
    got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
    try:
        yield got
    finally:
        if got and not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", key)


@asynccontextmanager
async def try_engine_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """The same with a connection of a SQLAlchemy engine, held for the block."""
    key = lock_key(name)
    async with engine.connect() as conn:
        got = bool(await conn.scalar(select(func.pg_try_advisory_lock(key))))
        await conn.commit()
        try:
            yield got
        finally:
            if got:
                await conn.scalar(select(func.pg_advisory_unlock(key)))
                await conn.commit()
