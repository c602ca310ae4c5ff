"""Tracing in SQL: set-based, over the check-in indexes.

``overlaps`` is the statement the rules' ``venue_contacts`` describes: the F0's check-ins in the
window (``ix_checkin_person_id_checked_in_at``), then for each the check-ins at the same venue
less than the venue kind's dwell either side (``ix_checkin_venue_id_checked_in_at``). ``mark``
writes every new contact and its outbox fact in one statement, whatever their number."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Interval,
    Select,
    String,
    bindparam,
    cast,
    column,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from safework_common.db import driver_connection
from safework_registry.enterprises.models import Enterprise
from safework_registry.events.models import OutboxEvent
from safework_registry.outbreak.models import Contact, OutbreakCase
from safework_registry.outbreak.rules import Window
from safework_registry.persons.models import Person
from safework_registry.venues.models import CheckIn, Venue

_ASYNCPG = asyncpg_dialect()  # type: ignore[no-untyped-call]

# Which link wins when a person is linked more than one way (the first found is kept).
_LINK_ORDER = {"venue": 0, "accommodation": 1, "declared": 2}


def _dwell_table(dwell: dict[str, timedelta]) -> Any:
    """(kind, dwell) rows: ``unnest`` of two bound arrays, so the statement has a cache key and
    SQLAlchemy compiles it once (a ``VALUES`` of literal rows made it compile on every trace)."""
    kinds, spans = zip(*sorted(dwell.items()), strict=True)
    return (
        func.unnest(
            bindparam(None, list(kinds), type_=ARRAY(String)), bindparam(None, list(spans), type_=ARRAY(Interval))
        )
        .table_valued(column("kind", String), column("dwell", Interval))
        .render_derived(name="dwell")
    )


def _kind_of(venue_id: Any) -> Any:
    """The venue's kind, looked up by primary key for each of the source check-ins (a handful):
    a join let the planner hash every venue of the province first."""
    return select(Venue.kind).where(Venue.id == venue_id).scalar_subquery().label("kind")


def overlaps(person_ids: list[uuid.UUID], window: Window, dwell: dict[str, timedelta]) -> Select[Any]:
    """(source person, person, venue, exposed_at): check-ins of others overlapping a check-in of
    one of ``person_ids`` in ``window`` at the same venue (each other check-in once per source
    check-in)."""
    src = (
        select(CheckIn.person_id, CheckIn.venue_id, CheckIn.checked_in_at, _kind_of(CheckIn.venue_id))
        .where(
            CheckIn.person_id.in_(person_ids),
            CheckIn.checked_in_at >= window.start,
            CheckIn.checked_in_at <= window.end,
        )
        .cte("src")
    )
    dw = _dwell_table(dwell)
    other = aliased(CheckIn, name="other")
    near = (
        select(other.person_id, other.venue_id, other.checked_in_at)
        .where(
            other.venue_id == src.c.venue_id,
            other.checked_in_at > src.c.checked_in_at - dw.c.dwell,
            other.checked_in_at < src.c.checked_in_at + dw.c.dwell,
            other.person_id.not_in(person_ids),
        )
        .lateral("near")
    )
    return select(
        src.c.person_id.label("source_id"),
        near.c.person_id,
        near.c.venue_id,
        near.c.checked_in_at.label("exposed_at"),
    ).select_from(src.join(dw, dw.c.kind == src.c.kind).join(near, true()))


def second_ring(case: OutbreakCase, as_of: datetime, dwell: dict[str, timedelta]) -> Any:
    """Ring 2 of ``case`` as of ``as_of``, by the ring-1 overlap rule applied to each F1: every
    check-in at the same venue overlapping (``[t, t + dwell)`` stays) a check-in the F1 made
    from their own exposure (``exposed_at``; for a housemate or a declared contact, whose
    exposure is not known, the start of the F0's window) to ``as_of``; never the F0 or an F1
    of the case (as of ``as_of``). One row per person (person_id, source_id: the F1, venue_id,
    exposed_at): their earliest such check-in."""
    f1 = (
        select(
            Contact.person_id,
            func.coalesce(Contact.exposed_at, literal(case.infectious_from, OutbreakCase.infectious_from.type)).label(
                "since"
            ),
        )
        .where(Contact.case_id == case.id, Contact.traced_at <= as_of)
        .cte("f1")
    )
    src = (
        select(CheckIn.person_id, CheckIn.venue_id, CheckIn.checked_in_at, _kind_of(CheckIn.venue_id))
        .join_from(f1, CheckIn, CheckIn.person_id == f1.c.person_id)
        .where(CheckIn.checked_in_at >= f1.c.since, CheckIn.checked_in_at <= as_of)
        .cte("src")
    )
    dw = _dwell_table(dwell)
    other = aliased(CheckIn, name="other")
    ring1 = aliased(Contact, name="ring1")
    near = (
        select(other.person_id, other.venue_id, other.checked_in_at)
        .where(
            other.venue_id == src.c.venue_id,
            other.checked_in_at > src.c.checked_in_at - dw.c.dwell,
            other.checked_in_at < src.c.checked_in_at + dw.c.dwell,
            other.person_id != case.person_id,
            ~exists().where(ring1.case_id == case.id, ring1.person_id == other.person_id, ring1.traced_at <= as_of),
        )
        .lateral("near")
    )
    found = select(
        near.c.person_id,
        src.c.person_id.label("source_id"),
        near.c.venue_id,
        near.c.checked_in_at.label("exposed_at"),
    ).select_from(src.join(dw, dw.c.kind == src.c.kind).join(near, true()))
    ring2 = found.subquery("ring2")
    return (
        select(ring2)
        .ext(distinct_on(ring2.c.person_id))
        .order_by(ring2.c.person_id, ring2.c.exposed_at, ring2.c.source_id)
        .subquery("first")
    )


def candidates(
    case: OutbreakCase, window: Window, dwell: dict[str, timedelta], accommodation_id: uuid.UUID | None
) -> Any:
    """Every person linked to the case, once each: the earliest venue overlap, else the F0's
    boarding house or concentrated site."""
    ov = overlaps([case.person_id], window, dwell).subquery("ov")
    by_venue = select(
        ov.c.person_id,
        literal("venue").label("link"),
        ov.c.venue_id,
        cast(null(), UUID(as_uuid=True)).label("accommodation_id"),
        ov.c.exposed_at,
        literal(_LINK_ORDER["venue"]).label("rank"),
    )
    parts = [by_venue]
    if accommodation_id is not None:
        parts.append(
            select(
                Person.id.label("person_id"),
                literal("accommodation"),
                cast(null(), UUID(as_uuid=True)),
                literal(accommodation_id, UUID(as_uuid=True)),
                literal(None).cast(OutbreakCase.collected_at.type),
                literal(_LINK_ORDER["accommodation"]),
            ).where(Person.accommodation_id == accommodation_id, Person.id != case.person_id, Person.status == "active")
        )
    linked = union_all(*parts).subquery("linked")
    return (
        select(linked)
        .ext(distinct_on(linked.c.person_id))
        .order_by(linked.c.person_id, linked.c.rank, linked.c.exposed_at)
        .subquery("first_link")
    )


def _employer_of(person_id: Any) -> Any:
    """The person's employer, looked up by primary key for each contact: a join let the planner
    hash the whole person table (a sequential scan of 1,000,000 rows for ~1,000 contacts)."""
    return select(Person.enterprise_id).where(Person.id == person_id).scalar_subquery()


async def mark(session: AsyncSession, case: OutbreakCase, rows: Any, traced_at: datetime) -> int:
    """Insert the contacts ``rows`` yields (person_id, link, venue_id, accommodation_id,
    exposed_at) that the case does not have yet, with their outbox facts: one statement.
    Returns how many were new."""
    sel = (
        select(
            literal(case.id, UUID(as_uuid=True)),
            rows.c.person_id,
            rows.c.link,
            rows.c.venue_id,
            rows.c.accommodation_id,
            rows.c.exposed_at,
            literal(traced_at, OutbreakCase.traced_at.type),
            _employer_of(rows.c.person_id),
        )
        .select_from(rows)
        .where(rows.c.person_id != case.person_id)
    )
    cols = ["case_id", "person_id", "link", "venue_id", "accommodation_id", "exposed_at", "traced_at", "enterprise_id"]
    new = (
        pg_insert(Contact)
        .from_select(cols, sel)
        .on_conflict_do_nothing(index_elements=[Contact.case_id, Contact.person_id])
        .returning(Contact.id, Contact.person_id, Contact.link, Contact.venue_id, Contact.enterprise_id)
        .cte("new")
    )
    payload = func.jsonb_build_object(
        "case_id",
        literal(str(case.id)),
        "person_id",
        new.c.person_id,
        "link",
        new.c.link,
        "venue_id",
        new.c.venue_id,
        "enterprise_id",
        new.c.enterprise_id,
    )
    events = insert(OutboxEvent).from_select(
        ["kind", "entity", "entity_id", "occurred_at", "payload"],
        select(
            literal("contact.traced"),
            literal("contact"),
            cast(new.c.id, String),
            literal(traced_at, OutbreakCase.traced_at.type),
            payload,
        ),
    )
    count = select(func.count()).select_from(events.returning(OutboxEvent.id).cte("ev"))
    return int((await session.execute(count)).scalar_one())


async def trace(
    session: AsyncSession,
    case: OutbreakCase,
    window: Window,
    dwell: dict[str, timedelta],
    accommodation_id: uuid.UUID | None,
) -> int:
    """Mark every contact the F0's check-ins and lodging link (venue overlaps, housemates)."""
    return await mark(session, case, candidates(case, window, dwell, accommodation_id), case.traced_at)


async def mark_declared(session: AsyncSession, case: OutbreakCase, person_ids: list[uuid.UUID], at: datetime) -> int:
    """Contacts the authority declares (already checked in scope), in one statement."""
    people = (
        select(
            Person.id.label("person_id"),
            literal("declared").label("link"),
            cast(null(), UUID(as_uuid=True)).label("venue_id"),
            cast(null(), UUID(as_uuid=True)).label("accommodation_id"),
            literal(None).cast(OutbreakCase.collected_at.type).label("exposed_at"),
        )
        .where(Person.id.in_(person_ids))
        .subquery("declared")
    )
    return await mark(session, case, people, at)


def _cases_candidates(cases: Any, dwell: dict[str, timedelta]) -> Any:
    """``candidates`` for many cases at once. ``cases`` has (case_id, person_id, start, end,
    accommodation_id): every person linked to each case, once per case (the earliest venue
    overlap of the case's check-ins in its window, else the case's lodging). The same rule as
    ``overlaps``/``candidates``, over the same indexes, joined to the cases instead of naming one."""
    src = (
        select(cases.c.case_id, CheckIn.person_id, CheckIn.venue_id, CheckIn.checked_in_at, _kind_of(CheckIn.venue_id))
        .join_from(cases, CheckIn, CheckIn.person_id == cases.c.person_id)
        .where(CheckIn.checked_in_at >= cases.c.start, CheckIn.checked_in_at <= cases.c.end)
        .cte("src")
    )
    dw = _dwell_table(dwell)
    other = aliased(CheckIn, name="other")
    near = (
        select(other.person_id, other.venue_id, other.checked_in_at)
        .where(
            other.venue_id == src.c.venue_id,
            other.checked_in_at > src.c.checked_in_at - dw.c.dwell,
            other.checked_in_at < src.c.checked_in_at + dw.c.dwell,
            other.person_id != src.c.person_id,
        )
        .lateral("near")
    )
    by_venue = select(
        src.c.case_id,
        near.c.person_id,
        literal("venue").label("link"),
        near.c.venue_id,
        cast(null(), UUID(as_uuid=True)).label("accommodation_id"),
        near.c.checked_in_at.label("exposed_at"),
        literal(_LINK_ORDER["venue"]).label("rank"),
    ).select_from(src.join(dw, dw.c.kind == src.c.kind).join(near, true()))
    by_lodging = select(
        cases.c.case_id,
        Person.id,
        literal("accommodation"),
        cast(null(), UUID(as_uuid=True)),
        cases.c.accommodation_id,
        literal(None).cast(OutbreakCase.collected_at.type),
        literal(_LINK_ORDER["accommodation"]),
    ).join_from(
        cases,
        Person,
        (Person.accommodation_id == cases.c.accommodation_id)
        & (Person.id != cases.c.person_id)
        & (Person.status == "active"),
    )
    linked = union_all(by_venue, by_lodging).subquery("linked")
    return (
        select(linked)
        .ext(distinct_on(linked.c.case_id, linked.c.person_id))
        .order_by(linked.c.case_id, linked.c.person_id, linked.c.rank, linked.c.exposed_at)
        .subquery("first_link")
    )


# The individual positive PCRs among a lab batch's rows (seeds/004 §II.3: such a positive makes
# the person a case by itself; a pooled positive needs individual tests, a rapid test the
# authority's confirmation). One per person: the earliest specimen. Found through the lab's
# idempotency keys (``test_result_sample``: one index, where test_result has one per month).
_POSITIVES = """
SELECT DISTINCT ON (tr.person_id) tr.id, tr.person_id, tr.collected_at
FROM test_result_sample s
JOIN test_result tr ON tr.lab_id = s.lab_id AND tr.sample_id = s.sample_id AND tr.collected_at = s.collected_at
WHERE s.lab_id = :lab_id AND s.sample_id = ANY(:sample_ids)
  AND tr.kind = 'PCR' AND tr.result = 'POSITIVE' AND NOT tr.pooled AND tr.pool_id IS NULL
ORDER BY tr.person_id, tr.collected_at, tr.id
"""


async def cases_from_results(
    session: AsyncSession,
    lab_id: uuid.UUID,
    sample_ids: list[str],
    traced_at: datetime,
    infectious_before: timedelta,
    dwell: dict[str, timedelta],
) -> tuple[int, int]:
    """Make a case of every person with an individual positive PCR among ``sample_ids`` of the
    lab, trace all of them, and write every fact (``case.confirmed``, ``contact.traced``): one
    statement, whatever the number of cases and contacts. Idempotent: no case for a person who
    has an open case, or a case of this specimen or a later one (``UNIQUE (person_id,
    collected_at)`` besides). The window runs from ``infectious_before`` ahead of collection to
    the trace (the isolation is not known yet; the authority records it). Returns (cases,
    contacts) written.

    The statement is compiled once per dwell table (SQLAlchemy cannot cache it: compiling it
    took 20-30 ms a batch) and run on the driver connection with the batch's values."""
    sql, names, constants = _cases_statement(tuple(sorted(dwell.items())))
    values = {
        **constants,
        "lab_id": lab_id,
        "sample_ids": sample_ids,
        "traced_at": traced_at,
        "infectious_before": infectious_before,
    }
    conn = await driver_connection(session)
    row = await conn.fetchrow(sql, *(values[n] for n in names))
    return int(row[0]), int(row[1])


@functools.cache
def _cases_statement(dwell_items: tuple[tuple[str, timedelta], ...]) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """``cases_from_results``' statement for asyncpg: (SQL, parameter names in order, the
    constants' values)."""
    dwell = dict(dwell_items)
    pos = (
        text(_POSITIVES)
        .bindparams(
            bindparam("lab_id", type_=UUID(as_uuid=True)),
            bindparam("sample_ids", type_=ARRAY(String)),
        )
        .columns(
            column("id", BigInteger), column("person_id", UUID(as_uuid=True)), column("collected_at", DateTime(True))
        )
        .cte("pos")
    )
    at = bindparam("traced_at", type_=OutbreakCase.traced_at.type)
    earlier = aliased(OutbreakCase, name="known")
    fresh = (
        select(
            func.gen_random_uuid(),
            pos.c.person_id,
            pos.c.id,
            literal("pcr"),
            pos.c.collected_at,
            pos.c.collected_at - bindparam("infectious_before", type_=Interval),
            func.greatest(at, pos.c.collected_at),
            Person.enterprise_id,
            Enterprise.district,
        )
        .join_from(pos, Person, Person.id == pos.c.person_id)
        .outerjoin(Enterprise, Enterprise.id == Person.enterprise_id)
        .where(
            ~exists().where(
                earlier.person_id == pos.c.person_id,
                or_(earlier.status == "open", earlier.collected_at >= pos.c.collected_at),
            )
        )
        .order_by(pos.c.person_id)
    )
    case_cols = [
        "id",
        "person_id",
        "result_id",
        "basis",
        "collected_at",
        "infectious_from",
        "traced_at",
        "enterprise_id",
        "district",
    ]
    new_cases = (
        pg_insert(OutbreakCase)
        .from_select(case_cols, fresh)
        .on_conflict_do_nothing(index_elements=[OutbreakCase.person_id, OutbreakCase.collected_at])
        .returning(
            OutbreakCase.id,
            OutbreakCase.person_id,
            OutbreakCase.collected_at,
            OutbreakCase.infectious_from,
            OutbreakCase.traced_at,
            OutbreakCase.enterprise_id,
            OutbreakCase.district,
        )
        .cte("new_case")
    )
    case_events = (
        insert(OutboxEvent)
        .from_select(
            ["kind", "entity", "entity_id", "occurred_at", "payload"],
            select(
                literal("case.confirmed"),
                literal("outbreak_case"),
                cast(new_cases.c.id, String),
                new_cases.c.collected_at,
                func.jsonb_build_object(
                    "case_id",
                    cast(new_cases.c.id, String),
                    "person_id",
                    cast(new_cases.c.person_id, String),
                    "enterprise_id",
                    cast(new_cases.c.enterprise_id, String),
                    "district",
                    new_cases.c.district,
                ),
            ),
        )
        .returning(OutboxEvent.id)
        .cte("case_event")
    )
    lodger = aliased(Person, name="lodger")
    cases = (
        select(
            new_cases.c.id.label("case_id"),
            new_cases.c.person_id,
            new_cases.c.infectious_from.label("start"),
            new_cases.c.traced_at.label("end"),
            lodger.accommodation_id,
            new_cases.c.traced_at,
        )
        .join_from(new_cases, lodger, lodger.id == new_cases.c.person_id)
        .cte("traced_case")
    )
    rows = _cases_candidates(cases, dwell)
    contacts, contact_events = _mark_many(rows, cases)
    del contacts
    n_contacts = select(func.count()).select_from(contact_events)
    n_cases = select(func.count()).select_from(case_events)
    compiled = select(n_cases.scalar_subquery(), n_contacts.scalar_subquery()).compile(dialect=_ASYNCPG)
    names = tuple(compiled.positiontup or ())
    return str(compiled), names, dict(compiled.params)


def _mark_many(rows: Any, cases: Any) -> tuple[Any, Any]:
    """``mark`` for many cases: the contacts ``rows`` yields (case_id, person_id, link, venue_id,
    accommodation_id, exposed_at), traced at their case's ``traced_at``, and their facts."""
    sel = (
        select(
            rows.c.case_id,
            rows.c.person_id,
            rows.c.link,
            rows.c.venue_id,
            rows.c.accommodation_id,
            rows.c.exposed_at,
            cases.c.traced_at,
            _employer_of(rows.c.person_id),
        )
        .join_from(rows, cases, cases.c.case_id == rows.c.case_id)
        .where(rows.c.person_id != cases.c.person_id)
    )
    cols = ["case_id", "person_id", "link", "venue_id", "accommodation_id", "exposed_at", "traced_at", "enterprise_id"]
    new = (
        pg_insert(Contact)
        .from_select(cols, sel)
        .on_conflict_do_nothing(index_elements=[Contact.case_id, Contact.person_id])
        .returning(
            Contact.id, Contact.case_id, Contact.person_id, Contact.link, Contact.venue_id, Contact.enterprise_id,
            Contact.traced_at,
        )
        .cte("new_contact")
    )  # fmt: skip
    payload = func.jsonb_build_object(
        "case_id",
        cast(new.c.case_id, String),
        "person_id",
        new.c.person_id,
        "link",
        new.c.link,
        "venue_id",
        new.c.venue_id,
        "enterprise_id",
        new.c.enterprise_id,
    )
    events = (
        insert(OutboxEvent)
        .from_select(
            ["kind", "entity", "entity_id", "occurred_at", "payload"],
            select(literal("contact.traced"), literal("contact"), cast(new.c.id, String), new.c.traced_at, payload),
        )
        .returning(OutboxEvent.id)
        .cte("contact_event")
    )
    return new, events
