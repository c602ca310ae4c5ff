"""Isolation routes (authority): facilities, rooms, assignments, suggestions (seeds/002 §4)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from safework_common.contract.isolation import (
    AssignmentIn,
    AssignmentOut,
    FacilityCreate,
    FacilityOut,
    SuggestIn,
    SuggestOut,
)
from safework_common.paging import Limit
from safework_registry.deps import CallerDep, Session
from safework_registry.isolation import service
from safework_registry.pagination import Page

router = APIRouter(tags=["isolation"])


@router.post(
    "/isolation/facilities", status_code=201, response_model=FacilityOut, summary="Record a facility and rooms"
)
async def create_facility(session: Session, caller: CallerDep, body: FacilityCreate) -> FacilityOut:
    return await service.create_facility(session, caller, body)


@router.get("/isolation/facilities", response_model=Page[FacilityOut], summary="Facilities in scope, with occupancy")
async def list_facilities(
    session: Session,
    caller: CallerDep,
    district: str | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 50,
) -> Page[FacilityOut]:
    return await service.list_facilities(session, caller, district=district, cursor=cursor, limit=limit)


@router.get("/isolation/facilities/{facility_id}", response_model=FacilityOut, summary="One facility")
async def get_facility(session: Session, caller: CallerDep, facility_id: uuid.UUID) -> FacilityOut:
    return await service.get_facility(session, caller, facility_id)


@router.post(
    "/isolation/facilities/{facility_id}/assignments",
    status_code=201,
    response_model=AssignmentOut,
    summary="Put a person in a room (409 room_risk_mix, room_full, person_already_assigned)",
    responses={200: {"model": AssignmentOut, "description": "Already in that room: the stored assignment"}},
)
async def assign(
    session: Session, caller: CallerDep, facility_id: uuid.UUID, body: AssignmentIn, response: Response
) -> AssignmentOut:
    out, new = await service.assign(session, caller, facility_id, body)
    if not new:
        response.status_code = 200
    return out


@router.delete(
    "/isolation/facilities/{facility_id}/assignments/{person_id}", status_code=204, summary="Release a person"
)
async def release(session: Session, caller: CallerDep, facility_id: uuid.UUID, person_id: uuid.UUID) -> Response:
    await service.release(session, caller, facility_id, person_id)
    return Response(status_code=204)


@router.post(
    "/isolation/facilities/{facility_id}/suggest",
    response_model=SuggestOut,
    summary="Suggest rooms for people: never mixing risk classes, filling rooms",
)
async def suggest(session: Session, caller: CallerDep, facility_id: uuid.UUID, body: SuggestIn) -> SuggestOut:
    return await service.suggest_rooms(session, caller, facility_id, body)
