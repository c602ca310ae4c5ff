"""Cases, tracing and the authority's trace views (seeds/004 §II.3, seeds/002 §2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from safework_common import scope
from safework_common.contract.outbreak import (
    AssumptionOut,
    CaseCreate,
    CaseListItem,
    CaseOut,
    ContactOut,
    ContactPage,
    DeclaredContacts,
    DistrictEnterprise,
    DistrictOutbreakOut,
    EnterpriseCount,
    TraceOut,
    VenueCount,
)
from safework_common.errors import Conflict, NotFound, Unprocessable
from safework_common.internal_auth import Caller
from safework_common.timezone import now_local
from safework_registry.audit.service import record
from safework_registry.enterprises.models import Enterprise
from safework_registry.events.service import emit
from safework_registry.outbreak import repository
from safework_registry.outbreak.models import Contact, OutbreakCase
from safework_registry.outbreak.parameters import OutbreakParameters, current
from safework_registry.outbreak.rules import Window, infectious_window
from safework_registry.pagination import Page, decode_keys, encode_cursor
from safework_registry.persons.access import may_see_person
from safework_registry.persons.models import Person
from safework_registry.results.models import TestResult
from safework_registry.validation import not_in_future
from safework_registry.venues.models import Venue


def case_not_found(field: str = "path.case_id") -> NotFound:
    return NotFound("No such case.", code="case_not_found", field=field)


def assumptions(params: OutbreakParameters) -> list[AssumptionOut]:
    return [AssumptionOut(parameter=a.parameter, value=a.value, source=a.source) for a in params.assumptions]


def window_of(case: OutbreakCase) -> Window:
    return Window(
        case.infectious_from, case.traced_at if case.isolated_at is None else min(case.isolated_at, case.traced_at)
    )


async def case_in_scope(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, *, for_update: bool = False
) -> OutbreakCase:
    """The case if the caller is an authority whose district covers the F0's employer (a case of
    a person with no employer: the province's only), else 404."""
    scope.require_role(caller, scope.AUTHORITY)
    stmt = select(OutbreakCase).where(OutbreakCase.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None or not (scope.sees_everything(caller) or scope.in_district(caller, found.district)):
        raise case_not_found()
    return found


async def _person(session: AsyncSession, caller: Caller, person_id: uuid.UUID, field: str) -> Person:
    person = await session.get(Person, person_id)
    if person is None or not await may_see_person(session, caller, person):
        raise scope.person_not_found(field)
    return person


async def _positive(session: AsyncSession, person_id: uuid.UUID, body: CaseCreate) -> TestResult:
    stmt = select(TestResult).where(TestResult.person_id == person_id, TestResult.result == "POSITIVE")
    if body.result_id is not None:
        stmt = stmt.where(TestResult.id == body.result_id)
    elif not body.confirmed:
        stmt = stmt.where(TestResult.kind == "PCR", TestResult.pool_id.is_(None), ~TestResult.pooled)
    result = (await session.execute(stmt.order_by(TestResult.collected_at.desc()).limit(1))).scalar_one_or_none()
    if result is None:
        field = "body.result_id" if body.result_id is not None else "body.person_id"
        raise Unprocessable("The person has no such positive result.", code="no_positive_result", field=field)
    return result


async def _counts(
    session: AsyncSession, case_ids: list[uuid.UUID], as_of: datetime | None = None
) -> dict[uuid.UUID, int]:
    stmt = select(Contact.case_id, func.count()).where(Contact.case_id.in_(case_ids)).group_by(Contact.case_id)
    if as_of is not None:
        stmt = stmt.where(Contact.traced_at <= as_of)
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}


