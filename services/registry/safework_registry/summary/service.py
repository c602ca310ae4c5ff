"""A person at a glance, in one statement: the person's row, their employer's district (for the
scope check) and the summary, read together (one round trip, one snapshot).

Flags are facts the scheduler and the people reading the app act on, each from its rule:
``positive_result`` (latest result positive), ``pool_positive_pending`` (a positive or invalid
pool with no individual PCR since: seeds/001), ``symptoms_declared`` (symptoms declared in the
last 14 days and no negative test since: seeds/000 §2.2 (4)), ``contact_with_confirmed_case`` (an
F0 contact declared in the last 14 days), ``travelling`` (a trip open), ``recent_return`` (back at
a boarding house within the 24 h + 72 h testing window: seeds/000 §2.3), ``high_risk`` (the
person's high-risk mark, until its end), ``unvaccinated`` (no dose)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from pydantic import TypeAdapter
from sqlalchemy import Table, Text, bindparam, select, text, true

from safework_common import scope
from safework_common.contract.summary import (
    DeclarationBrief,
    DoseBrief,
    Flag,
    PersonSummary,
    PoolBrief,
    ResultBrief,
    TravelBrief,
    Vaccination,
)
from safework_common.db import compiled, fetchrow_retrying
from safework_common.internal_auth import Caller
from safework_registry.enterprises.models import Enterprise
from safework_registry.persons.access import person_not_found
from safework_registry.persons.models import Person

LATEST_RESULTS = 10
DECLARATION_WINDOW = timedelta(days=14)
RETURNED_TRAVEL_WINDOW = timedelta(days=7)
# seeds/000 §2.3: a test within 24 h of the return and a second 72 h later.
RETURN_TESTING_WINDOW = timedelta(hours=24 + 72)

_SUMMARY = text(
    """
    SELECT
      (SELECT coalesce(json_agg(d ORDER BY d.dose_number), '[]') FROM (
         SELECT d.dose_number, d.product_code, d.administered_at, v.doses_in_primary_series
         FROM dose d JOIN vaccine_product v ON v.code = d.product_code
         WHERE d.person_id = :p AND d.administered_at <= CAST(:as_of AS timestamptz)) d)::text AS doses,
      (SELECT coalesce(json_agg(r ORDER BY r.collected_at DESC, r.id DESC), '[]') FROM (
         SELECT t.id, t.lab_id, t.sample_id, t.kind, t.collected_at, t.resulted_at, t.result, t.pooled
         FROM test_result t
         WHERE t.person_id = :p AND t.collected_at <= CAST(:as_of AS timestamptz)
         ORDER BY t.collected_at DESC, t.id DESC LIMIT :latest) r)::text AS results,
      (SELECT coalesce(json_agg(h ORDER BY h.declared_at DESC, h.id DESC), '[]') FROM (
         SELECT h.id, h.declared_at, h.symptoms, h.contact_with_confirmed_case
         FROM health_declaration h
         WHERE h.person_id = :p AND h.declared_at <= CAST(:as_of AS timestamptz)
           AND h.declared_at > CAST(:as_of AS timestamptz) - CAST(:declaration_window AS interval)) h)::text
        AS declarations,
      (SELECT coalesce(json_agg(tr ORDER BY tr.left_at DESC, tr.id DESC), '[]') FROM (
         SELECT tr.id, tr.left_at, tr.destination_province,
                CASE WHEN tr.returned_at <= CAST(:as_of AS timestamptz) THEN tr.returned_at END AS returned_at,
                tr.returned_to_boarding_house
         FROM travel tr
         WHERE tr.person_id = :p AND tr.left_at <= CAST(:as_of AS timestamptz)
           AND (tr.returned_at IS NULL
                OR tr.returned_at > CAST(:as_of AS timestamptz) - CAST(:travel_window AS interval))) tr)::text
        AS travels,
      (SELECT coalesce(json_agg(pl ORDER BY pl.collected_at DESC), '[]') FROM (
         SELECT p.lab_id, p.pool_sample_id, p.result, p.collected_at, p.resulted_at
         FROM pool_member m JOIN pool p ON p.id = m.pool_id
         WHERE m.person_id = :p AND p.result <> 'NEGATIVE' AND p.resulted_at <= CAST(:as_of AS timestamptz)
           AND NOT EXISTS (
             SELECT 1 FROM test_result t
             WHERE t.person_id = :p AND t.kind = 'PCR' AND NOT t.pooled
               AND t.collected_at >= p.collected_at AND t.collected_at <= CAST(:as_of AS timestamptz))) pl)::text
        AS pools
    """
)


def _flags(summary: PersonSummary, high_risk: bool, high_risk_until: datetime | None, as_of: datetime) -> list[Flag]:
    flags: list[Flag] = []
    results = summary.latest_results
    if results and results[0].result == "POSITIVE":
        flags.append("positive_result")
    if summary.pending_pools:
        flags.append("pool_positive_pending")
    last_negative = next((r.collected_at for r in results if r.result == "NEGATIVE"), None)
    symptomatic = next((d for d in summary.recent_declarations if d.symptoms), None)
    if symptomatic is not None and (last_negative is None or last_negative < symptomatic.declared_at):
        flags.append("symptoms_declared")
    if any(d.contact_with_confirmed_case for d in summary.recent_declarations):
        flags.append("contact_with_confirmed_case")
    if any(t.returned_at is None for t in summary.travels):
        flags.append("travelling")
    if any(
        t.returned_at is not None and t.returned_to_boarding_house and t.returned_at > as_of - RETURN_TESTING_WINDOW
        for t in summary.travels
    ):
        flags.append("recent_return")
    if high_risk and (high_risk_until is None or high_risk_until > as_of):
        flags.append("high_risk")
    if not summary.doses:
        flags.append("unvaccinated")
    return flags


_PERSON: Table = Person.__table__  # type: ignore[assignment]
_ENTERPRISE: Table = Enterprise.__table__  # type: ignore[assignment]
_SUMMARY_ROW = _SUMMARY.columns(doses=Text, results=Text, declarations=Text, travels=Text, pools=Text).subquery(
    "summary"
)

READ = (
    select(
        _PERSON.c.id,
        _PERSON.c.enterprise_id,
        _PERSON.c.status,
        _PERSON.c.high_risk,
        _PERSON.c.high_risk_until,
        _ENTERPRISE.c.district,
        *_SUMMARY_ROW.c,
    )
    .select_from(_PERSON.outerjoin(_ENTERPRISE, _ENTERPRISE.c.id == _PERSON.c.enterprise_id).join(_SUMMARY_ROW, true()))
    .where(_PERSON.c.id == bindparam("p"))
)
"""The whole read: the person, their employer's district (a district authority's scope depends
on it) and the summary. Nothing of it leaves the service before the scope check."""

_COMPILED = compiled(READ)
READ_SQL: str = _COMPILED.sql
"""``READ`` compiled once for asyncpg (``$n`` parameters, see :func:`read_parameters`):
SQLAlchemy's per-execution compile-cache look-up and result processing cost more CPU than the
statement."""

_DOSES = TypeAdapter(list[DoseBrief])
_RESULTS = TypeAdapter(list[ResultBrief])
_DECLARATIONS = TypeAdapter(list[DeclarationBrief])
_TRAVELS = TypeAdapter(list[TravelBrief])
_POOLS = TypeAdapter(list[PoolBrief])


def read_parameters(person_id: uuid.UUID, as_of: datetime) -> tuple[object, ...]:
    """:data:`READ_SQL`'s parameters, in order."""
    return _COMPILED.args(
        p=person_id,
        as_of=as_of,
        latest=LATEST_RESULTS,
        declaration_window=DECLARATION_WINDOW,
        travel_window=RETURNED_TRAVEL_WINDOW,
    )


