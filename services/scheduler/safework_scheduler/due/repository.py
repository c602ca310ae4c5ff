"""Loads what the due rules need: read-only, set-based, in bulk.

One statement answers for a whole set of people (one person, one enterprise, or a province): the
people joined with their aggregated history (dose 1, results, declarations, travels and positive
pools within the policy's history window, none after ``as_of``). For one enterprise each
person's history is read through its indexes; a province aggregates each history table once and
is read through a server-side cursor, so memory holds a batch or two at a time. Arrays come to
the rules as asyncpg decoded them (results as two flat arrays, the rest as records read by
position): nothing is copied per result.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from safework_scheduler.due.rules import NO_RESULTS, EnterpriseFacts, PersonFacts, Results

# What the rules read of each person (PersonFacts' field order). $1 = as_of, $2 = the start of
# the history window: nothing recorded after as_of or before the window counts, nor INVALID
# results. Dose 1 is enough: the registry records dose n only after dose n - 1.
_FACTS = """
    p.id, p.test_cohort, d1.administered_at, p.high_risk, p.high_risk_until, p.hire_date,
    p.arrived_at, p.arrived_from_province, rz.collected, rz.codes,
    hz.declarations, vz.travels, pz.pools
"""

# Results travel as two flat arrays: collection times, and codes packing kind, outcome and
# pooling exactly as ``rules.result_code`` does (far cheaper to send and decode than records).
# Declarations, travels and pools are few: arrays of records, NULL when none.

# For a few people (one person, one enterprise; the CTE ``ppl``): results and dose 1 through
# each person's index entries; the sparse tables (declarations, travels, pools) joined as sets,
# the planner choosing between index probes and a scan of the window by their size.
_HISTORY_BY_PERSON = """
LEFT JOIN LATERAL (
    SELECT
    array_agg(r.collected_at) AS collected,
    array_agg(((r.kind = 'PCR')::int + 2 * (r.result = 'POSITIVE')::int + 4 * r.pooled::int)::int2) AS codes
    FROM test_result r
    WHERE r.person_id = p.id AND r.collected_at > $2 AND r.collected_at <= $1 AND r.result <> 'INVALID'
) rz ON true
LEFT JOIN LATERAL (
    SELECT d.administered_at FROM dose d WHERE d.person_id = p.id AND d.dose_number = 1
    OFFSET 0  -- keep it a per-person index probe (not pulled up into a scan of every dose)
) d1 ON true
LEFT JOIN (
    SELECT h.person_id,
           array_agg((h.declared_at, h.symptoms::text[], h.contact_with_confirmed_case)) AS declarations
    FROM health_declaration h JOIN ppl ON ppl.id = h.person_id
    WHERE h.declared_at > $2 AND h.declared_at <= $1
    GROUP BY h.person_id
) hz ON hz.person_id = p.id
LEFT JOIN (
    SELECT v.person_id,
           array_agg((v.returned_at, v.destination_province::text, v.returned_to_boarding_house)) AS travels
    FROM travel v JOIN ppl ON ppl.id = v.person_id
    WHERE v.returned_at > $2 AND v.returned_at <= $1
    GROUP BY v.person_id
) vz ON vz.person_id = p.id
LEFT JOIN (
    SELECT m.person_id, array_agg((pl.collected_at, pl.resulted_at)) AS pools
    FROM pool pl JOIN pool_member m ON m.pool_id = pl.id JOIN ppl ON ppl.id = m.person_id
    WHERE pl.result = 'POSITIVE' AND pl.collected_at > $2 AND pl.resulted_at <= $1
    GROUP BY m.person_id
) pz ON pz.person_id = p.id
"""

# For a province or district: each history table aggregated once over the window, hash-joined.
_HISTORY_IN_BULK = """
LEFT JOIN dose d1 ON d1.person_id = p.id AND d1.dose_number = 1
LEFT JOIN (
    SELECT r.person_id,
    array_agg(r.collected_at) AS collected,
    array_agg(((r.kind = 'PCR')::int + 2 * (r.result = 'POSITIVE')::int + 4 * r.pooled::int)::int2) AS codes
    FROM test_result r
    WHERE r.collected_at > $2 AND r.collected_at <= $1 AND r.result <> 'INVALID'
    GROUP BY r.person_id
) rz ON rz.person_id = p.id
LEFT JOIN (
    SELECT h.person_id,
           array_agg((h.declared_at, h.symptoms::text[], h.contact_with_confirmed_case)) AS declarations
    FROM health_declaration h
    WHERE h.declared_at > $2 AND h.declared_at <= $1
    GROUP BY h.person_id
) hz ON hz.person_id = p.id
LEFT JOIN (
    SELECT v.person_id,
           array_agg((v.returned_at, v.destination_province::text, v.returned_to_boarding_house)) AS travels
    FROM travel v
    WHERE v.returned_at > $2 AND v.returned_at <= $1
    GROUP BY v.person_id
) vz ON vz.person_id = p.id
LEFT JOIN (
    SELECT m.person_id, array_agg((pl.collected_at, pl.resulted_at)) AS pools
    FROM pool pl JOIN pool_member m ON m.pool_id = pl.id
    WHERE pl.result = 'POSITIVE' AND pl.collected_at > $2 AND pl.resulted_at <= $1
    GROUP BY m.person_id
) pz ON pz.person_id = p.id
"""

_PERSON_COLUMNS = """
    p.id, p.enterprise_id, p.status, p.employee_code, p.full_name, p.test_cohort, p.high_risk,
    p.high_risk_until, p.hire_date, p.arrived_at, p.arrived_from_province
