"""``/v1/exports/...``: the authority's files (and an enterprise's own due list), CSV or XLSX,
streamed whole with the JSON routes' filters and ``as_of``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import StreamingResponse

from safework_common.scope import Reach, caller_reach
from safework_common.sheets import Format, file_response, file_responses
from safework_common.timezone import now_local
from safework_scheduler.deps import CallerDep, Policies, Session
from safework_scheduler.due.router import AsOf, DistrictFilter, ZoneFilter
from safework_scheduler.exports import service
from safework_scheduler.exports.service import DueStatus, Export
from safework_scheduler.vaccines.schemas import PlanRequest

router = APIRouter(tags=["exports"])

DueStatusQuery = Annotated[
    DueStatus,
    Query(description="`listed` (default): due that day or not cleared, as the due list; or one status; or `all`."),
]


def _maker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


def _send(fmt: Format, export: Export, name: str) -> StreamingResponse:
    return file_response(fmt, export.header, export.rows(), name)


@router.get("/exports/due.{fmt}", summary="Export: the province's due list", responses=file_responses())
async def export_due(
    request: Request,
    fmt: Format,
    session: Session,
    policies: Policies,
    caller: CallerDep,
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
    status: DueStatusQuery = "listed",
) -> StreamingResponse:
    """Every person of ``/v1/due`` with their status, by enterprise: the people behind the
    counts, unpaged. Authority (a district authority: its district)."""
    export = await service.province_due(
        session, _maker(request), policies, caller, as_of or now_local(), district, zone_type, status
    )
    return _send(fmt, export, "due")


@router.get(
    "/enterprises/{enterprise_id}/exports/due.{fmt}",
    summary="Export: an enterprise's due list",
    responses=file_responses(),
)
async def export_enterprise_due(
    request: Request,
    enterprise_id: uuid.UUID,
    fmt: Format,
    session: Session,
    policies: Policies,
    caller: CallerDep,
    day: Annotated[date | None, Query(alias="date", description="Local date (default: today).")] = None,
    status: DueStatusQuery = "listed",
) -> StreamingResponse:
    """The due list of ``/v1/enterprises/{id}/due?date=`` as a file. Enterprise (own), authority."""
    export = await service.enterprise_due(session, _maker(request), policies, caller, enterprise_id, day, status)
    return _send(fmt, export, "enterprise-due")


@router.get("/exports/violations.{fmt}", summary="Export: enterprises in violation", responses=file_responses())
async def export_violations(
    fmt: Format,
    session: Session,
    policies: Policies,
    caller: CallerDep,
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
    status: Annotated[Literal["violation", "warning"], Query()] = "violation",
) -> StreamingResponse:
    """Every enterprise of ``/v1/compliance/violations``. Authority."""
    export = await service.violations(session, policies, caller, as_of or now_local(), district, zone_type, status)
    return _send(fmt, export, "violations")


@router.get("/exports/coverage.{fmt}", summary="Export: coverage by district and zone type", responses=file_responses())
async def export_coverage(
    fmt: Format,
    session: Session,
    policies: Policies,
    caller: CallerDep,
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
) -> StreamingResponse:
    """Per district and zone type: active people, first and second doses, tested in the last 7
    days, due, overdue and not cleared. Authority (a district authority: its district)."""
    export = await service.coverage(session, policies, caller, as_of or now_local(), district, zone_type)
    return _send(fmt, export, "coverage")


async def _authority(caller: CallerDep) -> Reach:
    return caller_reach(caller, "authority")


Authority = Annotated[Reach, Depends(_authority)]


@router.get("/exports/vaccine-queue.{fmt}", summary="Export: the vaccine queue", responses=file_responses())
async def export_vaccine_queue(
    request: Request,
    fmt: Format,
    session: Session,
    scope: Authority,
    policies: Policies,
    as_of: Annotated[AwareDatetime | None, Query(description="An instant with a time zone; default now.")] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    enterprise_id: Annotated[uuid.UUID | None, Query()] = None,
    tier: Annotated[int | None, Query(ge=1, le=100)] = None,
    dose: Annotated[int | None, Query(ge=1, le=10)] = None,
) -> StreamingResponse:
    """The whole queue of ``/v1/vaccines/queue``, in its order. Authority."""
    export = await service.vaccine_queue(
        session,
        _maker(request),
        policies,
        scope,
        as_of=as_of,
        district=district,
        enterprise_id=enterprise_id,
        tier=tier,
        dose=dose,
    )
    return _send(fmt, export, "vaccine-queue")


@router.post("/exports/vaccine-plan.{fmt}", summary="Export: the vaccine capacity plan", responses=file_responses())
async def export_vaccine_plan(
    fmt: Format, session: Session, scope: Authority, policies: Policies, body: PlanRequest
) -> StreamingResponse:
    """The plan of ``POST /v1/vaccines/plan`` (same body), a row per tier and dose. Authority."""
    export = await service.vaccine_plan(session, policies, scope, body)
    return _send(fmt, export, "vaccine-plan")
