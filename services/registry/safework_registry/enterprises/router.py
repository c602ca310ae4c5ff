"""``/v1/enterprises``: authority registers and updates; an enterprise reads its own."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from safework_common.contract.enterprises import (
    ENTERPRISE_EXAMPLE,
    EnterpriseCreate,
    EnterpriseOut,
    EnterpriseStatusChange,
    EnterpriseUpdate,
    Industry,
    OperatingStatus,
    ZoneType,
)
from safework_common.geo import District
from safework_common.paging import Limit
from safework_registry.deps import CallerDep, Session
from safework_registry.enterprises import service
from safework_registry.pagination import Page

router = APIRouter(tags=["enterprises"])

CREATE_EXAMPLES: dict[str, Any] = {
    "park": {"summary": "A garment maker in a park", "value": ENTERPRISE_EXAMPLE},
    "outside": {
        "summary": "A small shuttlecock maker outside the zones (a branch)",
        "value": {
            "tax_code": "2400654321-001",
            "name": "Cơ sở sản xuất cầu lông Tân Yên",
            "district": "Tân Yên",
            "zone_type": "OUTSIDE",
            "industry": "shuttlecock",
            "headcount": 14,
        },
    },
}
STATUS_EXAMPLES: dict[str, Any] = {
    "suspend": {
        "summary": "Suspend after a case",
        "value": {"status": "suspended", "reason": "F0 case in line 3", "at": "2021-05-14T18:00:00+07:00"},
    },
    "clear": {
        "summary": "Clear to resume",
        "value": {
            "status": "cleared",
            "reason": "All workers tested negative twice",
            "at": "2021-06-10T08:00:00+07:00",
        },
    },
}


@router.post(
    "/enterprises",
    status_code=201,
    response_model=EnterpriseOut,
    summary="Register an enterprise (authority)",
    description="Tax code unique (409 `tax_code_taken`); a district authority registers only in its district.",
)
async def create_enterprise(
    session: Session,
    caller: CallerDep,
    body: Annotated[EnterpriseCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> EnterpriseOut:
    return EnterpriseOut.model_validate(await service.create_enterprise(session, caller, body))


@router.get(
    "/enterprises",
    response_model=Page[EnterpriseOut],
    summary="List enterprises in scope",
    description="Ordered by tax code; keyset pagination with `cursor` = the previous page's `next_cursor`.",
)
async def list_enterprises(
    session: Session,
    caller: CallerDep,
    district: Annotated[District | None, Query()] = None,
    zone_type: ZoneType | None = None,
    operating_status: OperatingStatus | None = None,
    industry: Industry | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 50,
) -> Page[EnterpriseOut]:
    rows, next_cursor = await service.list_enterprises(
        session,
        caller,
        district=district,
        zone_type=zone_type,
        operating_status=operating_status,
        industry=industry,
        cursor=cursor,
        limit=limit,
    )
    return Page[EnterpriseOut](items=[EnterpriseOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/enterprises/{enterprise_id}", response_model=EnterpriseOut, summary="Read one enterprise")
async def get_enterprise(session: Session, caller: CallerDep, enterprise_id: uuid.UUID) -> EnterpriseOut:
    return EnterpriseOut.model_validate(await service.enterprise_in_scope(session, caller, enterprise_id))


@router.patch("/enterprises/{enterprise_id}", response_model=EnterpriseOut, summary="Update an enterprise (authority)")
async def update_enterprise(
    session: Session,
    caller: CallerDep,
    enterprise_id: uuid.UUID,
    body: Annotated[
        EnterpriseUpdate,
        Body(openapi_examples={"headcount": {"summary": "New headcount", "value": {"headcount": 3350}}}),
    ],
) -> EnterpriseOut:
    return EnterpriseOut.model_validate(await service.update_enterprise(session, caller, enterprise_id, body))


@router.post(
    "/enterprises/{enterprise_id}/status",
    response_model=EnterpriseOut,
    summary="Suspend or clear an enterprise (authority)",
    description="Suspending needs a `reason`; `at` defaults to now and may not be in the future.",
)
async def change_status(
    session: Session,
    caller: CallerDep,
    enterprise_id: uuid.UUID,
    body: Annotated[EnterpriseStatusChange, Body(openapi_examples=STATUS_EXAMPLES)],
) -> EnterpriseOut:
    return EnterpriseOut.model_validate(await service.change_status(session, caller, enterprise_id, body))