async def person_summary(
    reader: asyncpg.Pool, caller: Caller, person_id: uuid.UUID, *, as_of: datetime | None = None
) -> PersonSummary:
    """``reader``: the registry's asyncpg pool for single reads (one statement, retried once on
    a dropped connection: :func:`safework_common.db.fetchrow_retrying`)."""
    as_of = as_of or datetime.now(UTC)
    row = await fetchrow_retrying(reader, READ_SQL, read_parameters(person_id, as_of))
    if row is None or not scope.may_see_person(caller, person_id, row["enterprise_id"], row["district"]):
        raise person_not_found()
    doses = _DOSES.validate_json(row["doses"])
    series = doses[0].doses_in_primary_series if doses else None
    summary = PersonSummary(
        person_id=person_id,
        as_of=as_of,
        enterprise_id=row["enterprise_id"],
        status=row["status"],
        doses=doses,
        vaccination=Vaccination(
            doses=len(doses),
            last_dose_at=doses[-1].administered_at if doses else None,
            primary_series_complete=series is not None and len(doses) >= series,
        ),
        latest_results=_RESULTS.validate_json(row["results"]),
        recent_declarations=_DECLARATIONS.validate_json(row["declarations"]),
        travels=_TRAVELS.validate_json(row["travels"]),
        pending_pools=_POOLS.validate_json(row["pools"]),
        flags=[],
    )
    summary.flags = _flags(summary, row["high_risk"], row["high_risk_until"], as_of)
    return summary
