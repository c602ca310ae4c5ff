"""Venues: an enterprise's QR check-in points. The QR value is unique across the province so
a scan finds exactly one venue."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.venues import VenueCreate, VenueUpdate
from safework_common.errors import Conflict, NotFound
from safework_common.internal_auth import Caller
from safework_common.scope import require_enterprise_visible, require_role
from safework_registry.audit.service import record
from safework_registry.constraints import flush_or_conflict
from safework_registry.enterprises.models import Enterprise
from safework_registry.enterprises.service import enterprise_in_scope
from safework_registry.pagination import decode_keys, encode_cursor
from safework_registry.validation import patch_values
from safework_registry.venues.models import Venue

QR_CODE_UNIQUE = "uq_venue_qr_code"


def new_qr_code() -> str:
    """``SW-`` and 16 random bytes, URL-safe: unguessable, so a QR value cannot be forged."""
    return "SW-" + secrets.token_urlsafe(16)


def qr_code_taken() -> Conflict:
    return Conflict("Another venue has this QR code.", code="qr_code_taken", field="body.qr_code")


def venue_not_found() -> NotFound:
    return NotFound("No such venue.", code="venue_not_found", field="path.venue_id")


async def _qr_code_free(session: AsyncSession, qr_code: str) -> None:
    if await session.scalar(select(Venue.id).where(Venue.qr_code == qr_code).limit(1)) is not None:
        raise qr_code_taken()


async def venue_in_scope(
    session: AsyncSession, caller: Caller, venue_id: uuid.UUID, *, for_update: bool = False
) -> Venue:
    require_role(caller, "authority", "enterprise")
    stmt = select(Venue, Enterprise.district).join(Enterprise, Enterprise.id == Venue.enterprise_id)
    stmt = stmt.where(Venue.id == venue_id)
    if for_update:
        stmt = stmt.with_for_update(of=Venue)
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise venue_not_found()
    venue, district = row
    try:
        require_enterprise_visible(caller, venue.enterprise_id, district)
    except NotFound:
        raise venue_not_found() from None
    return venue


async def create_venue(session: AsyncSession, caller: Caller, enterprise_id: uuid.UUID, body: VenueCreate) -> Venue:
    require_role(caller, "authority", "enterprise")
    await enterprise_in_scope(session, caller, enterprise_id)
    qr_code = body.qr_code or new_qr_code()
    if body.qr_code is not None:
        await _qr_code_free(session, qr_code)
    venue = Venue(enterprise_id=enterprise_id, name=body.name, kind=body.kind, qr_code=qr_code, active=body.active)
    session.add(venue)
    await flush_or_conflict(session, {QR_CODE_UNIQUE: qr_code_taken()})
    await record(session, caller, "venue.create", "venue", venue.id, {"enterprise_id": str(enterprise_id)})
    await session.refresh(venue)
    return venue


async def update_venue(session: AsyncSession, caller: Caller, venue_id: uuid.UUID, body: VenueUpdate) -> Venue:
    values = patch_values(body)
    venue = await venue_in_scope(session, caller, venue_id, for_update=True)
    if "qr_code" in values and values["qr_code"] != venue.qr_code:
        await _qr_code_free(session, values["qr_code"])
    changed = sorted(k for k, v in values.items() if getattr(venue, k) != v)
    if changed:
        for key in changed:
            setattr(venue, key, values[key])
        await flush_or_conflict(session, {QR_CODE_UNIQUE: qr_code_taken()})
        await record(session, caller, "venue.update", "venue", venue.id, {"fields": changed})
        await session.refresh(venue)
    return venue


async def list_venues(
    session: AsyncSession,
    caller: Caller,
    enterprise_id: uuid.UUID,
    *,
    kind: str | None,
    active: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Venue], str | None]:
    require_role(caller, "authority", "enterprise")
    await enterprise_in_scope(session, caller, enterprise_id)
    stmt = select(Venue).where(Venue.enterprise_id == enterprise_id)
    if kind is not None:
        stmt = stmt.where(Venue.kind == kind)
    if active is not None:
        stmt = stmt.where(Venue.active.is_(active))
    after = decode_keys(cursor, str, uuid.UUID)
    if after is not None:
        name, last_id = after
        stmt = stmt.where((Venue.name > name) | ((Venue.name == name) & (Venue.id > last_id)))
    rows = list((await session.execute(stmt.order_by(Venue.name, Venue.id).limit(limit + 1))).scalars())
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.name, str(last.id)])
    return rows[:limit], next_cursor
