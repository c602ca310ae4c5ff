"""Province-wide counts against real PostgreSQL: the same counts whether the people are counted
in the request's process or in worker processes (each reading a range of person ids under the
request's snapshot), for every kind of person the rules tell apart."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.db import compiled, driver_connection, make_engine, make_sessionmaker
from safework_scheduler.due import repository as repo
from safework_scheduler.due import service
from safework_scheduler.due.rules import sample_order_key
from safework_scheduler.policy.repository import PolicyStore
from tests.callers import PROVINCE
from tests.scheduler.factories import Registry, local, registry
from tests.scheduler.test_due_api import Park, monday_enterprise, vaccinated

AS_OF = local(2021, 9, 15, 23, 59)


async def a_province(reg: Registry) -> dict[str, uuid.UUID]:
    """A park, a garment maker drawing rotating samples, and one person of each kind the rules
    tell apart (plain or not), spread over the range of person ids."""
    park = Park()
    await park.build(reg)
    garment = monday_enterprise(3)
    await reg.enterprise(district="Lục Nam", zone_type="OUTSIDE", industry="garment", enterprise_id=garment)
    for i in range(10):
        pid = await vaccinated(reg, garment, person_id=uuid.UUID(int=(i + 1) << 124))
        if i % 3 == 0:
            await reg.result(pid, local(2021, 9, 13, 9))
    other = await reg.enterprise(district="Yên Dũng", zone_type="KCN", enterprise_id=monday_enterprise(2))
    people = {
        "never tested, unvaccinated": await reg.person(other),
        "high-risk": await vaccinated(reg, other, high_risk=True),
        "new hire in the buffer": await vaccinated(
            reg, other, arrived_at=local(2021, 9, 12, 8), arrived_from_province="Hà Nội", hire_date=date(2021, 9, 12)
        ),
        "new hire long ago": await vaccinated(
            reg, other, arrived_at=local(2021, 8, 1, 8), arrived_from_province="Hà Nội", hire_date=date(2021, 8, 1)
        ),
        "back from Hà Nội": await vaccinated(reg, other),
        "in a positive pool": await vaccinated(reg, other),
        "a contact": await vaccinated(reg, other),
        "positive rapid test": await vaccinated(reg, other),
        "left": await vaccinated(reg, other, status="left"),
    }
    await reg.result(people["high-risk"], local(2021, 9, 13, 8))
    await reg.result(people["new hire in the buffer"], local(2021, 9, 11, 9))
    await reg.travel(people["back from Hà Nội"], local(2021, 9, 14, 18))
    pool_member = people["in a positive pool"]
    await reg.pool([pool_member], local(2021, 9, 14, 7), local(2021, 9, 14, 15))
    await reg.declaration(people["a contact"], local(2021, 9, 15, 8), contact=True)
    await reg.result(people["positive rapid test"], local(2021, 9, 15, 9), kind="RAPID_ANTIGEN", result="POSITIVE")
    return {"park": park.id, "garment": garment, "other": other}


@pytest.fixture
async def session(db: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(db, read_only=True)
    try:
        async with make_sessionmaker(engine)() as s:
            yield s
    finally:
        await engine.dispose()


async def counts(session: AsyncSession, workers: int, district: str | None = None) -> dict[uuid.UUID, service.Tally]:
    rules = await service.rules_at(session, PolicyStore(), AS_OF)
    enterprises = await repo.list_enterprises(session, district, None)
    return await service.province_tallies(
        session, rules, enterprises, district=district, zone_type=None, workers=workers
    )


async def test_worker_processes_count_what_the_request_counts(db: str, session: AsyncSession) -> None:
    async with registry(db) as reg:
        ids = await a_province(reg)
    here = await counts(session, workers=1)
    # Not cleared: everyone but the high-risk worker, tested on 13 Sep (seeds/003: the others were
    # never tested negative, or are blocked); overdue: the never-tested unvaccinated worker, the
    # buffer test, the return test and the positive pool's PCR.
    assert here[ids["other"]] == service.Tally(people=8, due=7, overdue=4, not_cleared=7)
    assert here[ids["garment"]].people == 10 and here[ids["park"]].people == 6
    for workers in (2, 3):
        assert await counts(session, workers=workers) == here, workers
    district = await counts(session, workers=2, district="Yên Dũng")
    assert district == {ids["other"]: here[ids["other"]]}


async def test_the_enterprise_list_and_the_province_agree_person_by_person(db: str, session: AsyncSession) -> None:
    """An enterprise's day (one statement through each person's index entries) and a province
    share (the window aggregated once) read the same facts: same counts."""
    async with registry(db) as reg:
        ids = await a_province(reg)
    rules = await service.rules_at(session, PolicyStore(), AS_OF)
    province = await counts(session, workers=2)
    for enterprise in await repo.list_enterprises(session, None, None):
        day = await service.evaluate_enterprise(session, rules, enterprise)
        assert day.counts() == province[enterprise.id].counts(), enterprise.id
        assert [day.rules.status(day.answer(i)) for i in range(len(day.rows))] == day.statuses
    assert set(ids.values()) <= set(province)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shares_cover_every_person_id_once(n: int) -> None:
    shares = repo.shares(n, "Việt Yên", None)
    assert len(shares) == n and shares[0].low is None and shares[-1].high is None
    assert all(a.high == b.low for a, b in itertools.pairwise(shares))
    assert all(s.district == "Việt Yên" and s.zone_type is None for s in shares)
    probes = [uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1), *(uuid.uuid4() for _ in range(200))]
    for pid in probes:
        assert sum(s.holds(pid) for s in shares) == 1, pid


def test_no_worker_is_started_for_a_small_population() -> None:
    from safework_scheduler.due import bulk

    assert bulk.workers_for(0) == 1
    assert bulk.workers_for(bulk.PEOPLE_PER_WORKER - 1) == 1
    assert bulk.cpu_count() >= bulk.workers_for(10 * bulk.PEOPLE_PER_WORKER) >= 1


async def _everything_as_of(session: AsyncSession) -> tuple[Any, ...]:
    """Every answer the due computation gives at AS_OF: province counts (in the request and in
    workers), each enterprise's day, and each person's own answer."""
    rules = await service.rules_at(session, PolicyStore(), AS_OF)
    days = {}
    people = {}
    for enterprise in await repo.list_enterprises(session, None, None):
        day = await service.evaluate_enterprise(session, rules, enterprise)
        days[enterprise.id] = [day.item(i) for i in range(len(day.rows))]
        for i in range(len(day.rows)):
            pid = day.person_id(i)
            people[pid] = await service.person_due(session, PolicyStore(), PROVINCE, pid, AS_OF)
    return await counts(session, workers=1), await counts(session, workers=2), days, people


async def test_what_is_recorded_after_as_of_changes_nothing_as_of_then(db: str, session: AsyncSession) -> None:
    """The registry's roll-up (latest result, latest positive, dose 1) answers only when nothing
    in it is after as_of; otherwise the results themselves are read. Later negatives, later
    positives and a later dose 1, for every kind of person, leave every answer at AS_OF as it
    was."""
    async with registry(db) as reg:
        await a_province(reg)
    before = await _everything_as_of(session)
    await session.rollback()

    async with registry(db) as reg:
        everyone = [r["id"] for r in await reg.conn.fetch("SELECT id FROM person ORDER BY id")]
        for k, pid in enumerate(everyone):
            await reg.result(pid, AS_OF + timedelta(hours=1 + k % 5))
            if k % 2:
                await reg.result(pid, AS_OF + timedelta(days=1), kind="RAPID_ANTIGEN", result="POSITIVE")
        for pid in everyone:
            if not await reg.conn.fetchval("SELECT count(*) FROM dose WHERE person_id = $1", pid):
                await reg.dose(pid, 1, AS_OF + timedelta(hours=2))
        later = await reg.conn.fetchrow(
            "SELECT count(*) FILTER (WHERE last_result_at > $1), count(*) FILTER (WHERE last_positive_at > $1)"
            " FROM person_rollup",
            AS_OF,
        )
        assert tuple(later) == (len(everyone), len(everyone) // 2), "the roll-up no longer answers as of AS_OF"

    assert await _everything_as_of(session) == before


async def test_instants_reach_the_rules_to_the_microsecond(session: AsyncSession) -> None:
    """The statements send instants as microseconds after the window's start
    (``repository.relative_micros``, a float8 for the server's sake): exact to the microsecond
    within 60 years either side of it, odd microseconds and midnights included."""
    from safework_scheduler.due.rules import micros

    since = local(2021, 9, 3, 10)
    rng = random.Random(20210903)
    span = 60 * 365 * 86_400 * 10**6
    instants = [since + timedelta(microseconds=rng.randrange(-span, span)) for _ in range(5000)]
    instants += [local(2021, 9, 24), local(2021, 9, 24) - timedelta(microseconds=1), since, local(2081, 1, 1, 0, 0)]
    conn = await driver_connection(session)
    u = (
        sa.func.unnest(sa.bindparam("instants", type_=ARRAY(sa.DateTime(timezone=True))))
        .table_valued("x", with_ordinality="n")
        .render_derived()
    )
    stmt = compiled(sa.select(repo.relative_micros(u.c.x)).order_by(u.c.n))
    got = [r[0] for r in await conn.fetch(stmt.sql, *stmt.args(instants=instants, since=since))]
    assert got == [micros(i) - micros(since) for i in instants]


async def test_the_database_orders_a_rotating_sample_as_the_rules_do(db: str, session: AsyncSession) -> None:
    """A rotating sample's roster comes from the database already in the sample order
    (``ROSTERS``: SHA-256 of the two ids' bytes): the same order ``sample_order_key`` gives,
    so the same people are picked whichever side ordered them."""
    async with registry(db) as reg:
        ids = await a_province(reg)
    garment = ids["garment"]
    got = (await repo.rosters(session, [garment]))[garment]
    people = [uuid.UUID(bytes=got[i : i + 16]) for i in range(0, len(got), 16)]
    assert len(people) == 10
    assert people == sorted(people, key=lambda pid: sample_order_key(garment, pid))
    assert people != sorted(people)  # not merely by id
