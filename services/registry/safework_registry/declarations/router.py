"""Health declarations and travels: the worker's app posts for the worker; reads are in scope."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from safework_common.contract.declarations import DeclarationIn, DeclarationOut, TravelIn, TravelOut, TravelPatch
from safework_common.paging import Limit
from safework_registry.declarations import service
from safework_registry.deps import CallerDep, Session
from safework_registry.idempotency.service import Idempotency
from safework_registry.pagination import Page

router = APIRouter(tags=["declarations"])


@router.post(
    "/persons/{person_id}/declarations",
    status_code=201,
    response_model=DeclarationOut,
    summary="A health declaration (the worker, for themself)",
)
async def declare(
    person_id: uuid.UUID, body: DeclarationIn, session: Session, caller: CallerDep, idem: Idempotency
) -> Response:
    if (replay := await idem.start()) is not None:
        return replay
    return await idem.finish_model(session, 201, await service.declare(session, caller, person_id, body))


@router.get("/persons/{person_id}/declarations", summary="Health declarations, newest first (in scope)")
async def list_declarations(
    person_id: uuid.UUID, session: Session, caller: CallerDep, cursor: str | None = None, limit: Limit = 50
) -> Page[DeclarationOut]:
    return await service.list_declarations(session, caller, person_id, cursor=cursor, limit=limit)


@router.post(
    "/persons/{person_id}/travels",
    status_code=201,
    response_model=TravelOut,
    summary="A trip out of the province (the worker, for themself)",
)
async def add_travel(
    person_id: uuid.UUID, body: TravelIn, session: Session, caller: CallerDep, idem: Idempotency
) -> Response:
    if (replay := await idem.start()) is not None:
        return replay
    return await idem.finish_model(session, 201, await service.add_travel(session, caller, person_id, body))


@router.patch(
    "/persons/{person_id}/travels/{travel_id}",
    summary="Record the return of the open trip (the worker, for themself)",
)
async def update_travel(
    person_id: uuid.UUID, travel_id: int, body: TravelPatch, session: Session, caller: CallerDep
) -> TravelOut:
    travel = await service.update_open_travel(session, caller, person_id, travel_id, body)
    await session.commit()  # before the answer: what is acknowledged is durable
    return travel


@router.get("/persons/{person_id}/travels", summary="Travels, newest first (in scope)")
async def list_travels(
    person_id: uuid.UUID,
    session: Session,
    caller: CallerDep,
    open_only: Annotated[bool, Query(alias="open", description="Only trips not yet returned.")] = False,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[TravelOut]:
    return await service.list_travels(session, caller, person_id, open_only=open_only, cursor=cursor, limit=limit)