"""

# $3 = the enterprise.
ENTERPRISE_PEOPLE_SQL = (
    "WITH ppl AS MATERIALIZED (SELECT"
    + _PERSON_COLUMNS
    + "FROM person p WHERE p.enterprise_id = $3 AND p.status = 'active')"
    + " SELECT p.employee_code, p.full_name,"
    + _FACTS
    + "FROM ppl p"
    + _HISTORY_BY_PERSON
)

# $3 = the person.
PERSON_SQL = (
    "WITH ppl AS MATERIALIZED (SELECT"
    + _PERSON_COLUMNS
    + "FROM person p WHERE p.id = $3)"
    + " SELECT p.enterprise_id, p.status,"
    + _FACTS
    + "FROM ppl p"
    + _HISTORY_BY_PERSON
)

# Every active person of an enterprise in scope. $3 = district or NULL, $4 = zone type or NULL.
PROVINCE_SQL = (
    "SELECT p.enterprise_id,"
    + _FACTS
    + "FROM person p JOIN enterprise e ON e.id = p.enterprise_id"
    + _HISTORY_IN_BULK
    + "WHERE p.status = 'active' AND ($3::text IS NULL OR e.district = $3) AND ($4::text IS NULL OR e.zone_type = $4)"
)

# Enterprises in scope with the size of their active roster. $1 = district, $2 = zone type.
ENTERPRISES_SQL = """
SELECT e.id, e.name, e.district, e.zone_type, e.industry, e.operating_status, coalesce(n.people, 0)
FROM enterprise e
LEFT JOIN (
    SELECT enterprise_id, count(*) AS people FROM person WHERE status = 'active' GROUP BY enterprise_id
) n ON n.enterprise_id = e.id
WHERE ($1::text IS NULL OR e.district = $1) AND ($2::text IS NULL OR e.zone_type = $2)
ORDER BY e.id
"""

# $2: also count the active roster (else 0: a caller that reads the people counts them).
ENTERPRISE_SQL = """
SELECT e.id, e.name, e.district, e.zone_type, e.industry, e.operating_status,
       CASE WHEN $2 THEN (SELECT count(*) FROM person p WHERE p.enterprise_id = e.id AND p.status = 'active')
            ELSE 0 END
FROM enterprise e WHERE e.id = $1
"""

# The active rosters of the enterprises that draw rotating samples. $1 = their ids.
# Statements are prepared and cached per connection; a generic plan would not know whether a
# parameter names one enterprise or a whole province. Plan each execution for its parameters.
CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"

# The province statement aggregates each history table once over the window and hash-joins the
# results to a million people: room for the hashes (a million groups of results fit in about
# 300 MB; less spills to disk), and a plan for the whole result (a cursor otherwise favours
# fast-start nested loops). For this transaction only.
BULK_SETTINGS = "SET LOCAL work_mem = '256MB'; SET LOCAL cursor_tuple_fraction = 1.0; " + CUSTOM_PLANS

ROSTERS_SQL = "SELECT enterprise_id, id FROM person WHERE enterprise_id = ANY($1::uuid[]) AND status = 'active'"

# The same rows each statement reads, scanned once with nothing computed: the references the
# benchmark prints beside the full computations.
PROVINCE_SCAN_SQL = """
SELECT count(*), max(r.collected_at)
FROM person p
JOIN enterprise e ON e.id = p.enterprise_id
LEFT JOIN test_result r ON r.person_id = p.id AND r.collected_at > $2 AND r.collected_at <= $1
WHERE p.status = 'active'
"""

ENTERPRISE_SCAN_SQL = """
SELECT count(*), max(r.collected_at)
FROM person p
LEFT JOIN test_result r ON r.person_id = p.id AND r.collected_at > $2 AND r.collected_at <= $1
WHERE p.enterprise_id = $3 AND p.status = 'active'
"""


@dataclass(frozen=True, slots=True)
class EnterpriseRow:
    id: uuid.UUID
    name: str
    district: str
    zone_type: str
    industry: str
    operating_status: str
    roster_size: int

    @property
    def facts(self) -> EnterpriseFacts:
        return EnterpriseFacts(self.id, self.district, self.zone_type, self.industry, self.roster_size)


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """A person of an enterprise's due list, with what the enterprise shows beside them."""

    employee_code: str | None
    full_name: str
    facts: PersonFacts


