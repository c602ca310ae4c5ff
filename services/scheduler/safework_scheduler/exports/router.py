"""Exports (issue 16): the due lists, violations, coverage, the vaccine queue and the plan as
streamed CSV or XLSX, with the JSON routes' filters, ``as_of``, roles and tenant scope.

Every check runs before the first byte (a bad filter, another tenant, no policy in force: the
error envelope, nothing written); the rows are then streamed from a session of their own."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from starlette.responses import StreamingResponse

from safework_common.contract.vaccine_queue import PlanRequest
from safework_common.export import Format, export_response, from_iterable
from safework_common.timezone import now_local
from safework_scheduler.deps import CallerDep, Policies, Session
from safework_scheduler.due.router import AsOf, DistrictFilter, ZoneFilter
from safework_scheduler.exports import due_rows, service
from safework_scheduler.vaccines import service as vaccines
from safework_scheduler.vaccines.router import Reader

router = APIRouter(tags=["exports"])

FILE_RESPONSE: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "The file, streamed (CSV: UTF-8 with a byte-order mark)",
        "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}
FormatQuery = Annotated[Format, Query(description="csv (default) or xlsx.")]
StatusQuery = Annotated[
    Literal["due", "overdue", "not_cleared", "all"] | None,
    Query(description="As the JSON route, or all: every active person with their verdict."),
]


def _maker(request: Request) -> Any:
    return request.app.state.sessionmaker


@router.get(
    "/due/people/export",
    response_class=StreamingResponse,
    responses=FILE_RESPONSE,
    summary="The province's or a district's due list, whole",
)
async def due_people_export(
    request: Request,
    session: Session,
    policies: Policies,
    caller: CallerDep,
    format: FormatQuery = "csv",
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
    status: StatusQuery = None,
) -> StreamingResponse:
    """``GET /v1/due/people`` (authority only; a district authority its district), every page at
    once: by enterprise then person, one enterprise computed at a time."""
    export = await service.due_people(
        session, policies, caller, as_of or now_local(), district, zone_type, status or "overdue"
    )
    return export_response(format, "due-people", due_rows.DUE_PEOPLE_COLUMNS, export.encoded(_maker(request)))


@router.get(
    "/enterprises/{enterprise_id}/due/export",
    response_class=StreamingResponse,
    responses=FILE_RESPONSE,
    summary="An enterprise's due list, whole",
)
async def enterprise_due_export(
    enterprise_id: uuid.UUID,
    request: Request,
    session: Session,
    policies: Policies,
    caller: CallerDep,
    format: FormatQuery = "csv",
    day: Annotated[date | None, Query(alias="date", description="Local date (default: the date of as_of).")] = None,
    as_of: AsOf = None,
    status: StatusQuery = None,
) -> StreamingResponse:
    """``GET /v1/enterprises/{id}/due`` (authority, the enterprise itself): the people due by the
    day's end or not cleared, most urgent first; with ``status``, that status's people (all:
    everyone) by employee code."""
    export = await service.enterprise_due(session, policies, caller, enterprise_id, day, as_of or now_local(), status)
    return export_response(format, "enterprise-due", due_rows.DUE_PEOPLE_COLUMNS, export.rows(_maker(request)))


@router.get(
    "/compliance/violations/export",
    response_class=StreamingResponse,
    responses=FILE_RESPONSE,
    summary="Enterprises in violation (or warning), whole",
)
async def violations_export(
    session: Session,
    policies: Policies,
    caller: CallerDep,
    format: FormatQuery = "csv",
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
    status: Annotated[Literal["violation", "warning"], Query()] = "violation",
) -> StreamingResponse:
    """``GET /v1/compliance/violations``, every page. Authority only."""
    rows = await service.violations(session, policies, caller, as_of or now_local(), district, zone_type, status)
    return export_response(format, "violations", service.VIOLATION_COLUMNS, from_iterable(rows))


@router.get(
    "/coverage/export",
    response_class=StreamingResponse,
    responses=FILE_RESPONSE,
    summary="Testing and vaccine coverage by enterprise, district and zone",
)
async def coverage_export(
    session: Session,
    policies: Policies,
    caller: CallerDep,
    format: FormatQuery = "csv",
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
    by: Annotated[
        Literal["enterprise", "district", "zone", "district_zone"],
        Query(description="One row per enterprise (default), or summed by district, zone type, or both."),
    ] = "enterprise",
) -> StreamingResponse:
    """``GET /v1/due``'s counts with workers on the app and doses 1 and 2, and their shares of the
    active workers. Authority only."""
    rows = await service.coverage(session, policies, caller, as_of or now_local(), district, zone_type, by)
    return export_response(format, "coverage", service.COVERAGE_COLUMNS, from_iterable(rows))


@router.get(
    "/vaccines/queue/export",
    response_class=StreamingResponse,
    responses=FILE_RESPONSE,
    summary="The vaccine priority queue, whole",
)
async def queue_export(
    request: Request,
    session: Session,
    scope: Reader,
    policies: Policies,
    format: FormatQuery = "csv",
    as_of: Annotated[AwareDatetime | None, Query(description="An instant with a time zone; default now.")] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    enterprise_id: Annotated[uuid.UUID | None, Query()] = None,
    tier: Annotated[int | None, Query(ge=1, le=100)] = None,
    dose: Annotated[int | None, Query(ge=1, le=10)] = None,
) -> StreamingResponse:
    """``GET /v1/vaccines/queue`` in priority order, every page, through a server-side cursor."""
    export = await service.queue(
        session,
        policies,
        scope,
        as_of=as_of or now_local(),
        district=district,
        enterprise_id=enterprise_id,
        tier=tier,
        dose=dose,
    )
    return export_response(format, "vaccine-queue", service.QUEUE_COLUMNS, export.rows(_maker(request)))


@router.post(
    "/vaccines/plan/export",
    response_class=StreamingResponse,
    responses=FILE_RESPONSE,
    summary="A capacity plan's outcome as rows",
)
async def plan_export(
    session: Session, scope: Reader, policies: Policies, body: PlanRequest, format: FormatQuery = "csv"
) -> StreamingResponse:
    """``POST /v1/vaccines/plan``'s groups (per tier and dose) and totals (per dose) as rows."""
    plan = await vaccines.plan(session, policies, scope, body)
    return export_response(format, "vaccine-plan", service.PLAN_COLUMNS, from_iterable(service.plan_rows(plan)))
