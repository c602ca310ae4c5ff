"""Finding a person the caller may see; anything else is 404, as if it did not exist."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.errors import NotFound
from safework_common.internal_auth import Caller
from safework_registry.enterprises.models import Enterprise
from safework_registry.persons.models import Person
from safework_registry.scope import as_uuid, district_scope, enterprise_scope, sees_everything


def person_not_found() -> NotFound:
    return NotFound("No such person.", code="person_not_found", field="path.person_id")


async def person_in_scope(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, *, for_update: bool = False
) -> Person:
    """The person, if the caller's scope covers them (see ``safework_registry.scope``)."""
    stmt = select(Person).where(Person.id == person_id)
    if for_update:
        stmt = stmt.with_for_update()
    person = (await session.execute(stmt)).scalar_one_or_none()
    if person is None or not await may_see_person(session, caller, person):
        raise person_not_found()
    return person


async def may_see_person(session: AsyncSession, caller: Caller, person: Person) -> bool:
    if sees_everything(caller):
        return True
    if caller.role == "worker":
        return as_uuid(caller.person_id) == person.id
    if caller.role == "enterprise":
        return person.enterprise_id is not None and person.enterprise_id == enterprise_scope(caller)
    district = district_scope(caller)
    if district is not None and person.enterprise_id is not None:
        found = await session.scalar(select(Enterprise.district).where(Enterprise.id == person.enterprise_id))
        return found == district
    return False
