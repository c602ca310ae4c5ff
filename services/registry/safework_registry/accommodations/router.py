"""``/v1/accommodations``: boarding houses and dormitories (authority, enterprise)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from safework_common.contract.accommodations import (
    ACCOMMODATION_EXAMPLE,
    AccommodationCreate,
    AccommodationOut,
    AccommodationUpdate,
    ManagerIn,
    ManagerOut,
    ManagersOut,
)
from safework_common.geo import District
from safework_common.paging import Limit
from safework_registry.accommodations import service
from safework_registry.deps import CallerDep, Session
from safework_registry.pagination import Page

router = APIRouter(tags=["accommodations"])

CREATE_EXAMPLES: dict[str, Any] = {
    "boarding_house": {"summary": "A boarding house", "value": ACCOMMODATION_EXAMPLE},
    "dormitory": {
        "summary": "An enterprise's dormitory",
        "value": {
            "name": "Ký túc xá công nhân Đình Trám",
            "address": "KCN Đình Trám, Hồng Thái",
            "district": "Việt Yên",
            "kind": "dormitory",
        },
    },
}


@router.post(
    "/accommodations",
    status_code=201,
    response_model=AccommodationOut,
    summary="Register a boarding house or dormitory",
    description="An enterprise's new site is its own; the authority may leave it unclaimed until a worker is assigned.",
)
async def create_accommodation(
    session: Session,
    caller: CallerDep,
    body: Annotated[AccommodationCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> AccommodationOut:
    return AccommodationOut.model_validate(await service.create_accommodation(session, caller, body))


@router.get(
    "/accommodations",
    response_model=Page[AccommodationOut],
    summary="List sites in scope",
    description="An enterprise sees its own sites and unclaimed ones. Ordered by name; keyset `cursor`.",
)
async def list_accommodations(
    session: Session,
    caller: CallerDep,
    district: Annotated[District | None, Query()] = None,
    enterprise_id: uuid.UUID | None = None,
    unclaimed: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 50,
) -> Page[AccommodationOut]:
    rows, next_cursor = await service.list_accommodations(
        session,
        caller,
        district=district,
        enterprise_id=enterprise_id,
        unclaimed=unclaimed,
        cursor=cursor,
        limit=limit,
    )
    return Page[AccommodationOut](items=[AccommodationOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/accommodations/{accommodation_id}", response_model=AccommodationOut, summary="Read one site")
async def get_accommodation(session: Session, caller: CallerDep, accommodation_id: uuid.UUID) -> AccommodationOut:
    return AccommodationOut.model_validate(await service.accommodation_in_scope(session, caller, accommodation_id))


@router.patch(
    "/accommodations/{accommodation_id}",
    response_model=AccommodationOut,
    summary="Update a site",
    description="Reassigning `enterprise_id` (authority only) is 409 `accommodation_other_enterprise` while "
    "active workers of another enterprise live there.",
)
async def update_accommodation(
    session: Session,
    caller: CallerDep,
    accommodation_id: uuid.UUID,
    body: Annotated[
        AccommodationUpdate,
        Body(openapi_examples={"owner": {"summary": "New owner", "value": {"owner_name": "Hoàng Thị Lan"}}}),
    ],
) -> AccommodationOut:
    return AccommodationOut.model_validate(await service.update_accommodation(session, caller, accommodation_id, body))


@router.post(
    "/accommodations/{accommodation_id}/managers",
    status_code=201,
    response_model=ManagerOut,
    summary="Link an owner or manager to a site (authority)",
    description="seeds/000 §2.3: the random tests are drawn from the renters **and** the owners and managers "
    "('chủ quản lý') of boarding houses and dormitories; they are people of the registry, linked here.",
)
async def add_manager(accommodation_id: uuid.UUID, body: ManagerIn, session: Session, caller: CallerDep) -> ManagerOut:
    return await service.add_manager(session, caller, accommodation_id, body)


@router.get(
    "/accommodations/{accommodation_id}/managers",
    response_model=ManagersOut,
    summary="A site's owners and managers (authority)",
)
async def list_managers(accommodation_id: uuid.UUID, session: Session, caller: CallerDep) -> ManagersOut:
    return await service.list_managers(session, caller, accommodation_id)


@router.delete(
    "/accommodations/{accommodation_id}/managers/{person_id}",
    status_code=204,
    summary="Unlink an owner or manager (authority)",
)
async def remove_manager(
    accommodation_id: uuid.UUID, person_id: uuid.UUID, session: Session, caller: CallerDep
) -> None:
    await service.remove_manager(session, caller, accommodation_id, person_id)
