"""Finding a person the caller may see; anything else is 404, as if it did not exist."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common import scope
from safework_common.errors import NotFound
from safework_common.internal_auth import Caller
from safework_registry.enterprises.models import Enterprise
from safework_registry.persons.models import Person


def person_not_found(field: str = "path.person_id") -> NotFound:
    return scope.person_not_found(field)


async def person_in_scope(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, *, for_update: bool = False
) -> Person:
    """The person, if the caller's scope covers them (``safework_common.scope``)."""
    stmt = select(Person).where(Person.id == person_id)
    if for_update:
        stmt = stmt.with_for_update()
    person = (await session.execute(stmt)).scalar_one_or_none()
    if person is None or not await may_see_person(session, caller, person):
        raise person_not_found()
    return person


async def may_see_person(session: AsyncSession, caller: Caller, person: Person) -> bool:
    district = None
    if scope.caller_district(caller) is not None and person.enterprise_id is not None:
        # Only a district authority's answer depends on the employer's district.
        district = await session.scalar(select(Enterprise.district).where(Enterprise.id == person.enterprise_id))
    return scope.may_see_person(caller, person.id, person.enterprise_id, district)
