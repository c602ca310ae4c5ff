"""The test database: TEST_DATABASE_URL when set, else an embedded server this session starts.

Each session (each xdist worker) gets a fresh database: under xdist a copy of the run's migrated
template (made by the first worker to get there), else migrated itself."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from safework_cli.embedded_pg import EmbeddedPostgres
from safework_common.settings import plain_pg_url


def with_database(url: str, database: str) -> str:
    parts = urlsplit(plain_pg_url(url))
    return urlunsplit(parts._replace(path="/" + database))


@contextmanager
def server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield plain_pg_url(url)
        return
    tmp = Path(tempfile.mkdtemp(prefix="safework-test-pg-"))
    server = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    server.start()
    try:
        yield server.url("postgres")
    finally:
        server.stop()


async def create_database(admin_url: str, prefix: str = "safework_test", *, template: str | None = None) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{prefix}_{worker}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()
    return with_database(admin_url, name)


def template_name(run: str) -> str:
    """The migrated template of one test run (the xdist run's id): its workers' databases are
    copies of it, ``CREATE DATABASE ... TEMPLATE``, much faster than migrating each."""
    return f"safework_test_template_{run[:12]}"


async def ensure_template(admin_url: str, name: str, prepare: Callable[[str], Awaitable[None]]) -> None:
    """Make the template ``name`` with ``prepare(url)`` unless another worker already has. An
    advisory lock on the server makes the other workers wait for the first one's."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", name)
        try:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                return
            building = f"{name}_building"
            await conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{building}"')
            await prepare(with_database(admin_url, building))
            # Renamed only once whole: a worker never copies a half-migrated template.
            await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", name)
    finally:
        await conn.close()


async def drop_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


KEEP = frozenset({"alembic_version", "scheduler_policy"})


async def truncate_all(url: str, keep: frozenset[str] = KEEP) -> None:
    """Empty every table but the schema version and the loaded policy (fast isolation that still
    lets apps use real, concurrent transactions)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        names = [r["tablename"] for r in rows if r["tablename"] not in keep]
        if names:
            await conn.execute("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


# The tables a test may have written: every table that holds a row, and every table whose own
# sequence was drawn from (so RESTART IDENTITY still gives each test the first ids). Partitions are
# read and emptied through their parent.
_WRITTEN = """
SELECT c.relname,
       EXISTS (SELECT 1 FROM pg_depend d JOIN pg_sequences s
               ON s.schemaname = 'public' AND s.sequencename = (SELECT relname FROM pg_class WHERE oid = d.objid)
               WHERE d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                 AND s.last_value IS NOT NULL) AS drawn
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""


async def reset(url: str, keep: frozenset[str] = KEEP) -> None:
    """What :func:`truncate_all` does, for the tables a test wrote only: the ones with a row or
    a drawn sequence are emptied in one TRUNCATE (the others are empty already). Finding them
    is one query of ``EXISTS`` probes, much cheaper than truncating some 80 tables and their
    partitions after every test."""
    conn = await asyncpg.connect(url)
    try:
        tables = [(r["relname"], r["drawn"]) for r in await conn.fetch(_WRITTEN) if r["relname"] not in keep]
        if not tables:
            return
        probes = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")"  # noqa: S608 - names read from pg_class
            for name, drawn in tables
            if not drawn
        )
        written = [name for name, drawn in tables if drawn]
        if probes:
            written += [r[0] for r in await conn.fetch(probes)]
        if written:
            await conn.execute("TRUNCATE " + ", ".join(f'"{n}"' for n in written) + " RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
