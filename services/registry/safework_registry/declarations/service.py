"""Health declarations and travels, posted by the worker's app for the worker themself.

A declaration with symptoms makes the person due a rapid test and a PCR at once; a return to a
boarding house from another province, a test within 24 h and another 72 h later (seeds/000
§2.2, §2.3). The scheduler reads these rows; here they are only recorded and read back."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.declarations import (
    DeclarationIn,
    DeclarationOut,
    TravelIn,
    TravelOut,
    TravelPatch,
)
from safework_common.errors import Conflict, Forbidden, NotFound, Unprocessable
from safework_common.internal_auth import Caller
from safework_common.scope import as_uuid
from safework_registry import timeline
from safework_registry.audit import service as audit
from safework_registry.declarations.models import HealthDeclaration, Travel
from safework_registry.pagination import Page
from safework_registry.persons.access import person_in_scope, person_not_found
from safework_registry.validation import not_in_future, patch_values


async def require_self(session: AsyncSession, caller: Caller, person_id: uuid.UUID) -> None:
    """Only the worker writes their own records (another worker's ID: 404); the system may too.
    Locks the person row so one person's writes are serialised."""
    if caller.role == "worker":
        if as_uuid(caller.person_id) != person_id:
            raise person_not_found()
    elif caller.role != "system":
        raise Forbidden("Only the worker's own app posts this.", code="role_not_allowed")
    await person_in_scope(session, caller, person_id, for_update=True)


async def declare(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, body: DeclarationIn, *, now: datetime | None = None
) -> DeclarationOut:
    await require_self(session, caller, person_id)
    not_in_future(body.declared_at, code="declared_in_future", field="body.declared_at", now=now)
    row = (
        await session.execute(
            insert(HealthDeclaration).values(person_id=person_id, **body.model_dump()).returning(HealthDeclaration)
        )
    ).scalar_one()
    # Symptoms are health data: the audit row names the record only.
    await audit.record(session, caller, "create", "health_declaration", row.id)
    return DeclarationOut.model_validate(row)


async def list_declarations(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[DeclarationOut]:
    await person_in_scope(session, caller, person_id)
    stmt = timeline.newest_first(
        select(HealthDeclaration).where(HealthDeclaration.person_id == person_id),
        HealthDeclaration.declared_at,
        HealthDeclaration.id,
        cursor,
        limit,
    )
    rows = list((await session.execute(stmt)).scalars())
    return Page[DeclarationOut](
        items=[DeclarationOut.model_validate(r) for r in rows[:limit]],
        next_cursor=timeline.next_cursor([(r.declared_at, r.id) for r in rows], limit),
    )


def _check_return(left_at: datetime, returned_at: datetime | None, now: datetime | None) -> None:
    if returned_at is None:
        return
    not_in_future(returned_at, code="returned_in_future", field="body.returned_at", now=now)
    if returned_at < left_at:
        raise Unprocessable("returned_at is before left_at.", code="returned_before_left", field="body.returned_at")


async def add_travel(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, body: TravelIn, *, now: datetime | None = None
) -> TravelOut:
    """A trip away (out of the province, or to one's home town inside it). At most one trip is
    open (not yet returned) at a time."""
    await require_self(session, caller, person_id)
    not_in_future(body.left_at, code="left_in_future", field="body.left_at", now=now)
    _check_return(body.left_at, body.returned_at, now)
    open_trip = await session.scalar(
        select(Travel.id).where(Travel.person_id == person_id, Travel.returned_at.is_(None)).limit(1)
    )
    if open_trip is not None:
        raise Conflict(
            "A trip is still open; record its return first.", code="travel_open_exists", field="body.left_at"
        )
    row = (
        await session.execute(insert(Travel).values(person_id=person_id, **body.model_dump()).returning(Travel))
    ).scalar_one()
    await audit.record(session, caller, "create", "travel", row.id)
    return TravelOut.model_validate(row)


async def update_open_travel(
    session: AsyncSession,
    caller: Caller,
    person_id: uuid.UUID,
    travel_id: int,
    body: TravelPatch,
    *,
    now: datetime | None = None,
) -> TravelOut:
    """Record the return of the open trip (``returned_at``, ``returned_to_boarding_house``); a
    closed trip is history and does not change (409 ``travel_closed``)."""
    await require_self(session, caller, person_id)
    travel = await session.scalar(
        select(Travel).where(Travel.id == travel_id, Travel.person_id == person_id).with_for_update()
    )
    if travel is None:
        raise NotFound("No such travel.", code="travel_not_found", field="path.travel_id")
    if travel.returned_at is not None:
        raise Conflict("This trip is closed and no longer changes.", code="travel_closed", field="path.travel_id")
    values = patch_values(body)
    _check_return(travel.left_at, values.get("returned_at"), now)
    if values:
        travel = (
            await session.execute(update(Travel).where(Travel.id == travel_id).values(**values).returning(Travel))
        ).scalar_one()
        await audit.record(session, caller, "update", "travel", travel_id, {"fields": sorted(values)})
    return TravelOut.model_validate(travel)


async def list_travels(
    session: AsyncSession,
    caller: Caller,
    person_id: uuid.UUID,
    *,
    open_only: bool,
    cursor: str | None,
    limit: int,
) -> Page[TravelOut]:
    await person_in_scope(session, caller, person_id)
    base = select(Travel).where(Travel.person_id == person_id)
    if open_only:
        base = base.where(Travel.returned_at.is_(None))
    stmt = timeline.newest_first(base, Travel.left_at, Travel.id, cursor, limit)
    rows = list((await session.execute(stmt)).scalars())
    return Page[TravelOut](
        items=[TravelOut.model_validate(r) for r in rows[:limit]],
        next_cursor=timeline.next_cursor([(r.left_at, r.id) for r in rows], limit),
    )
