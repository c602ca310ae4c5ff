"""QR check-ins at an enterprise's venues (seeds/004: QR-code check-in at premises).

The worker's app scans a venue's QR code and posts ``{"qr_code", "checked_in_at"}``; the venue
must be an active venue of the worker's own enterprise (anything else is 404 ``venue_not_found``,
so a QR code of another enterprise reveals nothing)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.venues import CheckInIn, CheckInOut
from safework_common.errors import NotFound
from safework_common.internal_auth import Caller
from safework_common.paging import Limit
from safework_registry import timeline
from safework_registry.audit import service as audit
from safework_registry.declarations.service import require_self
from safework_registry.deps import CallerDep, Session
from safework_registry.idempotency.service import Idempotency
from safework_registry.pagination import Page
from safework_registry.persons.access import person_in_scope
from safework_registry.persons.models import Person
from safework_registry.validation import not_in_future
from safework_registry.venues.models import CheckIn, Venue


async def check_in(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, body: CheckInIn, *, now: datetime | None = None
) -> CheckInOut:
    await require_self(session, caller, person_id)
    not_in_future(body.checked_in_at, code="checked_in_in_future", field="body.checked_in_at", now=now)
    venue = (
        await session.execute(
            select(Venue.id, Venue.name, Venue.kind)
            .join(Person, Person.enterprise_id == Venue.enterprise_id)
            .where(Venue.qr_code == body.qr_code, Venue.active, Person.id == person_id)
        )
    ).one_or_none()
    if venue is None:
        raise NotFound("No venue of your enterprise has this QR code.", code="venue_not_found", field="body.qr_code")
    row_id = (
        await session.execute(
            insert(CheckIn)
            .values(person_id=person_id, venue_id=venue.id, checked_in_at=body.checked_in_at)
            .returning(CheckIn.id)
        )
    ).scalar_one()
    await audit.record(session, caller, "create", "checkin", row_id)
    return CheckInOut(
        id=row_id,
        person_id=person_id,
        venue_id=venue.id,
        venue_name=venue.name,
        venue_kind=venue.kind,
        checked_in_at=body.checked_in_at,
    )


async def list_checkins(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[CheckInOut]:
    await person_in_scope(session, caller, person_id)
    stmt = timeline.newest_first(
        select(
            CheckIn.id,
            CheckIn.person_id,
            CheckIn.venue_id,
            Venue.name.label("venue_name"),
            Venue.kind.label("venue_kind"),
            CheckIn.checked_in_at,
        )
        .join(Venue, Venue.id == CheckIn.venue_id)
        .where(CheckIn.person_id == person_id),
        CheckIn.checked_in_at,
        CheckIn.id,
        cursor,
        limit,
    )
    rows = (await session.execute(stmt)).all()
    return Page[CheckInOut](
        items=[CheckInOut.model_validate(r) for r in rows[:limit]],
        next_cursor=timeline.next_cursor([(r.checked_in_at, r.id) for r in rows], limit),
    )


router = APIRouter(tags=["check-ins"])


@router.post(
    "/persons/{person_id}/checkins",
    status_code=201,
    response_model=CheckInOut,
    summary="Check in at a venue by its QR code (the worker, for themself)",
)
async def post_checkin(
    person_id: uuid.UUID, body: CheckInIn, session: Session, caller: CallerDep, idem: Idempotency
) -> Response:
    if (replay := await idem.start()) is not None:
        return replay
    return await idem.finish_model(session, 201, await check_in(session, caller, person_id, body))


@router.get("/persons/{person_id}/checkins", summary="Check-ins, newest first (in scope)")
async def get_checkins(
    person_id: uuid.UUID,
    session: Session,
    caller: CallerDep,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[CheckInOut]:
    return await list_checkins(session, caller, person_id, cursor=cursor, limit=limit)
