"""Accommodations and the one-enterprise-per-site rule (seeds/003: "mỗi nhà trọ chỉ bố trí
công nhân của một doanh nghiệp"). Assignments lock the site row so two requests cannot both
claim an empty site for different enterprises."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import any_, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.accommodations import (
    AccommodationCreate,
    AccommodationUpdate,
    ManagerIn,
    ManagerOut,
    ManagersOut,
)
from safework_common.errors import Conflict, Forbidden, NotFound
from safework_common.internal_auth import Caller
from safework_common.scope import (
    caller_enterprise,
    district_filter,
    may_name_site,
    may_see_site,
    require_in_district,
    require_role,
)
from safework_common.timezone import now_local
from safework_registry.accommodations.models import Accommodation, AccommodationManager
from safework_registry.audit.service import record
from safework_registry.enterprises.service import enterprise_in_scope, enterprise_not_found
from safework_registry.pagination import decode_keys, encode_cursor
from safework_registry.persons.access import person_in_scope
from safework_registry.persons.models import Person
from safework_registry.validation import patch_values

OTHER_ENTERPRISE = "accommodation_other_enterprise"
OTHER_ENTERPRISE_MESSAGE = "This site already houses the workers of another enterprise."


def accommodation_not_found(field: str = "path.accommodation_id") -> NotFound:
    return NotFound("No such accommodation.", code="accommodation_not_found", field=field)


async def accommodation_in_scope(
    session: AsyncSession, caller: Caller, accommodation_id: uuid.UUID, *, for_update: bool = False
) -> Accommodation:
    require_role(caller, "authority", "enterprise")
    stmt = select(Accommodation).where(Accommodation.id == accommodation_id)
    if for_update:
        stmt = stmt.with_for_update()
    site = (await session.execute(stmt)).scalar_one_or_none()
    if site is None or not may_see_site(caller, site.enterprise_id, site.district):
        raise accommodation_not_found()
    return site


@dataclass(frozen=True, slots=True)
class SiteOwner:
    enterprise_id: uuid.UUID | None
    district: str
    concentrated: bool = False

    def refuses(self, enterprise_id: uuid.UUID) -> bool:
        """seeds/003: a concentrated site houses one enterprise's workers; another is refused."""
        return self.concentrated and self.enterprise_id not in (None, enterprise_id)


async def lock_sites(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, SiteOwner]:
    """Lock the sites (in id order, so concurrent batches cannot deadlock on them) and return
    each one's enterprise and district; missing ids are absent from the answer."""
    if not ids:
        return {}
    stmt = (
        select(Accommodation.id, Accommodation.enterprise_id, Accommodation.district, Accommodation.concentrated)
        .where(Accommodation.id == any_(bindparam("ids", sorted(ids), type_=ARRAY(UUID(as_uuid=True)))))
        .order_by(Accommodation.id)
        .with_for_update()
    )
    return {row.id: SiteOwner(row.enterprise_id, row.district, row.concentrated) for row in await session.execute(stmt)}


async def claim_sites(session: AsyncSession, ids: Collection[uuid.UUID], enterprise_id: uuid.UUID) -> None:
    """The first workers assigned make an unclaimed concentrated site the enterprise's (already
    locked); a private boarding house is claimed by no one."""
    if not ids:
        return
    await session.execute(
        update(Accommodation)
        .where(Accommodation.id == any_(bindparam("ids", sorted(ids), type_=ARRAY(UUID(as_uuid=True)))))
        .where(Accommodation.enterprise_id.is_(None), Accommodation.concentrated)
        .values(enterprise_id=enterprise_id, updated_at=now_local())
    )


