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


# A test database's commits do not wait for their WAL to reach the disk: a crash of the server
# could lose the last few, which a test database never needs (it is dropped at the end), and the
# suite's many small commits each saved a disk flush. Set per database: a copy of a template does
# not inherit its settings.
NO_SYNCHRONOUS_COMMIT = 'ALTER DATABASE "{name}" SET synchronous_commit = off'


async def create_database(admin_url: str, prefix: str = "safework_test", *, template: str | None = None) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{prefix}_{worker}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        await conn.execute(NO_SYNCHRONOUS_COMMIT.format(name=name))
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
            await conn.execute(NO_SYNCHRONOUS_COMMIT.format(name=building))
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


# Each table with its own sequences (serial and identity columns) and its size on disk, partitions
# included (a large table is truncated, a small one deleted from). Partitions are read and emptied
# through their parent.
_TABLES = """
SELECT c.relname,
       ARRAY(SELECT quote_ident(sn.nspname) || '.' || quote_ident(sc.relname)
             FROM pg_depend d JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
             JOIN pg_namespace sn ON sn.oid = sc.relnamespace
             WHERE d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
             ORDER BY sc.relname) AS sequences,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_table_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t)
            ELSE pg_table_size(c.oid) END AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""

# Above this a table is emptied with TRUNCATE (new, empty files), below with DELETE. TRUNCATE
# costs the same for an empty table as for a full one: a new file per table, index and partition,
# catalog updates, and every pooled connection of the services re-reading the table's definition
# on its next use; DELETE of a few rows costs next to nothing. Dead rows left by DELETE grow a table
# until either autovacuum reclaims them or it passes this size and is truncated.
TRUNCATE_BYTES = 1 << 20

# Tables written by triggers that stay enabled under ``session_replication_role = replica``
# (``ENABLE ALWAYS``: the person rollup and the results' sample index).
DERIVED = frozenset({"person_rollup", "test_result_sample"})


async def reset(url: str, keep: frozenset[str] = KEEP) -> None:
    """What :func:`truncate_all` does, for the tables a test wrote only: every table with a row
    or a drawn sequence is emptied and its sequences restarted, so the next test starts from
    empty tables and first ids. One query of ``EXISTS`` probes finds them; small ones are emptied
    with ``DELETE`` (foreign keys unchecked for the reset: ``session_replication_role = replica``,
    which also keeps the audit log's append-only trigger from firing; the rollups, whose triggers
    always fire, are emptied first), large ones (:data:`TRUNCATE_BYTES`) with ``TRUNCATE``,
    all in one transaction."""
    conn = await asyncpg.connect(url)
    try:
        tables = {r["relname"]: r for r in await conn.fetch(_TABLES) if r["relname"] not in keep}
        if not tables:
            return
        # A table was written when it holds a row or one of its sequences moved from its start
        # (drawn from, or set by a COPY that wrote its own ids).
        probes = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")"  # noqa: S608 - names read from pg_class
            + "".join(
                f" OR EXISTS (SELECT 1 FROM {seq} s, pg_sequence p"  # noqa: S608
                f" WHERE p.seqrelid = '{seq}'::regclass AND (s.is_called OR s.last_value <> p.seqstart))"
                for seq in row["sequences"]
            )
            for name, row in tables.items()
        )
        written = {r[0] for r in await conn.fetch(probes)}
        if not written:
            return
        large = sorted(n for n in written if tables[n]["bytes"] > TRUNCATE_BYTES)
        # The tables the source tables' ALWAYS triggers keep up to date go first, so those
        # triggers then find nothing to refresh.
        small = sorted(written.difference(large), key=lambda n: (n not in DERIVED, n))
        statements = ["BEGIN", "SET LOCAL session_replication_role = replica"]
        statements += [f'DELETE FROM "{n}"' for n in small]  # noqa: S608 - names read from pg_class
        sequences = [seq for n in small for seq in tables[n]["sequences"]]
        if sequences:
            # setval, not ALTER SEQUENCE ... RESTART: no new file, no catalog change.
            listed = ", ".join(f"'{seq}'::regclass" for seq in sequences)
            statements.append(
                f"SELECT setval(seqrelid, seqstart, false) FROM pg_sequence WHERE seqrelid IN ({listed})"  # noqa: S608
            )
        if large:
            statements.append("TRUNCATE " + ", ".join(f'"{n}"' for n in large) + " RESTART IDENTITY CASCADE")
        statements.append("COMMIT")
        await conn.execute(";\n".join(statements))
    finally:
        await conn.close()
