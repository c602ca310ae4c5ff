"""Quarantine facilities and rooms (seeds/002 §4: never room high-risk with low-risk people).

A person's risk class at an instant: high when they are the F0 of an open case or a contact
(F1) of one (``outbreak``); low otherwise. Assignments to one room are serialised by locking
the room's row, so two concurrent assignments cannot mix a room."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, insert, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common import scope
from safework_common.contract.isolation import (
    AssignmentIn,
    AssignmentOut,
    FacilityCreate,
    FacilityOut,
    PlacementOut,
    RoomOut,
    SuggestIn,
    SuggestOut,
)
from safework_common.errors import Conflict, NotFound, Unprocessable
from safework_common.internal_auth import Caller
from safework_common.timezone import now_local
from safework_registry.audit.service import record
from safework_registry.isolation.models import IsolationAssignment, IsolationFacility, IsolationRoom
from safework_registry.outbreak.models import Contact, OutbreakCase
from safework_registry.outbreak.rules import HIGH, LOW, Risk, Room, refusal, suggest
from safework_registry.pagination import Page, decode_keys, encode_cursor
from safework_registry.persons.access import may_see_person
from safework_registry.persons.models import Person
from safework_registry.validation import not_in_future


def _refused(why: str) -> Conflict:
    """The 409 of :func:`~safework_registry.outbreak.rules.refusal`'s code (each code written out,
    so the catalogue's scan finds it)."""
    if why == "room_full":
        return Conflict("The room is full.", code="room_full", field="body.room_id")
    return Conflict(
        "The room holds people of the other risk class: high-risk and low-risk people never share a room (seeds/002).",
        code="room_risk_mix",
        field="body.room_id",
    )


def facility_not_found(field: str = "path.facility_id") -> NotFound:
    return NotFound("No such isolation facility.", code="facility_not_found", field=field)


async def risks(session: AsyncSession, person_ids: list[uuid.UUID], at: datetime) -> dict[uuid.UUID, Risk]:
    """High for the F0 or an F1 of a case open at ``at``; low for everyone else."""
    open_case = (OutbreakCase.traced_at <= at) & or_(OutbreakCase.closed_at.is_(None), OutbreakCase.closed_at > at)
    high = union(
        select(OutbreakCase.person_id).where(open_case, OutbreakCase.person_id.in_(person_ids)),
        select(Contact.person_id)
        .join(OutbreakCase, OutbreakCase.id == Contact.case_id)
        .where(open_case, Contact.traced_at <= at, Contact.person_id.in_(person_ids)),
    )
    found = {row[0] for row in (await session.execute(high)).all()}
    return {pid: (HIGH if pid in found else LOW) for pid in person_ids}


async def facility_in_scope(
    session: AsyncSession, caller: Caller, facility_id: uuid.UUID, field: str = "path.facility_id"
) -> IsolationFacility:
    scope.require_role(caller, scope.AUTHORITY)
    found = await session.get(IsolationFacility, facility_id)
    if found is None or not scope.in_district(caller, found.district):
        raise facility_not_found(field)
    return found


async def _rooms(session: AsyncSession, facility_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[RoomOut]]:
    occ = (
        select(
            IsolationAssignment.room_id,
            func.count().label("n"),
            func.min(IsolationAssignment.risk).label("risk"),
        )
        .where(IsolationAssignment.released_at.is_(None))
        .group_by(IsolationAssignment.room_id)
        .subquery("occ")
    )
    rows = (
        await session.execute(
            select(IsolationRoom, occ.c.n, occ.c.risk)
            .outerjoin(occ, occ.c.room_id == IsolationRoom.id)
            .where(IsolationRoom.facility_id.in_(facility_ids))
            .order_by(IsolationRoom.code)
        )
    ).all()
    out: dict[uuid.UUID, list[RoomOut]] = {fid: [] for fid in facility_ids}
    for room, n, risk in rows:
        out[room.facility_id].append(
            RoomOut(id=room.id, code=room.code, capacity=room.capacity, occupied=n or 0, risk=risk)
        )
    return out


def _out(f: IsolationFacility, rooms: list[RoomOut]) -> FacilityOut:
    return FacilityOut(id=f.id, name=f.name, address=f.address, district=f.district, rooms=rooms)


async def create_facility(session: AsyncSession, caller: Caller, body: FacilityCreate) -> FacilityOut:
    scope.require_role(caller, scope.AUTHORITY)
    district = scope.require_in_district(caller, body.district)
    codes = [r.code for r in body.rooms]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise Unprocessable("Room codes repeat.", code="room_code_repeated", field=f"body.rooms[{i}].code")
    facility = IsolationFacility(id=uuid.uuid4(), name=body.name, address=body.address, district=district)
    session.add(facility)
    await session.flush()
    await session.execute(
        insert(IsolationRoom),
        [{"id": uuid.uuid4(), "facility_id": facility.id, "code": r.code, "capacity": r.capacity} for r in body.rooms],
    )
    await record(session, caller, "isolation.facility.create", "isolation_facility", facility.id)
    return _out(facility, (await _rooms(session, [facility.id]))[facility.id])


async def get_facility(session: AsyncSession, caller: Caller, facility_id: uuid.UUID) -> FacilityOut:
    f = await facility_in_scope(session, caller, facility_id)
    return _out(f, (await _rooms(session, [f.id]))[f.id])


