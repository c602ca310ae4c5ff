"""The vaccine queue and plan: scope, policy in force, the adapter's bulk reads, the pure rules.
Raises domain errors with stable codes and the offending field; never HTTPException."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.policy_document import PolicyDocument
from safework_common.contract.vaccine_queue import (
    MinimalCapacity,
    PlanCapacity,
    PlanDoseTotal,
    PlanGroup,
    PlanRequest,
    PlanResponse,
    QueueItem,
    QueuePage,
)
from safework_common.cursor import decode_keys, encode_cursor
from safework_common.errors import ErrorDetail, NotFound, Unprocessable
from safework_common.geo import canonical_district
from safework_common.scope import Reach, district_not_found, enterprise_not_found, narrow, unknown_district
from safework_common.timezone import local_date, now_local, start_of_local_day
from safework_scheduler.policy.repository import PolicyStore
from safework_scheduler.vaccines import repository
from safework_scheduler.vaccines.repository import DueQuery
from safework_scheduler.vaccines.rules import (
    Capacity,
    DistrictCapacity,
    GroupOutcome,
    PlanWindow,
    QueueKey,
    TotalCapacity,
    default_end,
    plan_input_problems,
    queue_key,
    tier_table,
    with_dose1_product,
)
from safework_scheduler.vaccines.rules import plan as run_plan


async def _policy(session: AsyncSession, store: PolicyStore, as_of: datetime, field: str) -> PolicyDocument:
    try:
        return await store.at(session, as_of)
    except NotFound as exc:
        raise NotFound(exc.message, code=exc.code, field=field) from None


async def _check_enterprise(session: AsyncSession, scope: Reach, enterprise_id: uuid.UUID) -> None:
    """An enterprise filter must name an enterprise the caller can see (404 otherwise)."""
    district = await repository.enterprise_district(session, enterprise_id)
    if district is None or (scope.district is not None and district != scope.district):
        raise enterprise_not_found("query.enterprise_id")


def _capacity_by_district(scope: Reach, capacity: dict[str, int]) -> dict[str, int]:
    """A per-district capacity map keyed by canonical district: an unknown district is 422
    ``unknown_district``, one outside a district authority's reach 404 ``district_not_found``,
    two spellings of one district 422 ``district_repeated``; each with the key as the field."""
    out: dict[str, int] = {}
    for name, doses in capacity.items():
        field = f"body.daily_capacity.{name}"
        district = canonical_district(name)
        if district is None:
            raise unknown_district(field)
        if scope.district is not None and district != scope.district:
            raise district_not_found(field)
        if district in out:
            raise Unprocessable("Another key names the same district.", code="district_repeated", field=field)
        out[district] = doses
    return out


async def queue(
    session: AsyncSession,
    store: PolicyStore,
    caller_scope: Reach,
    *,
    as_of: datetime | None,
    district: str | None,
    enterprise_id: uuid.UUID | None,
    tier: int | None,
    dose: int | None,
    cursor: str | None,
    limit: int,
) -> QueuePage:
    """One page of the people eligible for their next dose on as_of's local date, in priority
    order (seeds/000 §2.1; rules.queue_key)."""
    scope = narrow(caller_scope, district, enterprise_id)
    after = cast(QueueKey | None, decode_keys(cursor, int, int, date, uuid.UUID))
    if enterprise_id is not None:
        await _check_enterprise(session, scope, enterprise_id)
    instant = as_of or now_local()
    doc = await _policy(session, store, instant, "query.as_of")
    ranking = doc.vaccines.dose2_ranking
    on = local_date(instant)
    q = DueQuery(as_of=instant, tiers=tier_table(doc.vaccines), programme_start=doc.effective_from, scope=scope)
    rows = await repository.queue_page(session, q, ranking, on, tier=tier, dose=dose, after=after, limit=limit + 1)
    page = rows[:limit]
    return QueuePage(
        as_of=instant,
        date=on,
        policy_version=doc.version,
        dose2_ranking=ranking,
        items=[
            QueueItem(
                person_id=e.person_id,
                enterprise_id=e.enterprise_id,
                district=e.district,
                tier=e.tier,
                dose=e.dose,
                product_code=e.product_code,
                eligible_since=e.eligible_since,
            )
            for e in page
        ],
        next_cursor=encode_cursor(queue_key(page[-1], ranking)) if len(rows) > limit else None,
    )


async def _dose1_product(session: AsyncSession, code: str | None, as_of: datetime) -> repository.Product:
    if code is not None:
        chosen = await repository.product(session, code)
        if chosen is None:
            raise Unprocessable(f"No vaccine product {code!r}.", code="unknown_product", field="body.product_code")
        if not chosen.active:
            raise Unprocessable(
                f"Vaccine product {code!r} is no longer in use.", code="product_inactive", field="body.product_code"
            )
        return chosen
    default = await repository.default_dose1_product(session, as_of)
    if default is None:
        raise Unprocessable(
            "No active vaccine product to plan new dose 1s with.", code="no_vaccine_product", field="body.product_code"
        )
    return default


def _dose_outcome(g: GroupOutcome) -> dict[str, Any]:
    return {
        "dose": g.dose,
        "people": g.people,
        "projected_completion": g.completed_on,
        "deadline": g.deadline,
        "held_to_deadline": g.held,
        "held_completion": g.held_completed_on,
        "met": g.met,
    }


async def plan(session: AsyncSession, store: PolicyStore, scope: Reach, body: PlanRequest) -> PlanResponse:
    """Simulate the given daily capacity against the deadlines and find the smallest capacity
    meeting them (seeds/000 §2.1: dose 1 within September, dose 2 by the end of October 2021)."""
    # A plan from a given start is judged as at that start (the policy in force and the doses
    # recorded then), unless as_of says otherwise; without either, now.
    instant = body.as_of or (start_of_local_day(body.start) if body.start is not None else now_local())
    doc = await _policy(session, store, instant, "body.as_of")
    policy = doc.vaccines
    start = body.start or local_date(instant)
    end = body.end or default_end(start, policy.deadlines)
    capacity: Capacity = (
        TotalCapacity(body.daily_capacity)
        if isinstance(body.daily_capacity, int)
        else DistrictCapacity(_capacity_by_district(scope, body.daily_capacity))
    )
    problems = plan_input_problems(start, end, capacity)
    if problems:
        raise Unprocessable(
            problems[0].message,
            code=problems[0].code,
            details=[ErrorDetail(field=p.field, code=p.code, message=p.message) for p in problems],
        )
    product = await _dose1_product(session, body.product_code, instant)
    q = DueQuery(as_of=instant, tiers=tier_table(policy), programme_start=doc.effective_from, scope=scope)
    rows = await repository.demand(session, q)
    demand = with_dose1_product(rows, product.min_interval_days, product.series_length)
    window = PlanWindow(
        start=start,
        end=end,
        ranking=policy.dose2_ranking,
        deadlines=dict(policy.deadlines),
        tiers=tuple(sorted({t.tier for t in policy.tiers})),
    )
    # The simulations are CPU work (milliseconds each); keep the event loop free meanwhile.
    outcome = await asyncio.to_thread(run_plan, demand, capacity, window)
    sim, minimal = outcome.simulation, outcome.minimal
    return PlanResponse(
        as_of=instant,
        policy_version=doc.version,
        dose2_ranking=policy.dose2_ranking,
        start=start,
        end=end,
        product_code=product.code,
        capacity=(
            PlanCapacity(total=capacity.per_day)
            if isinstance(capacity, TotalCapacity)
            else PlanCapacity(by_district=dict(capacity.per_day))
        ),
        groups=[PlanGroup(tier=g.tier, **_dose_outcome(g)) for g in sim.groups],
        totals=[PlanDoseTotal(**_dose_outcome(t)) for t in sim.totals],
        doses_needed=sim.doses_needed,
        doses_given=sim.doses_given,
        all_deadlines_met=sim.all_deadlines_met,
        districts_without_capacity=list(sim.districts_without_capacity),
        minimal_capacity=MinimalCapacity(
            total=minimal.total,
            scale_percent=minimal.scale_percent,
            by_district=None if minimal.by_district is None else dict(minimal.by_district),
            reason=minimal.reason,
        ),
    )
