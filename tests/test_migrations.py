"""Alembic owns the schema: no drift between models and migrations; down and up both work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from safework_cli import migrate
from tests.support import database


@pytest.fixture
async def scratch_db(admin_url: str) -> AsyncIterator[str]:
    url = await database.create_database(admin_url, prefix="safework_migr")
    yield url
    await database.drop_database(admin_url, url)


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


async def test_models_and_migrations_do_not_drift(scratch_db: str) -> None:
    """`alembic check` after upgrading to head finds nothing to generate."""
    await asyncio.to_thread(migrate.upgrade, scratch_db, "heads", configure_logger=False)
    await asyncio.to_thread(migrate.check, scratch_db, configure_logger=False)


async def test_downgrade_to_base_and_upgrade_to_head(scratch_db: str) -> None:
    await asyncio.to_thread(migrate.upgrade, scratch_db, "heads", configure_logger=False)
    at_head = await _tables(scratch_db)
    await asyncio.to_thread(migrate.downgrade, scratch_db, "base", configure_logger=False)
    assert await _tables(scratch_db) <= {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, scratch_db, "heads", configure_logger=False)
    assert await _tables(scratch_db) == at_head


def test_migration_files_are_named_by_date_and_slug() -> None:
    import re

    versions = Path(migrate.REPO_ROOT / "migrations" / "versions")
    for f in versions.glob("*.py"):
        assert re.match(r"^\d{8}_[0-9a-z_]+\.py$", f.name), f.name


async def test_districts_already_stored_are_rewritten_in_their_canonical_spelling(scratch_db: str) -> None:
    """Session 3: districts were free text compared as written. registry_0003 and gateway_0002
    rewrite the enterprises', boarding houses' and clients' districts canonical
    (``safework_common.geo``); a value naming no district is left as it was."""
    for revision in ("registry_0002", "gateway_0001"):
        await asyncio.to_thread(migrate.upgrade, scratch_db, revision, configure_logger=False)
    conn = await asyncpg.connect(scratch_db)
    try:
        await conn.executemany(
            "INSERT INTO enterprise (id, tax_code, name, district, zone_type) "
            "VALUES (gen_random_uuid(), $1, 'E', $2, 'OUTSIDE')",
            [("2400000001", "Huyện Việt Yên"), ("2400000002", "viet yen"), ("2400000003", "Atlantis")],
        )
        await conn.execute(
            "INSERT INTO accommodation (id, name, address, district, kind) "
            "VALUES (gen_random_uuid(), 'N', 'A', 'TP Bắc Giang', 'boarding_house')"
        )
        await conn.executemany(
            "INSERT INTO gateway_client (client_id, name, secret_hash, role, district, owner_district, created_by) "
            "VALUES ($1, 'c', 'x', 'authority', $2, $2, 'test')",
            [("authority-1", "hiep hoa"), ("authority-2", "Hiệp Hòa"), ("authority-3", "Atlantis")],
        )
    finally:
        await conn.close()
    await asyncio.to_thread(migrate.upgrade, scratch_db, "heads", configure_logger=False)
    conn = await asyncpg.connect(scratch_db)
    try:
        enterprises = [r["district"] for r in await conn.fetch("SELECT district FROM enterprise ORDER BY tax_code")]
        sites = [r["district"] for r in await conn.fetch("SELECT district FROM accommodation")]
        clients = [
            (r["district"], r["owner_district"])
            for r in await conn.fetch("SELECT district, owner_district FROM gateway_client ORDER BY client_id")
        ]
    finally:
        await conn.close()
    assert enterprises == ["Việt Yên", "Việt Yên", "Atlantis"]
    assert sites == ["Bắc Giang"]
    assert clients == [("Hiệp Hòa", "Hiệp Hòa"), ("Hiệp Hòa", "Hiệp Hòa"), ("Atlantis", "Atlantis")]


async def test_unknown_places_are_listed_not_dropped(db: str) -> None:
    """Issue 13: free-text provinces are mapped to the 63 of 2021 by the migration; a value naming
    no known place is left as it was and listed by `safework geo unknown`, never dropped."""
    from safework_cli.geo import unknown_places
    from tests.scheduler.factories import registry

    async with registry(db) as reg:
        eid = await reg.enterprise()
        pid = await reg.person(eid)
        await reg.conn.execute("UPDATE person SET home_province = 'Atlantis' WHERE id = $1", pid)
        other = await reg.person(eid)
        await reg.conn.execute("UPDATE person SET home_province = 'Nam Định' WHERE id = $1", other)
    found = await unknown_places(db)
    assert ("person", "home_province", "Atlantis", 1) in found
    assert all(value != "Nam Định" for _, _, value, _ in found)


async def test_results_and_checkins_become_monthly_partitions_with_their_rows(scratch_db: str) -> None:
    """Issue 18, registry_0011: test_result and checkin are converted to tables partitioned by
    month with every row kept (in its month's partition), identities continuing after them, the
    roll-up's triggers firing on the new table, and an outbreak case still naming its result;
    the downgrade makes plain tables of them again, rows kept."""
    await asyncio.to_thread(migrate.upgrade, scratch_db, "registry_0010", configure_logger=False)
    conn = await asyncpg.connect(scratch_db)
    try:
        await conn.execute(
            "INSERT INTO enterprise (id, tax_code, name, district, zone_type) "
            "VALUES ('00000000-0000-0000-0000-00000000000e', '2400000001', 'E', 'Việt Yên', 'OUTSIDE')"
        )
        await conn.execute(
            "INSERT INTO person (id, national_id_hash, national_id_enc, national_id_last4, full_name, date_of_birth, "
            "sex, enterprise_id) VALUES ('00000000-0000-0000-0000-000000000001', '\\x01', '\\x01', '0001', 'P', "
            "'1990-01-01', 'male', '00000000-0000-0000-0000-00000000000e')"
        )
        await conn.execute(
            "INSERT INTO lab (id, name, licence_code) VALUES ('00000000-0000-0000-0000-00000000000a', 'L', 'LAB-1')"
        )
        await conn.execute(
            "INSERT INTO venue (id, enterprise_id, name, kind, qr_code) VALUES "
            "('00000000-0000-0000-0000-00000000000f', '00000000-0000-0000-0000-00000000000e', 'G', 'gate', 'QR-1')"
        )
        await conn.execute(
            "INSERT INTO test_result (person_id, lab_id, sample_id, kind, collected_at, resulted_at, result) "
            "SELECT '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a', 'S-' || k, 'PCR', "
            "t, t, CASE WHEN k = 3 THEN 'POSITIVE' ELSE 'NEGATIVE' END "
            "FROM unnest(ARRAY['2021-08-20 08:00+07', '2021-09-13 08:00+07', '2021-10-01 00:00+07']::timestamptz[]) "
            "WITH ORDINALITY AS u(t, k)"
        )
        await conn.execute(
            "INSERT INTO checkin (person_id, venue_id, checked_in_at) VALUES "
            "('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000f', '2021-09-30 23:59+07')"
        )
        await conn.execute(
            "INSERT INTO outbreak_case (id, person_id, result_id, basis, collected_at, infectious_from, traced_at) "
            "SELECT gen_random_uuid(), person_id, id, 'pcr', collected_at, collected_at - interval '2 days', "
            "collected_at FROM test_result WHERE sample_id = 'S-3'"
        )
        before = [tuple(r) for r in await conn.fetch("SELECT * FROM test_result ORDER BY id")]
    finally:
        await conn.close()

    await asyncio.to_thread(migrate.upgrade, scratch_db, "heads", configure_logger=False)

    conn = await asyncpg.connect(scratch_db)
    try:
        assert [tuple(r) for r in await conn.fetch("SELECT * FROM test_result ORDER BY id")] == before
        placed = await conn.fetch("SELECT sample_id, tableoid::regclass::text AS part FROM test_result ORDER BY id")
        assert [(r["sample_id"], r["part"]) for r in placed] == [
            ("S-1", "test_result_y2021m08"),
            ("S-2", "test_result_y2021m09"),
            ("S-3", "test_result_y2021m10"),
        ]
        assert await conn.fetchval("SELECT tableoid::regclass::text FROM checkin") == "checkin_y2021m09"
        assert await conn.fetchval("SELECT count(*) FROM test_result_sample") == 3, "the idempotency keys"
        assert await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'test_result'") == "p"
        case = await conn.fetchrow(
            "SELECT c.result_id, r.sample_id FROM outbreak_case c JOIN test_result r ON r.id = c.result_id "
            "AND r.collected_at = c.collected_at"
        )
        assert case is not None and case["sample_id"] == "S-3"
        new_id = await conn.fetchval(
            "INSERT INTO test_result (person_id, lab_id, sample_id, kind, collected_at, resulted_at, result) "
            "VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a', 'S-4', 'PCR', "
            "'2021-10-05 08:00+07', '2021-10-05 08:00+07', 'NEGATIVE') RETURNING id"
        )
        assert new_id == 4, "the identity continues after the copied rows"
        latest = await conn.fetchval("SELECT last_result_at FROM person_rollup")
        assert latest == datetime(2021, 10, 5, 1, 0, tzinfo=UTC), "the roll-up's insert trigger fired"
        await conn.execute("DELETE FROM test_result WHERE sample_id = 'S-3'")
        assert await conn.fetchval("SELECT result_id FROM outbreak_case") is None, "SET NULL (result_id)"
        assert await conn.fetchval("SELECT last_positive_at FROM person_rollup") is None, "the delete trigger fired"
        keys = await conn.fetch("SELECT sample_id FROM test_result_sample ORDER BY sample_id")
        assert [r["sample_id"] for r in keys] == ["S-1", "S-2", "S-4"], "kept by the insert and delete triggers"
    finally:
        await conn.close()

    await asyncio.to_thread(migrate.downgrade, scratch_db, "registry_0010", configure_logger=False)
    conn = await asyncpg.connect(scratch_db)
    try:
        assert await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'test_result'") == "r"
        assert [r["sample_id"] for r in await conn.fetch("SELECT sample_id FROM test_result ORDER BY id")] == [
            "S-1",
            "S-2",
            "S-4",
        ]
        assert await conn.fetchval("SELECT count(*) FROM checkin") == 1
    finally:
        await conn.close()
