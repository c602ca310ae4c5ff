"""``/v1/districts/{district}/ratios``: the sampling ratios a district's steering committee sets."""

from __future__ import annotations

from fastapi import APIRouter

from safework_common.contract.districts import RatioIn, RatioOut, RatiosOut
from safework_registry.deps import CallerDep, Session
from safework_registry.districts import service

router = APIRouter(tags=["districts"])


@router.post(
    "/districts/{district}/ratios",
    status_code=201,
    response_model=RatioOut,
    summary="Set a district's sampling ratio from a date (authority: a district its own, the province any)",
    description="seeds/000 §2.2: the district steering committee decides the random sampling ratio of "
    "enterprises under 20 workers 'trong từng giai đoạn' (for each period); the same for the random tests of "
    "boarding-house renters and owners (§2.3). Kept, not overwritten: a new setting from a later date, or a "
    "correction from the same date, is a new row; the scheduler reads the one in force with `as_of`.",
)
async def set_ratio(district: str, body: RatioIn, session: Session, caller: CallerDep) -> RatioOut:
    return await service.set_ratio(session, caller, district, body)


@router.get(
    "/districts/{district}/ratios",
    response_model=RatiosOut,
    summary="A district's sampling ratios, newest first (authority: a district its own, the province any)",
)
async def list_ratios(district: str, session: Session, caller: CallerDep) -> RatiosOut:
    return await service.list_ratios(session, caller, district)
