"""Due-test routes. Each returns its contract model; the lists are written in one pass with orjson
(``safework_common.answers``), the person's answer by FastAPI."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime

from safework_common.answers import orjson_answer
from safework_common.contract.due import EnterpriseDueOut, PersonDueOut, ProvinceDueOut, ProvincePeopleOut
from safework_common.contract.passes import PassVerdictOut
from safework_common.gcpause import gc_paused
from safework_common.internal_auth import Caller
from safework_common.metrics import count_verdict, policy_in_force
from safework_common.timezone import now_local
from safework_scheduler.deps import CallerDep, Policies, Session
from safework_scheduler.due import service

router = APIRouter(tags=["due tests"])

AsOf = Annotated[
    AwareDatetime | None,
    Query(description="The instant to compute at, with its time zone (default: now)."),
]
ZoneFilter = Annotated[Literal["KCN", "CCN", "OUTSIDE"] | None, Query()]
DistrictFilter = Annotated[str | None, Query(max_length=64)]


@router.get("/persons/{person_id}/due", response_model=PersonDueOut, summary="A person's next test")
async def person_due(
    person_id: uuid.UUID, session: Session, policies: Policies, caller: CallerDep, as_of: AsOf = None
) -> PersonDueOut:
    """When the person's next test is due, which kind, the reasons, whether it is overdue and
    whether the person is cleared to work. Authority (district: its own), enterprise (its
    roster), worker (self)."""
    answer = await service.person_due(session, policies, caller, person_id, as_of or now_local())
    count_verdict(answer.cleared_to_work, answer.not_cleared)
    if as_of is None:
        policy_in_force(answer.policy_version)
    return answer


# The gateway's one read when it issues a gate pass (issue 17): served ahead of the routers
# (``safework_common.app.upstream_route``; see ``app.create_app``), on the primary's sessions.
PASS_VERDICT_PATH = "/persons/{person_id}/pass-verdict"  # noqa: S105 - a path, not a password
PASS_VERDICT_OPERATION: dict[str, Any] = {
    "summary": "What issuing a gate pass needs of one person, in one answer (in scope; internal)",
    "description": (
        "The verdict of `GET /v1/persons/{person_id}/due` (cleared to work, and why not), the employer and "
        "status, the masked name and the end of the next due window. Read from the primary "
        "(`SCHEDULER_PRIMARY_DATABASE_URL`), never a replica: a pass must not be signed on a lagging verdict "
        '(RELIABILITY.md, "Replicas and lag"). No national ID, no results.'
    ),
    "response_model": PassVerdictOut,
    "tags": ["due tests"],
}


async def pass_verdict(person_id: uuid.UUID, request: Request, as_of: AsOf = None) -> Response:
    # No docstring: it would become the operation's description. The caller is the one the
    # route's dependency checked, the sessions and policies the app's (no dependencies of their
    # own: each costs FastAPI a resolution per request); the model serialised once.
    caller: Caller = request.state.caller
    state = request.app.state
    async with state.primary_sessionmaker() as session, session.begin():
        answer = await service.pass_verdict(session, state.policies, caller, person_id, as_of or now_local())
    count_verdict(answer.cleared_to_work, answer.not_cleared)
    if as_of is None:
        policy_in_force(answer.policy_version)
    return Response(answer.model_dump_json(), media_type="application/json")


@router.get("/enterprises/{enterprise_id}/due", response_model=EnterpriseDueOut, summary="An enterprise's due list")
@orjson_answer(paused=gc_paused)
async def enterprise_due(
    enterprise_id: uuid.UUID,
    session: Session,
    policies: Policies,
    caller: CallerDep,
    day: Annotated[date | None, Query(alias="date", description="Local date (default: the date of as_of).")] = None,
    as_of: AsOf = None,
) -> EnterpriseDueOut:
    """Everyone due a test by the end of the local date, and everyone not cleared to work,
    with reasons: the list the enterprise acts on, as known at ``as_of`` (default now; a past
    day is judged at its end, a future one at its start). Authority (district: its own),
    enterprise (its own)."""
    return await service.enterprise_due(session, policies, caller, enterprise_id, day, as_of or now_local())


@router.get("/due", response_model=ProvinceDueOut, summary="Due and overdue counts by enterprise")
@orjson_answer(paused=gc_paused)
async def province_due(
    session: Session,
    policies: Policies,
    caller: CallerDep,
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
) -> ProvinceDueOut:
    """Province- or district-wide: people due today, overdue and not cleared, by enterprise.
    Authority only (a district authority sees its district)."""
    return await service.province_due(session, policies, caller, as_of or now_local(), district, zone_type)


@router.get("/due/people", response_model=ProvincePeopleOut, summary="Due or overdue people across enterprises")
@orjson_answer(paused=gc_paused)
async def province_people(
    session: Session,
    policies: Policies,
    caller: CallerDep,
    as_of: AsOf = None,
    district: DistrictFilter = None,
    zone_type: ZoneFilter = None,
    status: Annotated[Literal["due", "overdue", "not_cleared"], Query()] = "overdue",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ProvincePeopleOut:
    """Province- or district-wide lists of people due today, overdue or not cleared, by
    enterprise then person, in keyset pages. Authority only."""
    return await service.province_people(
        session, policies, caller, as_of or now_local(), district, zone_type, status, cursor, limit
    )