@dataclass(frozen=True, slots=True)
class PersonRow:
    enterprise_id: uuid.UUID | None
    status: str
    facts: PersonFacts


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's (read-only) transaction:
    SQLAlchemy begins it lazily, so begin it now if nothing has run yet."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")
    return driver


def facts(row: Sequence[Any], at: int) -> PersonFacts:
    """A PersonFacts from the thirteen columns starting at ``at`` (see ``_FACTS``)."""
    collected = row[at + 8]
    return PersonFacts(
        row[at],
        row[at + 1],
        row[at + 2],
        row[at + 3],
        row[at + 4],
        row[at + 5],
        row[at + 6],
        row[at + 7],
        Results(collected, row[at + 9]) if collected else NO_RESULTS,
        row[at + 10] or (),
        row[at + 11] or (),
        row[at + 12] or (),
    )


def _enterprise(row: Sequence[Any]) -> EnterpriseRow:
    return EnterpriseRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


async def get_enterprise(
    session: AsyncSession, enterprise_id: uuid.UUID, *, roster_size: bool = False
) -> EnterpriseRow | None:
    conn = await driver_connection(session)
    row = await conn.fetchrow(ENTERPRISE_SQL, enterprise_id, roster_size)
    return None if row is None else _enterprise(row)


async def list_enterprises(session: AsyncSession, district: str | None, zone_type: str | None) -> list[EnterpriseRow]:
    """Enterprises in scope, by id, with their active roster sizes: one statement."""
    conn = await driver_connection(session)
    return [_enterprise(r) for r in await conn.fetch(ENTERPRISES_SQL, district, zone_type)]


async def enterprise_people(
    session: AsyncSession, enterprise_id: uuid.UUID, as_of: datetime, since: datetime
) -> list[RosterEntry]:
    """Every active person of one enterprise with their history: one statement."""
    conn = await driver_connection(session)
    await conn.execute(CUSTOM_PLANS)
    rows = await conn.fetch(ENTERPRISE_PEOPLE_SQL, as_of, since, enterprise_id)
    return [RosterEntry(r[0], r[1], facts(r, 2)) for r in rows]


async def person(session: AsyncSession, person_id: uuid.UUID, as_of: datetime, since: datetime) -> PersonRow | None:
    conn = await driver_connection(session)
    await conn.execute(CUSTOM_PLANS)
    row = await conn.fetchrow(PERSON_SQL, as_of, since, person_id)
    return None if row is None else PersonRow(row[0], row[1], facts(row, 2))


async def rosters(session: AsyncSession, enterprise_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The active people of each enterprise (the population a rotating sample is drawn from)."""
    out: dict[uuid.UUID, list[uuid.UUID]] = {eid: [] for eid in enterprise_ids}
    if enterprise_ids:
        conn = await driver_connection(session)
        for eid, pid in await conn.fetch(ROSTERS_SQL, list(enterprise_ids)):
            out[eid].append(pid)
    return out


async def stream_province(
    session: AsyncSession,
    as_of: datetime,
    since: datetime,
    *,
    district: str | None = None,
    zone_type: str | None = None,
    batch: int = 10_000,
) -> AsyncGenerator[list[tuple[uuid.UUID, PersonFacts]], None]:
    """Every active person of the enterprises in scope with their history, in batches from a
    server-side cursor: memory holds two batches, whatever the province's size. The next batch
    is requested before this one is handed over, so the database produces it meanwhile."""
    conn = await driver_connection(session)
    await conn.execute(BULK_SETTINGS)
    cursor = await conn.cursor(PROVINCE_SQL, as_of, since, district, zone_type)
    pending = asyncio.ensure_future(cursor.fetch(batch))
    try:
        while True:
            rows = await pending
            if not rows:
                return
            pending = asyncio.ensure_future(cursor.fetch(batch))
            await asyncio.sleep(0)  # let the request go out before the caller works on this batch
            yield [(r[0], facts(r, 1)) for r in rows]
    finally:
        if not pending.done():
            await pending  # leave the connection idle for the rest of the transaction
