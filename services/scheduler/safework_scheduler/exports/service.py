"""Exports for the authority (and an enterprise for its own due list): every row, not a page,
as rows for ``safework_common.sheets``. The filters, the ``as_of`` and the scope are the JSON
routes' own, decided before the first byte is sent (a refusal is still one error envelope);
the rows are then read and computed while the file streams, one enterprise (or one cursor
batch) at a time, so memory stays flat whatever the province's size.

The due rules are the due service's (``due.service.evaluate_enterprise``); the vaccine queue is
the vaccine repository's ordered stream; the plan and the violations are their services'
answers laid out as rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import column, func, literal, select, table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safework_common.internal_auth import Caller
from safework_common.scope import AUTHORITY, Reach, narrow, require_role
from safework_common.scope import district_filter as area
from safework_common.timezone import local_date, now_local
from safework_scheduler.compliance import service as compliance
from safework_scheduler.due import repository as due_repo
from safework_scheduler.due import service as due
from safework_scheduler.due.rules import DUE_TODAY, NOT_CLEARED, OVERDUE, DueRules, local_day
from safework_scheduler.policy.repository import PolicyStore
from safework_scheduler.vaccines import repository as vaccine_repo
from safework_scheduler.vaccines import service as vaccines
from safework_scheduler.vaccines.rules import tier_table
from safework_scheduler.vaccines.schemas import PlanRequest

Rows = AsyncIterator[list[Sequence[Any]]]
DueStatus = Literal["listed", "due", "overdue", "not_cleared", "all"]
_FLAGS = {"listed": DUE_TODAY | NOT_CLEARED, "due": DUE_TODAY, "overdue": OVERDUE, "not_cleared": NOT_CLEARED}

DUE_HEADER = (
    "enterprise_id",
    "enterprise",
    "district",
    "zone_type",
    "employee_code",
    "full_name",
    "person_id",
    "status",
    "due_today",
    "due_at",
    "kind",
    "overdue",
    "cleared_to_work",
    "reasons",
    "window_start",
    "window_end",
)


@dataclass
class Export:
    """What a route streams: its header and an async source of row batches."""

    header: Sequence[str]
    rows: Callable[[], Rows]


def _status(flags: int) -> str:
    if flags & OVERDUE:
        return "overdue"
    if flags & DUE_TODAY:
        return "due"
    if flags & NOT_CLEARED:
        return "not_cleared"
    return "ok"


def _due_rows(
    maker: async_sessionmaker[AsyncSession],
    rules: DueRules,
    enterprises: Sequence[due_repo.EnterpriseRow],
    status: DueStatus,
) -> Callable[[], Rows]:
    flag = _FLAGS.get(status)

    async def rows() -> Rows:
        async with maker() as session:
            for e in enterprises:
                with due.gc_paused():
                    result = await due.evaluate_enterprise(session, rules, e)
                    batch: list[Sequence[Any]] = []
                    for i, flags in enumerate(result.statuses):
                        if flag is not None and not flags & flag:
                            continue
                        item = result.item(i)
                        batch.append(
                            (
                                e.id,
                                e.name,
                                e.district,
                                e.zone_type,
                                item["employee_code"],
                                item["full_name"],
                                item["person_id"],
                                _status(flags),
                                item["due_today"],
                                item["due_at"],
                                item["kind"],
                                item["overdue"],
                                item["cleared_to_work"],
                                item["reasons"],
                                item["window_start"],
                                item["window_end"],
                            )
                        )
                if batch:
                    yield batch

    return rows


async def province_due(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
    status: DueStatus,
) -> Export:
    """``/v1/exports/due``: the people behind ``/v1/due`` (``/v1/due/people`` unpaged)."""
    require_role(caller, AUTHORITY)
    district = area(caller, district)
    rules = await due.rules_at(session, store, as_of)
    enterprises = await due_repo.list_enterprises(session, district, zone_type)
    return Export(DUE_HEADER, _due_rows(maker, rules, enterprises, status))


async def enterprise_due(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    store: PolicyStore,
    caller: Caller,
    enterprise_id: uuid.UUID,
    day: date | None,
    status: DueStatus,
) -> Export:
    """``/v1/enterprises/{id}/exports/due``: the enterprise's due list of ``/due?date=``."""
    enterprise = await due.visible_enterprise(session, caller, enterprise_id)
    now = now_local()
    as_of = due.day_as_of(day or local_day(now), now)
    rules = await due.rules_at(session, store, as_of)
    return Export(DUE_HEADER, _due_rows(maker, rules, [enterprise], status))


