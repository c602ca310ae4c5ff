"""Outbreak routes (authority): cases, tracing, the trace view, a district's picture."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from pydantic import AwareDatetime

from safework_common.contract.outbreak import (
    CaseClose,
    CaseCreate,
    CaseListItem,
    CaseOut,
    ContactPage,
    DeclaredContacts,
    DistrictOutbreakOut,
    Link,
    TraceOut,
)
from safework_common.paging import Limit
from safework_registry.deps import CallerDep, Session
from safework_registry.outbreak import service
from safework_registry.pagination import Page

router = APIRouter(tags=["outbreak"])
Cursor = Annotated[str | None, Query(max_length=512)]


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseOut,
    summary="Record a confirmed case (F0) and trace its contacts at once",
    description="An individual positive PCR makes a case; another positive needs `confirmed: true` "
    "(422 `case_needs_confirmation`). 409 `case_exists` for the same positive twice.",
)
async def create_case(session: Session, caller: CallerDep, body: CaseCreate) -> CaseOut:
    return await service.create_case(session, caller, body)


@router.get("/cases", response_model=Page[CaseListItem], summary="Cases in scope, newest specimen first")
async def list_cases(
    session: Session,
    caller: CallerDep,
    district: str | None = None,
    status: Literal["open", "closed"] | None = None,
    as_of: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CaseListItem]:
    return await service.list_cases(
        session, caller, district=district, status=status, as_of=as_of, cursor=cursor, limit=limit
    )


@router.get("/cases/{case_id}", response_model=TraceOut, summary="A case's trace: contacts by link, enterprise, venue")
async def get_case(
    session: Session, caller: CallerDep, case_id: uuid.UUID, as_of: AwareDatetime | None = None
) -> TraceOut:
    return await service.trace_view(session, caller, case_id, as_of)


@router.get("/cases/{case_id}/contacts", response_model=ContactPage, summary="A case's contacts (ring 1, or ring 2)")
async def list_contacts(
    session: Session,
    caller: CallerDep,
    case_id: uuid.UUID,
    ring: Annotated[int, Query(ge=1, le=2)] = 1,
    link: Link | None = None,
    enterprise_id: uuid.UUID | None = None,
    as_of: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ContactPage:
    return await service.list_contacts(
        session, caller, case_id, as_of=as_of, ring=ring, link=link, enterprise_id=enterprise_id, cursor=cursor,
        limit=limit,
    )  # fmt: skip


@router.post("/cases/{case_id}/contacts", response_model=CaseOut, summary="Declare contacts of a case (by interview)")
async def declare_contacts(session: Session, caller: CallerDep, case_id: uuid.UUID, body: DeclaredContacts) -> CaseOut:
    return await service.declare_contacts(session, caller, case_id, body)


@router.post("/cases/{case_id}/trace", response_model=CaseOut, summary="Trace again (late check-ins)")
async def retrace(session: Session, caller: CallerDep, case_id: uuid.UUID) -> CaseOut:
    return await service.retrace(session, caller, case_id)


@router.post("/cases/{case_id}/close", response_model=CaseOut, summary="Close a case")
async def close_case(
    session: Session, caller: CallerDep, case_id: uuid.UUID, body: Annotated[CaseClose, Body()]
) -> CaseOut:
    return await service.close_case(session, caller, case_id, body.at)


@router.get(
    "/districts/{district}/outbreak",
    response_model=DistrictOutbreakOut,
    summary="A district's open cases, contacts, and the enterprises that have one",
)
async def district_outbreak(
    session: Session,
    caller: CallerDep,
    district: str,
    as_of: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DistrictOutbreakOut:
    return await service.district_view(session, caller, district, as_of=as_of, cursor=cursor, limit=limit)
