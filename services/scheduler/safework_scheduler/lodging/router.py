"""``/v1/districts/{district}/boarding-house-sample``: the district's random tests (seeds/000 §2.3)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from safework_common.contract.lodging import BoardingHouseSampleOut
from safework_common.paging import Limit
from safework_common.timezone import local_date, now_local
from safework_scheduler.deps import CallerDep, Policies, Session
from safework_scheduler.lodging import service

router = APIRouter(tags=["boarding houses"])


@router.get(
    "/districts/{district}/boarding-house-sample",
    response_model=BoardingHouseSampleOut,
    summary="A district's random sample of boarding-house renters and owners for a day",
    description="seeds/000 §2.3: 'xét nghiệm ngẫu nhiên đối với công nhân, người lao động, người làm thuê... đang ở "
    "trọ và chủ quản lý các khu nhà trọ, ký túc xá công nhân'. The round's sample, drawn reproducibly from the "
    "district's active renters and its sites' owners and managers, at the ratio the district set (or the policy's "
    "default, 'not in the source'); everyone is drawn once before anyone is drawn again. Authority only (a "
    "district authority: its own district).",
)
async def boarding_house_sample(
    district: str,
    session: Session,
    policies: Policies,
    caller: CallerDep,
    day: Annotated[date | None, Query(alias="date", description="Local date (default: the date of as_of).")] = None,
    as_of: Annotated[
        AwareDatetime | None,
        Query(
            description="The instant the rules are read at, with its time zone (default: now; a past date is "
            "judged at its end, a future one at its start)."
        ),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 100,
) -> BoardingHouseSampleOut:
    now = as_of or now_local()
    return await service.boarding_house_sample(
        session, policies, caller, district, day or local_date(now), now, cursor, limit
    )
