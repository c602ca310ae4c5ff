"""A district's boarding-house sample for a day: who, drawn how, at which ratio."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.lodging import BoardingHouseSampleOut
from safework_common.cursor import decode_keys, encode_cursor
from safework_common.errors import NotFound
from safework_common.internal_auth import Caller
from safework_common.scope import AUTHORITY, district_filter, require_role
from safework_scheduler.due import repository as due_repo
from safework_scheduler.due.rules import DistrictRatio
from safework_scheduler.due.service import day_as_of, district_ratio_out
from safework_scheduler.lodging import repository as repo
from safework_scheduler.lodging import rules
from safework_scheduler.policy.repository import PolicyStore


async def boarding_house_sample(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    district: str,
    day: date,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> BoardingHouseSampleOut:
    """``GET /v1/districts/{district}/boarding-house-sample?date=&as_of=``: authority (a district:
    its own; another is 404). The rules in force when the day is judged (``day_as_of``: the end
    of a past day, ``now`` for today, the start of a future day)."""
    require_role(caller, AUTHORITY)
    own = district_filter(caller, district, field="path.district")
    assert own is not None  # a district was named
    after = decode_keys(cursor, uuid.UUID)
    as_of: datetime = day_as_of(day, now)
    policy = await store.at(session, as_of)
    rule = policy.testing.boarding_house_sample
    if rule is None:
        raise NotFound(
            f"The rules in force on {day.isoformat()} ({policy.version}) have no boarding-house sample (seeds/000 §2.3 "
            "comes with 11 September 2021).",
            code="no_boarding_house_sample",
            field="query.date",
        )
    ratio = (await due_repo.district_ratios(session, "boarding_house", day)).get(own) or DistrictRatio(
        rule.default_ratio, None, None
    )
    people = await repo.population(session, own)
    round_ = rules.round_of(day, rule.round_days)
    drawn = sorted(rules.draw(own, people, ratio.ratio, round_.index))
    page = [pid for pid in drawn if after is None or pid > after[0]][: limit + 1]
    more = len(page) > limit
    page = page[:limit]
    return BoardingHouseSampleOut.model_validate(
        {
            "district": own,
            "date": day,
            "policy_version": policy.version,
            "round": {"index": round_.index, "starts_on": round_.starts_on, "ends_on": round_.ends_on},
            "district_ratio": district_ratio_out(own, ratio),
            "population": len(people),
            "sample_size": len(drawn),
            "items": [people[pid]._asdict() for pid in page],
            "next_cursor": encode_cursor([page[-1]]) if more else None,
        }
    )
