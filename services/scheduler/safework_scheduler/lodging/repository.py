"""The people a district's boarding-house sample is drawn from: the active renters of its
boarding houses and dormitories, and their owners and managers (SQLAlchemy Core)."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from safework_scheduler import tables

_accommodation = tables.accommodation
_person = tables.person
_manager = tables.accommodation_manager


class Lodger(NamedTuple):
    person_id: uuid.UUID
    full_name: str
    role: str  # renter, owner or manager
    accommodation_id: uuid.UUID
    accommodation_name: str


async def population(session: AsyncSession, district: str) -> dict[uuid.UUID, Lodger]:
    """Everyone the district's sample is drawn from, once each (an owner who also rents is an
    owner)."""
    a, p, m = _accommodation.c, _person.c, _manager.c
    renters = (
        sa.select(p.id, p.full_name, sa.literal("renter").label("role"), a.id.label("site"), a.name.label("site_name"))
        .select_from(_person.join(_accommodation, a.id == p.accommodation_id))
        .where(a.district == district, p.status == "active")
    )
    managers = (
        sa.select(p.id, p.full_name, m.role, a.id.label("site"), a.name.label("site_name"))
        .select_from(_manager.join(_accommodation, a.id == m.accommodation_id).join(_person, p.id == m.person_id))
        .where(a.district == district)
    )
    out: dict[uuid.UUID, Lodger] = {}
    rows: Any = (await session.execute(sa.union_all(renters, managers))).mappings()
    for row in rows:
        lodger = Lodger(row["id"], row["full_name"], row["role"], row["site"], row["site_name"])
        if row["id"] not in out or lodger.role != "renter":
            out[row["id"]] = lodger
    return out
