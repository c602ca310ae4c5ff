"""``/v1/labs``: licensed testing units (province authority writes; authorities read; a lab
reads itself)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from safework_common.contract.labs import LAB_EXAMPLE, LabCreate, LabOut, LabUpdate
from safework_common.paging import Limit
from safework_registry.deps import CallerDep, Session
from safework_registry.labs import service
from safework_registry.pagination import Page

router = APIRouter(tags=["labs"])

CREATE_EXAMPLES: dict[str, Any] = {"cdc": {"summary": "The provincial CDC lab", "value": LAB_EXAMPLE}}


@router.post(
    "/labs",
    status_code=201,
    response_model=LabOut,
    summary="License a lab (province authority)",
    description="409 `licence_code_taken` if the licence code is in use.",
)
async def create_lab(
    session: Session, caller: CallerDep, body: Annotated[LabCreate, Body(openapi_examples=CREATE_EXAMPLES)]
) -> LabOut:
    return LabOut.model_validate(await service.create_lab(session, caller, body))


@router.get("/labs", response_model=Page[LabOut], summary="List labs (authority)")
async def list_labs(
    session: Session,
    caller: CallerDep,
    active: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 50,
) -> Page[LabOut]:
    rows, next_cursor = await service.list_labs(session, caller, active=active, cursor=cursor, limit=limit)
    return Page[LabOut](items=[LabOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/labs/{lab_id}", response_model=LabOut, summary="Read one lab (authority; a lab: itself)")
async def get_lab(session: Session, caller: CallerDep, lab_id: uuid.UUID) -> LabOut:
    return LabOut.model_validate(await service.lab_in_scope(session, caller, lab_id))


@router.patch("/labs/{lab_id}", response_model=LabOut, summary="Update a lab (province authority)")
async def update_lab(
    session: Session,
    caller: CallerDep,
    lab_id: uuid.UUID,
    body: Annotated[
        LabUpdate, Body(openapi_examples={"suspend": {"summary": "Deactivate", "value": {"active": False}}})
    ],
) -> LabOut:
    return LabOut.model_validate(await service.update_lab(session, caller, lab_id, body))
