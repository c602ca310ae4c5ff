"""Tracing in SQL: set-based, over the check-in indexes.

``overlaps`` is the statement the rules' ``venue_contacts`` describes: the F0's check-ins in the
window (``ix_checkin_person_id_checked_in_at``), then for each the check-ins at the same venue
less than the venue kind's dwell either side (``ix_checkin_venue_id_checked_in_at``). ``mark``
writes every new contact and its outbox fact in one statement, whatever their number."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Interval,
    Select,
    String,
    cast,
    column,
    func,
    insert,
    literal,
    null,
    select,
    true,
    union_all,
    values,
)
from sqlalchemy.dialects.postgresql import UUID, distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from safework_registry.events.models import OutboxEvent
from safework_registry.outbreak.models import Contact, OutbreakCase
from safework_registry.outbreak.rules import Window
from safework_registry.persons.models import Person
from safework_registry.venues.models import CheckIn, Venue

# Which link wins when a person is linked more than one way (the first found is kept).
_LINK_ORDER = {"venue": 0, "accommodation": 1, "declared": 2}


def _dwell_table(dwell: dict[str, timedelta]) -> Any:
    return values(column("kind", String), column("dwell", Interval), name="dwell").data(sorted(dwell.items()))


def overlaps(person_ids: list[uuid.UUID], window: Window, dwell: dict[str, timedelta]) -> Select[Any]:
    """(source person, person, venue, exposed_at): check-ins of others overlapping a check-in of
    one of ``person_ids`` in ``window`` at the same venue (each other check-in once per source
    check-in)."""
    src = (
        select(CheckIn.person_id, CheckIn.venue_id, CheckIn.checked_in_at, Venue.kind)
        .join(Venue, Venue.id == CheckIn.venue_id)
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
            Person.enterprise_id,
        )
        .join_from(rows, Person, Person.id == rows.c.person_id)
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
