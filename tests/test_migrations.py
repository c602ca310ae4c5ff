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