async def _case_out(
    session: AsyncSession, found: OutbreakCase, params: OutbreakParameters, new: int | None = None
) -> CaseOut:
    name = await session.scalar(select(Person.full_name).where(Person.id == found.person_id))
    counts = await _counts(session, [found.id])
    w = window_of(found)
    return CaseOut(
        id=found.id,
        person_id=found.person_id,
        full_name=name or "",
        result_id=found.result_id,
        basis=found.basis,
        collected_at=found.collected_at,
        infectious_from=found.infectious_from,
        window_end=w.end,
        isolated_at=found.isolated_at,
        traced_at=found.traced_at,
        enterprise_id=found.enterprise_id,
        district=found.district,
        status=found.status,
        closed_at=found.closed_at,
        contacts=counts.get(found.id, 0),
        new_contacts=new,
        assumptions=assumptions(params),
    )


async def create_case(
    session: AsyncSession, caller: Caller, body: CaseCreate, *, now: datetime | None = None
) -> CaseOut:
    """seeds/004 §II.3: a confirmed case, traced at once. An individual positive PCR makes the
    person a case; any other positive only when the authority confirms it (``confirmed``)."""
    scope.require_role(caller, scope.AUTHORITY)
    now = now or now_local()
    at = body.at or now
    not_in_future(at, code="trace_time_in_future", field="body.at", now=now)
    person = await _person(session, caller, body.person_id, "body.person_id")
    result = await _positive(session, person.id, body)
    individual_pcr = result.kind == "PCR" and result.pool_id is None and not result.pooled
    if not individual_pcr and not body.confirmed:
        raise Unprocessable(
            "Only an individual positive PCR makes a case by itself; confirm this positive to record it.",
            code="case_needs_confirmation",
            field="body.confirmed",
        )
    if at < result.collected_at:
        raise Unprocessable(
            "A trace cannot precede the specimen's collection.", code="trace_before_collection", field="body.at"
        )
    if body.isolated_at is not None:
        not_in_future(body.isolated_at, code="isolated_in_future", field="body.isolated_at", now=now)
    params = current()
    district = None
    if person.enterprise_id is not None:
        district = await session.scalar(select(Enterprise.district).where(Enterprise.id == person.enterprise_id))
    w = infectious_window(result.collected_at, params.infectious_before, body.isolated_at, at)
    inserted = (
        await session.execute(
            pg_insert(OutbreakCase)
            .values(
                id=uuid.uuid4(),
                person_id=person.id,
                result_id=result.id,
                basis="pcr" if individual_pcr else "confirmed",
                collected_at=result.collected_at,
                infectious_from=w.start,
                isolated_at=body.isolated_at,
                traced_at=at,
                enterprise_id=person.enterprise_id,
                district=district,
            )
            .on_conflict_do_nothing(index_elements=[OutbreakCase.person_id, OutbreakCase.collected_at])
            .returning(OutbreakCase.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        raise Conflict("This positive is already a case.", code="case_exists", field="body.person_id")
    found = await session.get_one(OutbreakCase, inserted)
    await emit(
        session,
        "case.confirmed",
        "outbreak_case",
        found.id,
        found.collected_at,
        {
            "case_id": str(found.id),
            "person_id": str(found.person_id),
            "enterprise_id": _s(found.enterprise_id),
            "district": found.district,
        },
    )
    new = await repository.trace(session, found, w, params.dwell, person.accommodation_id)
    await record(session, caller, "case.create", "outbreak_case", found.id, {"contacts": new})
    return await _case_out(session, found, params, new)


def _s(value: object) -> str | None:
    return None if value is None else str(value)


async def retrace(session: AsyncSession, caller: Caller, case_id: uuid.UUID) -> CaseOut:
    """Trace again (check-ins that arrived late): only people not linked yet are added, high-risk
    from this trace on."""
    found = await case_in_scope(session, caller, case_id, for_update=True)
    params = current()
    accommodation = await session.scalar(select(Person.accommodation_id).where(Person.id == found.person_id))
    now = now_local()
    w = window_of(found)
    new = await repository.mark(
        session, found, repository.candidates(found, w, params.dwell, accommodation), max(now, found.traced_at)
    )
    await record(session, caller, "case.retrace", "outbreak_case", found.id, {"contacts": new})
    return await _case_out(session, found, params, new)


async def declare_contacts(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, body: DeclaredContacts, *, now: datetime | None = None
) -> CaseOut:
    """Contacts the authority names (found by interview): each must be a person it may see."""
    found = await case_in_scope(session, caller, case_id, for_update=True)
    now = now or now_local()
    at = body.at or now
    not_in_future(at, code="trace_time_in_future", field="body.at", now=now)
    ids = list(dict.fromkeys(body.person_ids))
    for i, pid in enumerate(ids):
        if pid == found.person_id:
            raise Unprocessable(
                "The case is not its own contact.", code="contact_is_case", field=f"body.person_ids[{i}]"
            )
    people = {p.id: p for p in (await session.execute(select(Person).where(Person.id.in_(ids)))).scalars()}
    for i, pid in enumerate(body.person_ids):
        p = people.get(pid)
        if p is None or not await may_see_person(session, caller, p):
            raise scope.person_not_found(f"body.person_ids[{i}]")
    new = await repository.mark_declared(session, found, ids, max(at, found.collected_at))
    await record(session, caller, "case.declare_contacts", "outbreak_case", found.id, {"contacts": new})
    return await _case_out(session, found, current(), new)


async def close_case(session: AsyncSession, caller: Caller, case_id: uuid.UUID, at: datetime | None) -> CaseOut:
    found = await case_in_scope(session, caller, case_id, for_update=True)
    now = now_local()
    at = at or now
    not_in_future(at, code="close_time_in_future", field="body.at", now=now)
    if found.status == "closed":
        return await _case_out(session, found, current())  # closing is idempotent
    found.status, found.closed_at = "closed", at
    await session.flush()
    await emit(session, "case.closed", "outbreak_case", found.id, at, {"case_id": str(found.id)})
    await record(session, caller, "case.close", "outbreak_case", found.id)
    return await _case_out(session, found, current())


async def trace_view(session: AsyncSession, caller: Caller, case_id: uuid.UUID, as_of: datetime | None) -> TraceOut:
    """One case: its contacts counted by link, enterprise and venue, as traced by ``as_of``."""
    found = await case_in_scope(session, caller, case_id)
    as_of = as_of or now_local()
    params = current()
    base = await _case_out(session, found, params)
    seen = Contact.traced_at <= as_of
    by_link = {
        row[0]: row[1]
        for row in (
            await session.execute(
                select(Contact.link, func.count()).where(Contact.case_id == found.id, seen).group_by(Contact.link)
            )
        ).all()
    }
    by_enterprise = [
        EnterpriseCount(enterprise_id=r.enterprise_id, name=r.name, contacts=r.n)
        for r in (
            await session.execute(
                select(Contact.enterprise_id, Enterprise.name, func.count().label("n"))
                .outerjoin(Enterprise, Enterprise.id == Contact.enterprise_id)
                .where(Contact.case_id == found.id, seen)
                .group_by(Contact.enterprise_id, Enterprise.name)
                .order_by(func.count().desc(), Contact.enterprise_id)
            )
        ).all()
    ]
    by_venue = [
        VenueCount(venue_id=r.id, name=r.name, kind=r.kind, contacts=r.n)
        for r in (
            await session.execute(
                select(Venue.id, Venue.name, Venue.kind, func.count().label("n"))
                .join(Contact, Contact.venue_id == Venue.id)
                .where(Contact.case_id == found.id, seen)
                .group_by(Venue.id, Venue.name, Venue.kind)
                .order_by(func.count().desc(), Venue.id)
            )
        ).all()
    ]
    data = base.model_dump()
    data["contacts"] = sum(by_link.values())
    return TraceOut(**data, as_of=as_of, by_link=by_link, by_enterprise=by_enterprise, by_venue=by_venue)


def _after_person(cursor: str | None) -> uuid.UUID | None:
    keys = decode_keys(cursor, uuid.UUID)
    return None if keys is None else keys[0]


async def list_contacts(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    *,
    as_of: datetime | None,
    ring: int,
    link: str | None,
    enterprise_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> ContactPage:
    """Ring 1: the case's contacts (by person id, keyset). Ring 2 (on request, not marked): the
    ring-1 overlap rule applied to each F1's check-ins from the F1's own exposure (a housemate's
    or declared contact's: the start of the F0's window) to ``as_of``; neither the F0 nor an F1
    of the case (``repository.second_ring``)."""
    found = await case_in_scope(session, caller, case_id)
    as_of = as_of or now_local()
    params = current()
    after = _after_person(cursor)
    items: list[ContactOut] = []
    if ring == 1:
        stmt = (
            select(Contact, Person.full_name, Venue.name.label("venue_name"), Venue.kind.label("venue_kind"))
            .join(Person, Person.id == Contact.person_id)
            .outerjoin(Venue, Venue.id == Contact.venue_id)
            .where(Contact.case_id == found.id, Contact.traced_at <= as_of)
        )
        if link is not None:
            stmt = stmt.where(Contact.link == link)
        if enterprise_id is not None:
            stmt = stmt.where(Contact.enterprise_id == enterprise_id)
        if after is not None:
            stmt = stmt.where(Contact.person_id > after)
        rows = (await session.execute(stmt.order_by(Contact.person_id).limit(limit + 1))).all()
        for c, name, venue_name, venue_kind in rows:
            items.append(
                ContactOut(
                    ring=1, person_id=c.person_id, full_name=name, enterprise_id=c.enterprise_id, link=c.link,
                    venue_id=c.venue_id, venue_name=venue_name, venue_kind=venue_kind,
                    accommodation_id=c.accommodation_id, exposed_at=c.exposed_at, traced_at=c.traced_at,
                )
            )  # fmt: skip
    else:
        first = repository.second_ring(found, as_of, params.dwell)
        stmt2 = (
            select(first, Person.full_name, Person.enterprise_id, Venue.name, Venue.kind)
            .join(Person, Person.id == first.c.person_id)
            .join(Venue, Venue.id == first.c.venue_id)
        )
        if enterprise_id is not None:
            stmt2 = stmt2.where(Person.enterprise_id == enterprise_id)
        if link not in (None, "venue"):
            stmt2 = stmt2.where(false())  # ring 2 is found through venues only
        if after is not None:
            stmt2 = stmt2.where(first.c.person_id > after)
        rows = (await session.execute(stmt2.order_by(first.c.person_id).limit(limit + 1))).all()
        for r in rows:
            items.append(
                ContactOut(
                    ring=2, person_id=r.person_id, full_name=r.full_name, enterprise_id=r.enterprise_id, link="venue",
                    venue_id=r.venue_id, venue_name=r.name, venue_kind=r.kind, accommodation_id=None,
                    exposed_at=r.exposed_at, traced_at=None, via_person_id=r.source_id,
                )
            )  # fmt: skip
    next_cursor = encode_cursor([str(items[limit - 1].person_id)]) if len(items) > limit else None
    return ContactPage(items=items[:limit], next_cursor=next_cursor, assumptions=assumptions(params))


def _open_at(as_of: datetime) -> Any:
    return and_(
        OutbreakCase.traced_at <= as_of,
        or_(OutbreakCase.closed_at.is_(None), OutbreakCase.closed_at > as_of),
    )


async def list_cases(
    session: AsyncSession,
    caller: Caller,
    *,
    district: str | None,
    status: str | None,
    as_of: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[CaseListItem]:
    """Cases in the caller's district (the province: any), newest specimen first."""
    scope.require_role(caller, scope.AUTHORITY)
    wanted = scope.district_filter(caller, district)
    as_of = as_of or now_local()
    stmt = select(OutbreakCase).where(OutbreakCase.traced_at <= as_of)
    if wanted is not None:
        stmt = stmt.where(OutbreakCase.district == wanted)
    if status == "open":
        stmt = stmt.where(_open_at(as_of))
    elif status == "closed":
        stmt = stmt.where(OutbreakCase.closed_at <= as_of)
    keys = decode_keys(cursor, datetime, uuid.UUID)
    if keys is not None:
        at, last = keys
        stmt = stmt.where(
            or_(OutbreakCase.collected_at < at, and_(OutbreakCase.collected_at == at, OutbreakCase.id < last))
        )
    rows = list(
        (
            await session.execute(
                stmt.order_by(OutbreakCase.collected_at.desc(), OutbreakCase.id.desc()).limit(limit + 1)
            )
        ).scalars()
    )
    counts = await _counts(session, [r.id for r in rows], as_of)
    status_of = {True: "open", False: "closed"}
    items = [
        CaseListItem(
            id=r.id, person_id=r.person_id, enterprise_id=r.enterprise_id, district=r.district,
            collected_at=r.collected_at, traced_at=r.traced_at,
            status=status_of[r.closed_at is None or r.closed_at > as_of], contacts=counts.get(r.id, 0),
        )
        for r in rows[:limit]
    ]  # fmt: skip
    nxt = (
        encode_cursor([rows[limit - 1].collected_at.isoformat(), str(rows[limit - 1].id)])
        if len(rows) > limit
        else None
    )
    return Page[CaseListItem](items=items, next_cursor=nxt)


async def district_view(
    session: AsyncSession, caller: Caller, district: str, *, as_of: datetime | None, cursor: str | None, limit: int
) -> DistrictOutbreakOut:
    """A district's open cases and contacts as of ``as_of``, and the enterprises that have one
    (an F0 or an F1 among their workers), by enterprise id (keyset)."""
    scope.require_role(caller, scope.AUTHORITY)
    wanted = scope.district_filter(caller, district, field="path.district")
    assert wanted is not None
    as_of = as_of or now_local()
    open_cases = select(OutbreakCase.id, OutbreakCase.enterprise_id).where(_open_at(as_of)).subquery("oc")
    n_cases = await session.scalar(
        select(func.count()).select_from(OutbreakCase).where(_open_at(as_of), OutbreakCase.district == wanted)
    )
    # Contacts of open cases who work in the district's enterprises (whatever the case's district).
    district_contacts = (
        select(Contact.person_id, Contact.enterprise_id)
        .join(open_cases, open_cases.c.id == Contact.case_id)
        .join(Enterprise, Enterprise.id == Contact.enterprise_id)
        .where(Enterprise.district == wanted, Contact.traced_at <= as_of)
        .subquery("dc")
    )
    n_contacts = await session.scalar(select(func.count(func.distinct(district_contacts.c.person_id))))
    by_f1 = (
        select(
            district_contacts.c.enterprise_id.label("eid"),
            func.count(func.distinct(district_contacts.c.person_id)).label("n"),
        )
        .group_by(district_contacts.c.enterprise_id)
        .subquery("f1")
    )
    by_f0 = (
        select(OutbreakCase.enterprise_id.label("eid"), func.count().label("n"))
        .where(_open_at(as_of), OutbreakCase.district == wanted, OutbreakCase.enterprise_id.is_not(None))
        .group_by(OutbreakCase.enterprise_id)
        .subquery("f0")
    )
    e = aliased(Enterprise)
    stmt = (
        select(e.id, e.name, func.coalesce(by_f0.c.n, 0).label("cases"), func.coalesce(by_f1.c.n, 0).label("contacts"))
        .outerjoin(by_f0, by_f0.c.eid == e.id)
        .outerjoin(by_f1, by_f1.c.eid == e.id)
        .where(e.district == wanted, or_(by_f0.c.n.is_not(None), by_f1.c.n.is_not(None)))
    )
    after = _after_person(cursor)
    if after is not None:
        stmt = stmt.where(e.id > after)
    rows = (await session.execute(stmt.order_by(e.id).limit(limit + 1))).all()
    items = [DistrictEnterprise(enterprise_id=r.id, name=r.name, open_cases=r.cases, contacts=r.contacts) for r in rows]
    nxt = encode_cursor([str(rows[limit - 1].id)]) if len(rows) > limit else None
    return DistrictOutbreakOut(
        district=wanted,
        as_of=as_of,
        open_cases=n_cases or 0,
        contacts=n_contacts or 0,
        items=items[:limit],
        next_cursor=nxt,
    )
