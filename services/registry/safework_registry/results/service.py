"""Reading results back: a lab's own submissions, and one person's results."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.results import ResultOut
from safework_common.internal_auth import Caller
from safework_common.scope import caller_district
from safework_registry import timeline
from safework_registry.enterprises.models import Enterprise
from safework_registry.pagination import Page, decode_keys, encode_cursor
from safework_registry.persons.access import person_in_scope
from safework_registry.persons.models import Person
from safework_registry.results.ingest import lab_for_caller
from safework_registry.results.models import Pool, TestResult


def _columns() -> Select[*tuple[Any, ...]]:
    return select(
        TestResult.id,
        TestResult.person_id,
        TestResult.lab_id,
        TestResult.sample_id,
        TestResult.kind,
        TestResult.collected_at,
        TestResult.resulted_at,
        TestResult.result,
        TestResult.pooled,
        Pool.pool_sample_id,
        TestResult.received_at,
    ).outerjoin(Pool, Pool.id == TestResult.pool_id)


async def lab_results(
    session: AsyncSession, caller: Caller, lab_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[ResultOut]:
    """The lab's submissions in the order received (keyset on the row ID). A district authority
    sees those of people in its district only."""
    await lab_for_caller(session, caller, lab_id, posting=False)
    stmt = _columns().where(TestResult.lab_id == lab_id)
    district = caller_district(caller)
    if district is not None:
        stmt = stmt.join(Person, Person.id == TestResult.person_id).join(
            Enterprise, Enterprise.id == Person.enterprise_id
        )
        stmt = stmt.where(Enterprise.district == district)
    after = decode_keys(cursor, int)
    if after is not None:
        stmt = stmt.where(TestResult.id > after[0])
    rows = (await session.execute(stmt.order_by(TestResult.id).limit(limit + 1))).all()
    items = [ResultOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return Page[ResultOut](items=items, next_cursor=next_cursor)


async def person_results(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[ResultOut]:
    """One person's results, newest sample first (keyset on collected_at, id)."""
    await person_in_scope(session, caller, person_id)
    stmt = timeline.newest_first(
        _columns().where(TestResult.person_id == person_id), TestResult.collected_at, TestResult.id, cursor, limit
    )
    rows = (await session.execute(stmt)).all()
    items = [ResultOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
    next_cursor = timeline.next_cursor([(r.collected_at, r.id) for r in rows], limit)
    return Page[ResultOut](items=items, next_cursor=next_cursor)
