"""The test harness's per-test reset (``tests.support.database.reset``): after it every table is
empty (but the schema version and the loaded policies), every sequence gives its first value
again, both for the small tables it deletes from and for the large ones it truncates."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from safework_cli.seed import seed_province
from tests.support import database


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
    ]
    return {n: await conn.fetchval(f'SELECT count(*) FROM "{n}"') for n in names}  # noqa: S608


async def _sequences(conn: asyncpg.Connection) -> dict[str, tuple[int | None, int]]:
    """Each sequence's last value (None when not drawn since its start) and its start."""
    rows = await conn.fetch(
        "SELECT s.sequencename, s.last_value, s.start_value FROM pg_sequences s WHERE s.schemaname = 'public'"
    )
    return {r[0]: (r[1], r[2]) for r in rows}


async def test_reset_empties_every_table_and_restarts_every_sequence(db: str, keys_dir: Path) -> None:
    key = (keys_dir / "national_id_hmac.key").read_bytes().strip()
    # Most of the registry's tables, their triggers' rollups and sequences.
    await seed_province(db, people=150, enterprises=4, seed=3, national_id_key=key, checkin_days=2)
    conn = await asyncpg.connect(db)
    try:
        # The append-only audit log (its trigger refuses DELETE), a gateway table with a sequence,
        # and a table large enough to be truncated rather than deleted from.
        await conn.execute(
            "INSERT INTO audit_log (role, subject, action, entity) VALUES ('authority', 'test', 'create', 'person')"
        )
        await conn.execute(
            "INSERT INTO gateway_unsanctioned_attempt (endpoint, app_id) VALUES ('/api/v1/me/status', 'x.y')"
        )
        await conn.execute(
            "INSERT INTO outbox_event (payload, occurred_at, kind, entity, entity_id)"
            " SELECT jsonb_build_object('padding', repeat(md5(i::text), 20)), now(), 'test', 'test', i::text"
            " FROM generate_series(1, 2000) i"
        )
        assert await conn.fetchval("SELECT pg_table_size('outbox_event')") > database.TRUNCATE_BYTES
        before = await _counts(conn)
        kept = {name: before[name] for name in database.KEEP}
        written = {name for name, n in before.items() if n and name not in database.KEEP}
        # The seed and the inserts above touched tables of every kind.
        assert {"person", "dose", "person_rollup", "test_result", "checkin", "audit_log", "outbox_event"} <= written
        # The seed writes its own ids; a sequence drawn from by hand counts as written too.
        await conn.execute("SELECT nextval('dose_id_seq')")
        drawn = {name for name, (last, _) in (await _sequences(conn)).items() if last is not None}
        assert {
            "outbox_event_id_seq",
            "audit_log_id_seq",
            "gateway_unsanctioned_attempt_id_seq",
            "dose_id_seq",
        } <= drawn

        await database.reset(db)

        after = await _counts(conn)
        assert {n: c for n, c in after.items() if c and n not in database.KEEP} == {}
        assert {name: after[name] for name in database.KEEP} == kept
        assert all(kept.values()), "the schema version and the policies are kept"
        sequences = await _sequences(conn)
        assert {name: last for name, (last, _) in sequences.items() if last is not None} == {}
        for name, (_, start) in sequences.items():
            assert await conn.fetchval("SELECT nextval($1::regclass)", name) == start
        # Drawn just now: the next reset restarts them again although every table is empty.
        await database.reset(db)
        assert {name: last for name, (last, _) in (await _sequences(conn)).items() if last is not None} == {}
        # A reset of an untouched database changes nothing.
        await database.reset(db)
        assert await _counts(conn) == after
    finally:
        await conn.close()


async def test_a_test_after_a_reset_gets_the_first_ids(db: str) -> None:
    """The ``db`` fixture reset after the test above: this one sees empty tables and first ids."""
    conn = await asyncpg.connect(db)
    try:
        counts = await _counts(conn)
        assert {n: c for n, c in counts.items() if c and n not in database.KEEP} == {}
        first = await conn.fetchval(
            "INSERT INTO audit_log (role, subject, action, entity) VALUES ('authority', 'test', 'read', 'person')"
            " RETURNING id"
        )
        assert first == 1
    finally:
        await conn.close()
