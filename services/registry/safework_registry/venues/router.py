"""Venue CRUD: ``/v1/enterprises/{id}/venues`` and ``/v1/venues/{id}`` (authority, enterprise:
own). Check-ins live in ``venues/checkins.py``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from safework_common.contract.venues import VENUE_EXAMPLE, VenueCreate, VenueKind, VenueOut, VenueUpdate
from safework_common.paging import Limit
from safework_registry.deps import CallerDep, Session
from safework_registry.pagination import Page
from safework_registry.venues import service

router = APIRouter(tags=["venues"])

CREATE_EXAMPLES: dict[str, Any] = {
    "gate": {"summary": "A gate, QR value generated", "value": VENUE_EXAMPLE},
    "bus": {
        "summary": "A shuttle bus with a printed QR value",
        "value": {"name": "Xe đưa đón tuyến Lục Nam", "kind": "shuttle_bus", "qr_code": "SW-BUS-LN-01"},
    },
}


@router.post(
    "/enterprises/{enterprise_id}/venues",
    status_code=201,
    response_model=VenueOut,
    summary="Add a QR check-in venue",
    description="409 `qr_code_taken` if the QR value is in use.",
)
async def create_venue(
    session: Session,
    caller: CallerDep,
    enterprise_id: uuid.UUID,
    body: Annotated[VenueCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> VenueOut:
    return VenueOut.model_validate(await service.create_venue(session, caller, enterprise_id, body))


@router.get(
    "/enterprises/{enterprise_id}/venues",
    response_model=Page[VenueOut],
    summary="List an enterprise's venues",
    description="Ordered by name; keyset `cursor`.",
)
async def list_venues(
    session: Session,
    caller: CallerDep,
    enterprise_id: uuid.UUID,
    kind: VenueKind | None = None,
    active: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 50,
) -> Page[VenueOut]:
    rows, next_cursor = await service.list_venues(
        session, caller, enterprise_id, kind=kind, active=active, cursor=cursor, limit=limit
    )
    return Page[VenueOut](items=[VenueOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/venues/{venue_id}", response_model=VenueOut, summary="Read one venue")
async def get_venue(session: Session, caller: CallerDep, venue_id: uuid.UUID) -> VenueOut:
    return VenueOut.model_validate(await service.venue_in_scope(session, caller, venue_id))


@router.patch("/venues/{venue_id}", response_model=VenueOut, summary="Update a venue")
async def update_venue(
    session: Session,
    caller: CallerDep,
    venue_id: uuid.UUID,
    body: Annotated[VenueUpdate, Body(openapi_examples={"close": {"summary": "Close it", "value": {"active": False}}})],
) -> VenueOut:
    return VenueOut.model_validate(await service.update_venue(session, caller, venue_id, body))
