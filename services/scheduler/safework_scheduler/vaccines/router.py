"""``/v1/vaccines``: the priority queue and the capacity plan. Authority (province or its
district), enterprise (own people) and system; labs and workers get 403 ``role_not_allowed``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from safework_common.contract.vaccine_queue import PlanRequest, PlanResponse, QueuePage
from safework_common.paging import Limit
from safework_common.scope import Reach, caller_reach
from safework_scheduler.deps import CallerDep, Policies, Session
from safework_scheduler.vaccines import service

router = APIRouter(prefix="/vaccines", tags=["vaccines"])


async def reader_scope(caller: CallerDep) -> Reach:
    """Resolved before the parameters are checked, so a lab or worker gets 403, not 422."""
    return caller_reach(caller, "authority", "enterprise")


Reader = Annotated[Reach, Depends(reader_scope)]


@router.get("/queue", response_model=QueuePage, summary="People eligible for their next dose, in priority order")
async def get_queue(
    session: Session,
    scope: Reader,
    policies: Policies,
    as_of: Annotated[AwareDatetime | None, Query(description="An instant with a time zone; default now.")] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    enterprise_id: Annotated[uuid.UUID | None, Query()] = None,
    tier: Annotated[int | None, Query(ge=1, le=100)] = None,
    dose: Annotated[int | None, Query(ge=1, le=10)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 100,
) -> QueuePage:
    """Ordered by tier (parks and freight drivers, clusters, the rest), then dose per the
    policy's ``dose2_ranking`` (default: a started series first), then the date the person became
    eligible, then person id. Keyset pagination: pass ``next_cursor`` back as ``cursor``."""
    return await service.queue(
        session,
        policies,
        scope,
        as_of=as_of,
        district=district,
        enterprise_id=enterprise_id,
        tier=tier,
        dose=dose,
        cursor=cursor,
        limit=limit,
    )


@router.post("/plan", response_model=PlanResponse, summary="Capacity plan against the dose deadlines")
async def post_plan(session: Session, scope: Reader, policies: Policies, body: PlanRequest) -> PlanResponse:
    """Simulates the daily capacity day by day in queue order and returns, per tier and dose,
    the projected completion date against its deadline, and the smallest capacity meeting both
    deadlines."""
    return await service.plan(session, policies, scope, body)