async def _once(batch: list[Sequence[Any]]) -> Rows:
    if batch:
        yield batch


VIOLATIONS_HEADER = ("enterprise_id", "enterprise", "district", "zone_type", "status", "reasons", "findings")


async def violations(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
    status: Literal["violation", "warning"],
) -> Export:
    """``/v1/exports/violations``: every enterprise of ``/v1/compliance/violations`` (one row each;
    enterprises are thousands at most, so the answer is computed whole, then written)."""
    body = await compliance.violations(session, store, caller, as_of, district, zone_type, status, None, 10**9)
    rows: list[Sequence[Any]] = [
        (
            i["enterprise_id"],
            i["name"],
            i["district"],
            i["zone_type"],
            i["status"],
            i["reasons"],
            "; ".join(f"{f.get('code')}: {f.get('message', '')}".strip() for f in i["findings"]),
        )
        for i in body["items"]
    ]
    return Export(VIOLATIONS_HEADER, lambda: _once(rows))


COVERAGE_HEADER = (
    "district",
    "zone_type",
    "enterprises",
    "people",
    "dose_1",
    "dose_2",
    "dose_1_percent",
    "dose_2_percent",
    "tested_7_days",
    "tested_7_days_percent",
    "due",
    "overdue",
    "not_cleared",
)


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


async def coverage(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
) -> Export:
    """``/v1/exports/coverage``: by district and zone type, the active people, those with a
    first and a second dose by ``as_of``, those with a result collected in the 7 days before it,
    and the due, overdue and not-cleared counts of ``/v1/due``. One statement for the doses and
    results; the due counts are the due service's."""
    require_role(caller, AUTHORITY)
    district = area(caller, district)
    rules = await due.rules_at(session, store, as_of)
    enterprises = await due_repo.list_enterprises(session, district, zone_type)
    tallies = await due.province_tallies(session, rules, enterprises, district=district, zone_type=zone_type)
    p, e, d = vaccine_repo.person, vaccine_repo.enterprise, vaccine_repo.dose
    doses = (
        select(d.c.person_id, func.count().label("n"))
        .where(d.c.administered_at <= as_of)
        .group_by(d.c.person_id)
        .subquery()
    )
    test_result = table("test_result", column("person_id"), column("collected_at"), column("result"))
    tested = (
        select(literal(1))
        .where(
            test_result.c.person_id == p.c.id,
            test_result.c.collected_at <= as_of,
            test_result.c.collected_at > as_of - timedelta(days=7),
            test_result.c.result != "INVALID",
        )
        .exists()
    )
    stmt = (
        select(
            e.c.district,
            e.c.zone_type,
            func.count(func.distinct(e.c.id)).label("enterprises"),
            func.count().label("people"),
            func.count().filter(doses.c.n >= 1).label("dose_1"),
            func.count().filter(doses.c.n >= 2).label("dose_2"),
            func.count().filter(tested).label("tested"),
        )
        .select_from(p.join(e, e.c.id == p.c.enterprise_id).outerjoin(doses, doses.c.person_id == p.c.id))
        .where(p.c.status == "active")
        .group_by(e.c.district, e.c.zone_type)
        .order_by(e.c.district, e.c.zone_type)
    )
    if district is not None:
        stmt = stmt.where(e.c.district == district)
    if zone_type is not None:
        stmt = stmt.where(e.c.zone_type == zone_type)
    due_by_area: dict[tuple[str, str], list[int]] = {}
    for ent in enterprises:
        t = tallies[ent.id]
        acc = due_by_area.setdefault((ent.district, ent.zone_type), [0, 0, 0])
        acc[0] += t.due
        acc[1] += t.overdue
        acc[2] += t.not_cleared
    rows: list[Sequence[Any]] = []
    for r in (await session.execute(stmt)).mappings():
        counts = due_by_area.get((r["district"], r["zone_type"]), [0, 0, 0])
        rows.append(
            (
                r["district"],
                r["zone_type"],
                r["enterprises"],
                r["people"],
                r["dose_1"],
                r["dose_2"],
                _percent(r["dose_1"], r["people"]),
                _percent(r["dose_2"], r["people"]),
                r["tested"],
                _percent(r["tested"], r["people"]),
                *counts,
            )
        )
    return Export(COVERAGE_HEADER, lambda: _once(rows))


