"""The scheduler on a streaming replica (issue 18): ``SCHEDULER_DATABASE_URL`` pointed at a real
hot standby (``pg_basebackup -R`` of a primary, both made on this machine by
``tests.support.replica``) answers the same as on the primary once the replica has replayed the
writes; and under lag (replay paused with ``pg_wal_replay_pause()``, so the lag is made, not
timed) a read right after a registry write sees the world before it. Which reads must therefore
go to the primary is in RELIABILITY.md ("Replicas and lag")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from safework_common.internal_auth import InternalTokenMinter
from tests.callers import PROVINCE, As
from tests.conftest import running
from tests.scheduler.factories import local, registry
from tests.scheduler.test_due_api import Park, monday_enterprise
from tests.support import replica

pytestmark = pytest.mark.skipif(replica.unavailable() is not None, reason=replica.unavailable() or "")

AS_OF = {"as_of": "2021-09-13T10:00:00+07:00"}


@pytest.fixture(scope="module")
def pair() -> Iterator[replica.Pair]:
    from safework_cli import migrate
    from safework_cli.policy import load_policies

    with replica.primary_and_replica() as made:
        migrate.upgrade(made.primary, "heads", configure_logger=False)
        asyncio.run(load_policies(made.primary))
        yield made


def _scheduler(url: str, common_settings: dict[str, Any]) -> Any:
    from safework_scheduler.app import create_app
    from safework_scheduler.settings import SchedulerSettings

    return create_app(SchedulerSettings(database_url=url, **common_settings), configure_logs=False)


@pytest.fixture
async def apps(
    pair: replica.Pair, common_settings: dict[str, Any]
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A scheduler reading the primary and one reading the replica."""
    async with (
        running(_scheduler(pair.primary, common_settings)) as on_primary,
        running(_scheduler(pair.replica, common_settings)) as on_replica,
    ):
        yield on_primary, on_replica


async def _replay(url: str, paused: bool) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
        want = "paused" if paused else "not paused"
        async with asyncio.timeout(60):
            while True:  # pausing takes effect at the next record replayed
                if await conn.fetchval("SELECT pg_get_wal_replay_pause_state()") == want:
                    break
                await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def test_the_replica_is_a_read_only_standby_and_answers_scheduler_reads(
    pair: replica.Pair, apps: tuple[httpx.AsyncClient, httpx.AsyncClient], minter: InternalTokenMinter
) -> None:
    park = Park()
    async with registry(pair.primary) as reg:
        await park.build(reg)
    await pair.caught_up()
    conn = await asyncpg.connect(pair.replica)
    try:
        assert await conn.fetchval("SELECT pg_is_in_recovery()"), "a hot standby"
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("DELETE FROM test_result")
    finally:
        await conn.close()
    on_primary, on_replica = (As(app, minter)(PROVINCE) for app in apps)

    for path, params in (
        (f"/v1/persons/{park.due_a}/due", AS_OF),
        (f"/v1/persons/{park.positive_h}/due", AS_OF),
        (f"/v1/enterprises/{park.id}/due", {"date": "2021-09-13"}),
        ("/v1/due", {"as_of": "2021-09-15T23:59:59.999999+07:00"}),  # the province (exported snapshot)
    ):
        from_replica = await on_replica.get(path, params=params)
        assert from_replica.status_code == 200, (path, from_replica.text)
        assert from_replica.json() == (await on_primary.get(path, params=params)).json(), path


async def test_a_read_right_after_a_registry_write_sees_the_world_before_it_while_the_replica_lags(
    pair: replica.Pair, apps: tuple[httpx.AsyncClient, httpx.AsyncClient], minter: InternalTokenMinter
) -> None:
    """A positive result and a new hire are written to the primary while the replica's replay is
    paused: the replica's scheduler still clears the person to work and does not know the hire
    (404); the primary's knows both. Once replay resumes and catches up, the two agree."""
    park = Park()
    park.id = monday_enterprise(3)  # another enterprise than the other test's
    async with registry(pair.primary) as reg:
        await park.build(reg)
    await pair.caught_up()
    on_primary, on_replica = (As(app, minter)(PROVINCE) for app in apps)
    status = f"/v1/persons/{park.due_a}/due"
    assert (await on_replica.get(status, params=AS_OF)).json()["cleared_to_work"] is True

    await _replay(pair.replica, paused=True)
    try:
        async with registry(pair.primary) as reg:
            await reg.result(park.due_a, local(2021, 9, 13, 8), result="POSITIVE")
            hire = await reg.person(park.id, cohort=0, employee_code="NEW")

        stale = await on_replica.get(status, params=AS_OF)
        fresh = await on_primary.get(status, params=AS_OF)
        assert stale.json()["cleared_to_work"] is True, "the replica has not seen the positive yet"
        assert fresh.json()["cleared_to_work"] is False, "the primary has"
        unknown = await on_replica.get(f"/v1/persons/{hire}/due", params=AS_OF)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "person_not_found"
        assert (await on_primary.get(f"/v1/persons/{hire}/due", params=AS_OF)).status_code == 200
    finally:
        await _replay(pair.replica, paused=False)

    await pair.caught_up()
    assert (await on_replica.get(status, params=AS_OF)).json() == (await on_primary.get(status, params=AS_OF)).json()
    assert (await on_replica.get(f"/v1/persons/{hire}/due", params=AS_OF)).status_code == 200