async def assign_site(
    session: AsyncSession, caller: Caller, accommodation_id: uuid.UUID, enterprise_id: uuid.UUID | None, *, field: str
) -> None:
    """Check and claim one site for a worker of ``enterprise_id`` (a concentrated site: 409 if
    another enterprise's; a private boarding house: any enterprise's workers).
    A site the caller may not name (a district authority: another district's) is not found. A
    person without an enterprise breaks no site's rule and claims nothing."""
    sites = await lock_sites(session, [accommodation_id])
    site = sites.get(accommodation_id)
    if site is None or not may_name_site(caller, site.district):
        raise accommodation_not_found(field)
    if enterprise_id is None or not site.concentrated:
        return
    if site.refuses(enterprise_id):
        raise Conflict(OTHER_ENTERPRISE_MESSAGE, code=OTHER_ENTERPRISE, field=field)
    if site.enterprise_id is None:
        await claim_sites(session, [accommodation_id], enterprise_id)


async def create_accommodation(session: AsyncSession, caller: Caller, body: AccommodationCreate) -> Accommodation:
    require_role(caller, "authority", "enterprise")
    values = body.model_dump()
    own = caller_enterprise(caller)
    if values["concentrated"] and caller.role != "authority":
        raise Forbidden(
            "Only the authority marks a concentrated lodging site (seeds/003).",
            code="role_not_allowed",
            field="body.concentrated",
        )
    if own is not None:
        if values["enterprise_id"] not in (None, own):
            raise enterprise_not_found("body.enterprise_id")
        values["enterprise_id"] = own
    elif values["enterprise_id"] is not None:
        await enterprise_in_scope(session, caller, values["enterprise_id"], field="body.enterprise_id")
    values["district"] = require_in_district(caller, values["district"])
    site = Accommodation(**values)
    session.add(site)
    await session.flush()
    await record(session, caller, "accommodation.create", "accommodation", site.id)
    await session.refresh(site)
    return site


async def update_accommodation(
    session: AsyncSession, caller: Caller, accommodation_id: uuid.UUID, body: AccommodationUpdate
) -> Accommodation:
    values = patch_values(body)
    site = await accommodation_in_scope(session, caller, accommodation_id, for_update=True)
    own = caller_enterprise(caller)
    if own is not None:
        if site.enterprise_id != own:
            raise Forbidden(
                "An enterprise edits only the sites that house its workers.", code="accommodation_not_claimed"
            )
        if "enterprise_id" in values and values["enterprise_id"] != own:
            raise Forbidden("Only the authority reassigns a site.", code="role_not_allowed", field="body.enterprise_id")
        if "concentrated" in values and values["concentrated"] != site.concentrated:
            raise Forbidden(
                "Only the authority marks a concentrated lodging site (seeds/003).",
                code="role_not_allowed",
                field="body.concentrated",
            )
    if "district" in values:
        values["district"] = require_in_district(caller, values["district"])
    concentrated = values.get("concentrated", site.concentrated)
    if "enterprise_id" in values and values["enterprise_id"] != site.enterprise_id and concentrated:
        await _check_reassignment(session, caller, site, values["enterprise_id"])
    elif concentrated and not site.concentrated:
        # Marking a site concentrated: it must house one enterprise's workers, which claims it.
        owner = values.get("enterprise_id", site.enterprise_id)
        if owner is None:
            residents = select(Person.enterprise_id).where(
                Person.accommodation_id == site.id, Person.status == "active", Person.enterprise_id.is_not(None)
            )
            found = list((await session.execute(residents.distinct().limit(2))).scalars())
            if len(found) > 1:
                raise Conflict(OTHER_ENTERPRISE_MESSAGE, code=OTHER_ENTERPRISE, field="body.concentrated")
            if found:
                values["enterprise_id"] = found[0]
        else:
            await _check_reassignment(session, caller, site, owner)
    changed = sorted(k for k, v in values.items() if getattr(site, k) != v)
    if changed:
        for key in changed:
            setattr(site, key, values[key])
        await session.flush()
        await record(session, caller, "accommodation.update", "accommodation", site.id, {"fields": changed})
        await session.refresh(site)
    return site