async def list_facilities(
    session: AsyncSession, caller: Caller, *, district: str | None, cursor: str | None, limit: int
) -> Page[FacilityOut]:
    scope.require_role(caller, scope.AUTHORITY)
    wanted = scope.district_filter(caller, district)
    stmt = select(IsolationFacility)
    if wanted is not None:
        stmt = stmt.where(IsolationFacility.district == wanted)
    after = decode_keys(cursor, uuid.UUID)
    if after is not None:
        stmt = stmt.where(IsolationFacility.id > after[0])
    rows = list((await session.execute(stmt.order_by(IsolationFacility.id).limit(limit + 1))).scalars())
    rooms = await _rooms(session, [f.id for f in rows[:limit]])
    nxt = encode_cursor([str(rows[limit - 1].id)]) if len(rows) > limit else None
    return Page[FacilityOut](items=[_out(f, rooms[f.id]) for f in rows[:limit]], next_cursor=nxt)


async def _visible_people(session: AsyncSession, caller: Caller, ids: list[uuid.UUID], field: str) -> None:
    people = {p.id: p for p in (await session.execute(select(Person).where(Person.id.in_(ids)))).scalars()}
    for i, pid in enumerate(ids):
        p = people.get(pid)
        if p is None or not await may_see_person(session, caller, p):
            raise scope.person_not_found(field.format(i=i))


async def assign(
    session: AsyncSession, caller: Caller, facility_id: uuid.UUID, body: AssignmentIn
) -> tuple[AssignmentOut, bool]:
    """Put a person in a room; (the assignment, whether it is new). 409 ``room_risk_mix`` when
    the room holds the other risk class, ``room_full``, ``person_already_assigned`` (another
    room; the same room again is the stored assignment)."""
    await facility_in_scope(session, caller, facility_id)
    now = now_local()
    at = body.at or now
    not_in_future(at, code="assigned_in_future", field="body.at", now=now)
    room = (
        await session.execute(
            select(IsolationRoom)
            .where(IsolationRoom.id == body.room_id, IsolationRoom.facility_id == facility_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if room is None:
        raise NotFound("No such room in this facility.", code="room_not_found", field="body.room_id")
    await _visible_people(session, caller, [body.person_id], "body.person_id")
    current = (
        await session.execute(
            select(IsolationAssignment).where(
                IsolationAssignment.person_id == body.person_id, IsolationAssignment.released_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    if current is not None:
        if current.room_id == room.id:
            return AssignmentOut.model_validate(current, from_attributes=True), False
        raise Conflict("The person is in another room; release them first.", code="person_already_assigned",
                       field="body.person_id")  # fmt: skip
    risk = (await risks(session, [body.person_id], at))[body.person_id]
    occupants = tuple(
        r
        for (r,) in (
            await session.execute(
                select(IsolationAssignment.risk).where(
                    IsolationAssignment.room_id == room.id, IsolationAssignment.released_at.is_(None)
                )
            )
        ).all()
    )
    why = refusal(Room(room.id, room.capacity, occupants), risk)  # type: ignore[arg-type]
    if why is not None:
        raise _refused(why)
    row = IsolationAssignment(room_id=room.id, person_id=body.person_id, risk=risk, assigned_at=at)
    session.add(row)
    await session.flush()
    await record(session, caller, "isolation.assign", "isolation_assignment", row.id, {"risk": risk})
    return AssignmentOut.model_validate(row, from_attributes=True), True


async def release(session: AsyncSession, caller: Caller, facility_id: uuid.UUID, person_id: uuid.UUID) -> None:
    """The person leaves their room in this facility (nothing to release: done already)."""
    await facility_in_scope(session, caller, facility_id)
    rooms = select(IsolationRoom.id).where(IsolationRoom.facility_id == facility_id)
    await session.execute(
        update(IsolationAssignment)
        .where(
            IsolationAssignment.person_id == person_id,
            IsolationAssignment.released_at.is_(None),
            IsolationAssignment.room_id.in_(rooms),
        )
        .values(released_at=now_local())
    )
    await record(session, caller, "isolation.release", "person", person_id)


async def suggest_rooms(session: AsyncSession, caller: Caller, facility_id: uuid.UUID, body: SuggestIn) -> SuggestOut:
    """An assignment for these people that never mixes risk classes and fills rooms (not saved)."""
    f = await facility_in_scope(session, caller, facility_id)
    ids = list(dict.fromkeys(body.person_ids))
    await _visible_people(session, caller, ids, "body.person_ids[{i}]")
    at = body.as_of or now_local()
    rooms = (await _rooms(session, [f.id]))[f.id]
    by_risk = await risks(session, ids, at)
    plan = suggest(
        [Room(r.id, r.capacity, tuple([r.risk] * r.occupied) if r.risk else ()) for r in rooms],
        [(pid, by_risk[pid]) for pid in ids],
    )
    codes = {r.id: r.code for r in rooms}
    placements = [
        PlacementOut(person_id=p.person_id, risk=p.risk, room_id=p.room_id, room_code=codes.get(p.room_id))  # type: ignore[arg-type]
        for p in plan
    ]
    return SuggestOut(placements=placements, unplaced=sum(1 for p in plan if p.room_id is None))
