"""Compliance routes (the gateway serves an enterprise's with an ETag)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from safework_common.answers import orjson_answer
from safework_common.contract.compliance import ComplianceOut, ViolationsOut
from safework_common.gcpause import gc_paused
from safework_common.timezone import now_local
from safework_scheduler.compliance import service
from safework_scheduler.deps import CallerDep, Policies, Session
from safework_scheduler.due.router import AsOf, DistrictFilter, ZoneFilter

router = APIRouter(tags=["compliance"])


@router.get(
    "/enterprises/{enterprise_id}/compliance", response_model=ComplianceOut, summary="An enterprise's compliance"
)
@orjson_answer(paused=gc_paused)
async def enterprise_compliance(
    enterprise_id: uuid.UUID, session: Session, policies: Policies, caller: CallerDep, as_of: AsOf = None
) -> ComplianceOut:
    """Compliant, warning or violation, with reason codes: the single app installed and updated,
    workers on the app, overdue tests, doses against the deadlines, operating status.
    Authority (district: its own), enterprise (its own)."""
    return await service.enterprise_compliance(session, policies, caller, enterprise_id, as_of or now_local())


@router.get("/compliance/violations", response_model=ViolationsOut, summary="Enterprises in violation")
@orjson_answer(paused=gc_paused)
async def violations(
    session: Session,
    policies: Policies,
    caller: CallerDep,
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
    status: Annotated[Literal["violation", "warning"], Query()] = "violation",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ViolationsOut:
    """Enterprises whose status is ``status`` (default: in violation), by id. Authority only
    (a district authority sees its district)."""
    return await service.violations(
        session, policies, caller, as_of or now_local(), district, zone_type, status, cursor, limit
    )