QUEUE_HEADER = ("person_id", "enterprise_id", "district", "tier", "dose", "product_code", "eligible_since")


async def vaccine_queue(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    store: PolicyStore,
    reach: Reach,
    *,
    as_of: datetime | None,
    district: str | None,
    enterprise_id: uuid.UUID | None,
    tier: int | None,
    dose: int | None,
) -> Export:
    """``/v1/exports/vaccine-queue``: the whole queue of ``/v1/vaccines/queue``, in its order,
    through the repository's server-side cursor."""
    # The route's own checks first (scope, filters, the policy in force): a one-row page.
    first = await vaccines.queue(
        session,
        store,
        reach,
        as_of=as_of,
        district=district,
        enterprise_id=enterprise_id,
        tier=tier,
        dose=dose,
        cursor=None,
        limit=1,
    )
    instant = first.as_of
    doc = await store.at(session, instant)
    scope = narrow(reach, district, enterprise_id)
    q = vaccine_repo.DueQuery(
        as_of=instant, tiers=tier_table(doc.vaccines), programme_start=doc.effective_from, scope=scope
    )
    ranking, on = doc.vaccines.dose2_ranking, local_date(instant)

    async def rows() -> Rows:
        async with maker() as s, s.begin():
            batch: list[Sequence[Any]] = []
            async for entry in vaccine_repo.stream_queue(s, q, ranking, on, tier=tier):
                if dose is not None and entry.dose != dose:
                    continue
                batch.append(
                    (
                        entry.person_id,
                        entry.enterprise_id,
                        entry.district,
                        entry.tier,
                        entry.dose,
                        entry.product_code,
                        entry.eligible_since,
                    )
                )
                if len(batch) == 5000:
                    yield batch
                    batch = []
            if batch:
                yield batch

    return Export(QUEUE_HEADER, rows)


PLAN_HEADER = (
    "tier",
    "dose",
    "people",
    "projected_completion",
    "deadline",
    "held_to_deadline",
    "held_completion",
    "met",
)


async def vaccine_plan(session: AsyncSession, store: PolicyStore, reach: Reach, body: PlanRequest) -> Export:
    """``/v1/exports/vaccine-plan``: the plan of ``POST /v1/vaccines/plan``, a row per tier and
    dose, then the totals (tier ``all``)."""
    plan = await vaccines.plan(session, store, reach, body)

    def line(tier: Any, g: Any) -> Sequence[Any]:
        return (
            tier,
            g.dose,
            g.people,
            g.projected_completion,
            g.deadline,
            g.held_to_deadline,
            g.held_completion,
            g.met,
        )

    rows = [line(g.tier, g) for g in plan.groups] + [line("all", t) for t in plan.totals]
    return Export(PLAN_HEADER, lambda: _once(rows))
