"""A person at a glance, in one statement after the scope check.

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

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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
from safework_common.internal_auth import Caller
from safework_registry.persons.access import person_in_scope

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


async def person_summary(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, *, as_of: datetime | None = None
) -> PersonSummary:
    as_of = as_of or datetime.now(UTC)
    person = await person_in_scope(session, caller, person_id)
    row = (
        await session.execute(
            _SUMMARY,
            {
                "p": person_id,
                "as_of": as_of,
                "latest": LATEST_RESULTS,
                "declaration_window": DECLARATION_WINDOW,
                "travel_window": RETURNED_TRAVEL_WINDOW,
            },
        )
    ).one()
    doses = [DoseBrief.model_validate(d) for d in orjson.loads(row.doses)]
    series = doses[0].doses_in_primary_series if doses else None
    summary = PersonSummary(
        person_id=person.id,
        as_of=as_of,
        enterprise_id=person.enterprise_id,
        status=person.status,
        doses=doses,
        vaccination=Vaccination(
            doses=len(doses),
            last_dose_at=doses[-1].administered_at if doses else None,
            primary_series_complete=series is not None and len(doses) >= series,
        ),
        latest_results=[ResultBrief.model_validate(r) for r in orjson.loads(row.results)],
        recent_declarations=[DeclarationBrief.model_validate(d) for d in orjson.loads(row.declarations)],
        travels=[TravelBrief.model_validate(t) for t in orjson.loads(row.travels)],
        pending_pools=[PoolBrief.model_validate(p) for p in orjson.loads(row.pools)],
        flags=[],
    )
    summary.flags = _flags(summary, person.high_risk, person.high_risk_until, as_of)
    return summary