async def _check_reassignment(
    session: AsyncSession, caller: Caller, site: Accommodation, new_owner: uuid.UUID | None
) -> None:
    """The authority may hand a site to another enterprise, or release it, only while no active
    worker of another enterprise lives there."""
    if new_owner is not None:
        await enterprise_in_scope(session, caller, new_owner, field="body.enterprise_id")
    stmt = select(Person.id).where(Person.accommodation_id == site.id, Person.status == "active")
    if new_owner is not None:
        stmt = stmt.where(Person.enterprise_id.is_distinct_from(new_owner))
    if await session.scalar(stmt.limit(1)) is not None:
        raise Conflict(OTHER_ENTERPRISE_MESSAGE, code=OTHER_ENTERPRISE, field="body.enterprise_id")


async def list_accommodations(
    session: AsyncSession,
    caller: Caller,
    *,
    district: str | None,
    enterprise_id: uuid.UUID | None,
    unclaimed: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Accommodation], str | None]:
    """Sites in scope, by name then id (keyset)."""
    require_role(caller, "authority", "enterprise")
    stmt = select(Accommodation)
    own = caller_enterprise(caller)
    if own is not None:
        stmt = stmt.where((Accommodation.enterprise_id == own) | Accommodation.enterprise_id.is_(None))
    district = district_filter(caller, district)
    if district is not None:
        stmt = stmt.where(Accommodation.district == district)
    if enterprise_id is not None:
        stmt = stmt.where(Accommodation.enterprise_id == enterprise_id)
    if unclaimed is not None:
        stmt = stmt.where(
            Accommodation.enterprise_id.is_(None) if unclaimed else Accommodation.enterprise_id.is_not(None)
        )
    after = decode_keys(cursor, str, uuid.UUID)
    if after is not None:
        name, last_id = after
        stmt = stmt.where((Accommodation.name > name) | ((Accommodation.name == name) & (Accommodation.id > last_id)))
    stmt = stmt.order_by(Accommodation.name, Accommodation.id).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.name, str(last.id)])
    return rows[:limit], next_cursor


async def add_manager(
    session: AsyncSession, caller: Caller, accommodation_id: uuid.UUID, body: ManagerIn
) -> ManagerOut:
    """Link an owner or manager to a site (the authority: its district's sites). The person is
    one the caller may see (404 otherwise); linking twice changes the role only."""
    require_role(caller, "authority")
    site = await accommodation_in_scope(session, caller, accommodation_id, for_update=True)
    try:
        await person_in_scope(session, caller, body.person_id)
    except NotFound as exc:
        raise NotFound("No such person.", code="person_not_found", field="body.person_id") from exc
    stmt = (
        pg_insert(AccommodationManager)
        .values(accommodation_id=site.id, person_id=body.person_id, role=body.role)
        .on_conflict_do_update(
            index_elements=[AccommodationManager.accommodation_id, AccommodationManager.person_id],
            set_={"role": body.role},
        )
        .returning(AccommodationManager)
    )
    row = (await session.execute(stmt)).scalar_one()
    await record(session, caller, "accommodation.manager", "accommodation", site.id, {"person_id": str(body.person_id)})
    return ManagerOut.model_validate(row)


async def list_managers(session: AsyncSession, caller: Caller, accommodation_id: uuid.UUID) -> ManagersOut:
    require_role(caller, "authority")
    site = await accommodation_in_scope(session, caller, accommodation_id)
    rows = (
        await session.execute(
            select(AccommodationManager)
            .where(AccommodationManager.accommodation_id == site.id)
            .order_by(AccommodationManager.created_at, AccommodationManager.person_id)
        )
    ).scalars()
    return ManagersOut(items=[ManagerOut.model_validate(r) for r in rows])


async def remove_manager(
    session: AsyncSession, caller: Caller, accommodation_id: uuid.UUID, person_id: uuid.UUID
) -> None:
    require_role(caller, "authority")
    site = await accommodation_in_scope(session, caller, accommodation_id, for_update=True)
    gone = await session.execute(
        delete(AccommodationManager)
        .where(AccommodationManager.accommodation_id == site.id, AccommodationManager.person_id == person_id)
        .returning(AccommodationManager.person_id)
    )
    if gone.first() is None:
        return  # not linked (any more): a repeated unlink changes nothing and answers the same
    await record(
        session, caller, "accommodation.manager_removed", "accommodation", site.id, {"person_id": str(person_id)}
    )
