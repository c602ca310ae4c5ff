"""Alembic owns the schema: no drift between models and migrations; down and up both work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
