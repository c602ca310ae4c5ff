"""A district's sampling ratios: its steering committee sets them (seeds/000 §2.2: "giao Ban chỉ
đạo phòng, chống dịch cấp huyện quyết định tỷ lệ"), the province authority may set any district's,
no district another's (404). Every setting is kept and audited; the scheduler reads the one in
force with ``as_of``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, column, func, insert, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.districts import RatioIn, RatioOut, RatiosOut
from safework_common.errors import Unprocessable
from safework_common.internal_auth import Caller
from safework_common.scope import require_in_district, require_role
from safework_registry.audit import service as audit
from safework_registry.districts.models import DistrictRatio

# The scheduler's policy versions (loaded by `safework policy load`): a ratio before the first
# one would apply to no rule.
_POLICY = table("scheduler_policy", column("effective_from", Date))


async def set_ratio(session: AsyncSession, caller: Caller, district: str, body: RatioIn) -> RatioOut:
    require_role(caller, "authority")
    district = require_in_district(caller, district, field="path.district")
    first = await session.scalar(select(func.min(_POLICY.c.effective_from)))
    if first is not None and body.effective_from < first:
        raise Unprocessable(
            f"No policy is in force before {first.isoformat()}: a ratio from {body.effective_from.isoformat()} "
            "would apply to no rule.",
            code="before_first_policy",
            field="body.effective_from",
        )
    row = (
        await session.execute(
            insert(DistrictRatio)
            .values(district=district, set_by=caller.subject, **body.model_dump())
            .returning(DistrictRatio)
        )
    ).scalar_one()
    details: dict[str, Any] = {
        "district": district,
        "kind": body.kind,
        "ratio": str(body.ratio),
        "effective_from": body.effective_from.isoformat(),
    }
    await audit.record(session, caller, "create", "district_ratio", row.id, details)
    return RatioOut.model_validate(row)


async def list_ratios(session: AsyncSession, caller: Caller, district: str) -> RatiosOut:
    require_role(caller, "authority")
    district = require_in_district(caller, district, field="path.district")
    rows = (
        await session.execute(
            select(DistrictRatio)
            .where(DistrictRatio.district == district)
            .order_by(DistrictRatio.effective_from.desc(), DistrictRatio.set_at.desc())
        )
    ).scalars()
    return RatiosOut(district=district, items=[RatioOut.model_validate(r) for r in rows])
