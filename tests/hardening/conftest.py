"""Hardening checks: the whole stack (gateway in front of the real registry and scheduler, on the
test database) driven with hostile input, concurrency and other tenants' IDs.

The gateway fixtures (``stack``, ``gateway_settings``) are the ones of ``tests/gateway``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from safework_common.settings import plain_pg_url
from tests.callers import As
from tests.gateway.conftest import Stack, gateway_settings, gateway_settings_for, stack
from tests.support import apps, database
from tests.support.apps import asgi

__all__ = ["gateway_settings", "stack"]

# --- table snapshots (bad input, idempotency, tenant bodies) ---------------------------------

Snapshot = dict[str, tuple[int, str]]

# Partitions (issue 18: results and check-ins by month) are read through their parent table.
_TABLES = """
SELECT c.relname AS tablename FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname
"""


async def table_snapshot(url: str) -> Snapshot:
    """Every table of the database: its row count and an md5 over its rows' text (every
    column, order-independent), so any insert, update or delete shows."""
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        names = [r["tablename"] for r in await conn.fetch(_TABLES)]
        parts = [
            f"SELECT '{n}' AS t, count(*) AS n, "  # noqa: S608 - table names read from pg_tables
            f"coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') AS h FROM \"{n}\" x"
            for n in names
        ]
        rows = await conn.fetch(" UNION ALL ".join(parts))
        return {r["t"]: (r["n"], r["h"]) for r in rows}
    finally:
        await conn.close()


@pytest.fixture
def snapshot(database_url: str) -> Callable[[], Awaitable[Snapshot]]:
    """``await snapshot()``: the state of every table now (see :func:`table_snapshot`)."""

    async def take() -> Snapshot:
        return await table_snapshot(database_url)

    return take


@pytest.fixture(scope="module")
async def module_stack(
    database_url: str, keys_dir: Path, common_settings: dict[str, Any], minter: InternalTokenMinter
) -> AsyncIterator[Stack]:
    """The same stack as ``stack``, built once for a module whose tests share one world (tables
    are emptied when the module is done). Its tests must not use ``db``, which empties them
    after every test."""
    from safework_registry.settings import RegistrySettings
    from safework_scheduler.settings import SchedulerSettings

    reg = apps.registry(
        RegistrySettings(
            database_url=database_url, national_id_key_file=keys_dir / "national_id_hmac.key", **common_settings
        )
    )
    sch = apps.scheduler(SchedulerSettings(database_url=database_url, **common_settings))
    gw = apps.gateway(gateway_settings_for(database_url, keys_dir), registry=reg, scheduler=sch)
    try:
        async with (
            reg.router.lifespan_context(reg),
            sch.router.lifespan_context(sch),
            gw.router.lifespan_context(gw),
            httpx.AsyncClient(transport=asgi(gw), base_url="http://test") as http,
            httpx.AsyncClient(transport=asgi(reg), base_url="http://registry") as registry,
            httpx.AsyncClient(transport=asgi(sch), base_url="http://scheduler") as scheduler,
        ):
            yield Stack(app=gw, http=http, registry=As(registry, minter), scheduler=As(scheduler, minter))
    finally:
        await database.truncate_all(database_url)
