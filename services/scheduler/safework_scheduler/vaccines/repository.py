"""Read-only, set-based access to what the vaccine rules need: one statement per answer, never
a query per person. Tier, next dose and eligible date are computed in SQL with the same rules as
``rules.next_dose`` / ``rules.TierTable`` (the tests hold the two to the same answers).

The queue page is one ordered keyset query, measured against streaming every row to Python
(bench/bench_vaccines.py): PostgreSQL scans the active people once, in parallel, keeps the best
``limit`` rows in a top-N heap and returns them already ordered; an enterprise's page uses the
person and dose indexes. A province-wide run (an
export, the bench) streams the whole ordering through a server-side cursor instead.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    Subquery,
    Uuid,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.scope import Reach
from safework_common.timezone import LOCAL_TZ
from safework_scheduler.vaccines.rules import DemandRow, QueueEntry, QueueKey, Ranking, TierTable, dose_rank

STREAM_BATCH = 10_000
LOCAL_ZONE = LOCAL_TZ.key


@dataclass(frozen=True)
class DueQuery:
    """What every vaccine read shares: the instant, the policy's tiers and programme start, the
    caller's scope (with its filters)."""

    as_of: datetime
    tiers: TierTable
    programme_start: date
    scope: Reach


@dataclass(frozen=True)
class Product:
    code: str
    min_interval_days: int
    series_length: int
    active: bool


# The registry's columns this module reads (the scheduler never imports the registry package).
person = table(
    "person",
    column("id", Uuid),
    column("enterprise_id", Uuid),
    column("status", String),
    column("job_role", String),
    column("hire_date", Date),
)
enterprise = table("enterprise", column("id", Uuid), column("district", String), column("zone_type", String))
dose = table(
    "dose",
    column("person_id", Uuid),
    column("dose_number", Integer),
    column("product_code", String),
    column("administered_at", DateTime(timezone=True)),
)
vaccine_product = table(
    "vaccine_product",
    column("code", String),
    column("min_interval_days", Integer),
    column("doses_in_primary_series", Integer),
    column("active", Boolean),
)


def _tier(tiers: TierTable) -> ColumnElement[int]:
    """``LEAST(tier by zone type, tier by job role)``: ``VaccinePolicy.tier_of`` set-wise."""
    default = literal(tiers.default, Integer)

    def by(col: ColumnElement[str], values: Mapping[str, int]) -> ColumnElement[int]:
        if not values:
            return default
        return case({k: literal(v, Integer) for k, v in values.items()}, value=col, else_=default)

    return func.least(by(enterprise.c.zone_type, tiers.by_zone), by(person.c.job_role, tiers.by_role))


def _due(q: DueQuery) -> Subquery:
    """Active people of enterprises in scope with the dose they need next and the local date it
    opens (seeds/000 §2.1; rules.next_dose). Doses given after ``as_of`` do not count yet."""
    given = literal(q.as_of, DateTime(timezone=True))
    later = dose.alias("later")
    # A person's last dose by as_of is the one with no next dose by then: the registry records
    # dose n only after dose n-1 (contiguous numbers, increasing dates), so this anti-join is
    # exact. Unlike DISTINCT ON it needs no sort, runs as a parallel hash anti-join province-wide
    # and folds into the join tree, so an enterprise's queue uses the person and dose indexes.
    last = (
        select(dose.c.person_id, dose.c.dose_number, dose.c.product_code, dose.c.administered_at)
        .where(
            dose.c.administered_at <= given,
            ~exists().where(
                later.c.person_id == dose.c.person_id,
                later.c.dose_number == dose.c.dose_number + 1,
                later.c.administered_at <= given,
            ),
        )
        .subquery("l")
    )
    vp = vaccine_product
    opened_on = cast(func.timezone(LOCAL_ZONE, last.c.administered_at), Date) + vp.c.min_interval_days
    eligible_since = case(
        (last.c.person_id.is_(None), func.greatest(literal(q.programme_start, Date), person.c.hire_date)),
        else_=opened_on,
    )
    stmt = (
        select(
            person.c.id.label("person_id"),
            person.c.enterprise_id,
            enterprise.c.district,
            _tier(q.tiers).label("tier"),
            (func.coalesce(last.c.dose_number, 0) + 1).label("dose"),
            last.c.product_code,
            eligible_since.label("eligible_since"),
            vp.c.min_interval_days.label("interval_days"),
            vp.c.doses_in_primary_series.label("series_length"),
        )
        .select_from(
            person.join(enterprise, enterprise.c.id == person.c.enterprise_id)
            .outerjoin(last, last.c.person_id == person.c.id)
            .outerjoin(vp, vp.c.code == last.c.product_code)
        )
        .where(
            person.c.status == "active",
            or_(last.c.person_id.is_(None), last.c.dose_number < vp.c.doses_in_primary_series),
        )
    )
    if q.scope.district is not None:
        stmt = stmt.where(enterprise.c.district == q.scope.district)
    if q.scope.enterprise_id is not None:
        stmt = stmt.where(person.c.enterprise_id == q.scope.enterprise_id)
    return stmt.subquery("due")


def _queue(q: DueQuery, ranking: Ranking, on: date, tier: int | None, dose_number: int | None) -> Subquery:
    """The queue on a local date with each row's dose rank (rules.dose_rank)."""
    due = _due(q)
    rank = case(
        (due.c.dose == 1, literal(dose_rank(1, ranking), Integer)), else_=literal(dose_rank(2, ranking), Integer)
    )
    stmt = select(due, rank.label("rank")).where(due.c.eligible_since <= literal(on, Date))
    if tier is not None:
        stmt = stmt.where(due.c.tier == tier)
    if dose_number is not None:
        stmt = stmt.where(due.c.dose == dose_number)
    return stmt.subquery("q")


def _ordered(queue: Subquery) -> Select[Any]:
    return select(
        queue.c.person_id,
        queue.c.enterprise_id,
        queue.c.district,
        queue.c.tier,
        queue.c.dose,
        queue.c.product_code,
        queue.c.eligible_since,
    ).order_by(queue.c.tier, queue.c.rank, queue.c.eligible_since, queue.c.person_id)


def _entry(row: Any) -> QueueEntry:
    """A row of :func:`_ordered` (its columns are QueueEntry's fields, in order)."""
    return QueueEntry(*row)


async def queue_page(
    session: AsyncSession,
    q: DueQuery,
    ranking: Ranking,
    on: date,
    *,
    tier: int | None,
    dose: int | None,
    after: QueueKey | None,
    limit: int,
) -> list[QueueEntry]:
    """One page of the queue after the keyset ``after``, ordered by (tier, dose rank, eligible
    since, person id)."""
    queue = _queue(q, ranking, on, tier, dose)
    stmt = _ordered(queue).limit(limit)
    if after is not None:
        key = tuple_(queue.c.tier, queue.c.rank, queue.c.eligible_since, queue.c.person_id)
        stmt = stmt.where(
            key
            > tuple_(
                literal(after[0], Integer), literal(after[1], Integer), literal(after[2], Date), literal(after[3], Uuid)
            )
        )
    rows = (await session.execute(stmt)).all()
    return [_entry(r) for r in rows]


async def stream_queue(
    session: AsyncSession, q: DueQuery, ranking: Ranking, on: date, *, tier: int | None = None, dose: int | None = None
) -> AsyncIterator[QueueEntry]:
    """The whole queue in order through a server-side cursor, for province-wide runs: memory
    stays at one batch whatever the province's size."""
    stmt = _ordered(_queue(q, ranking, on, tier, dose)).execution_options(yield_per=STREAM_BATCH)
    # The whole queue is sorted at once: room for it in memory instead of an on-disk merge.
    await session.execute(text("SET LOCAL work_mem = '64MB'"))
    result = await session.stream(stmt)
    async for partition in result.partitions():
        for row in partition:
            yield _entry(row)


async def demand(session: AsyncSession, q: DueQuery) -> list[DemandRow]:
    """Everyone who still needs a dose, now or later, counted per (tier, next dose, eligible
    date, district, product interval, series length): the plan simulates these buckets."""
    due = _due(q)
    keys = (due.c.tier, due.c.dose, due.c.eligible_since, due.c.district, due.c.interval_days, due.c.series_length)
    rows = (await session.execute(select(*keys, func.count().label("people")).group_by(*keys))).all()
    return [
        DemandRow(
            tier=r.tier,
            dose=r.dose,
            eligible_on=r.eligible_since,
            district=r.district,
            interval_days=r.interval_days,
            series_length=r.series_length,
            people=r.people,
        )
        for r in rows
    ]


async def enterprise_district(session: AsyncSession, enterprise_id: uuid.UUID) -> str | None:
    """The district of an enterprise, or None when there is no such enterprise."""
    stmt = select(enterprise.c.district).where(enterprise.c.id == enterprise_id)
    district = (await session.execute(stmt)).scalar_one_or_none()
    return None if district is None else str(district)


def _product(row: Any) -> Product:
    return Product(row.code, row.min_interval_days, row.doses_in_primary_series, row.active)


_PRODUCT_COLUMNS = (
    vaccine_product.c.code,
    vaccine_product.c.min_interval_days,
    vaccine_product.c.doses_in_primary_series,
    vaccine_product.c.active,
)


async def product(session: AsyncSession, code: str) -> Product | None:
    row = (await session.execute(select(*_PRODUCT_COLUMNS).where(vaccine_product.c.code == code))).first()
    return None if row is None else _product(row)


async def default_dose1_product(session: AsyncSession, as_of: datetime) -> Product | None:
    """The active product most given as dose 1 by ``as_of`` (ties: by code); with no doses yet,
    the first active product by code. What the province was actually using is the best guess
    for the doses still to give."""
    used = (
        select(dose.c.product_code, func.count().label("n"))
        .where(dose.c.dose_number == 1, dose.c.administered_at <= literal(as_of, DateTime(timezone=True)))
        .group_by(dose.c.product_code)
        .subquery("used")
    )
    stmt = (
        select(*_PRODUCT_COLUMNS)
        .select_from(vaccine_product.outerjoin(used, used.c.product_code == vaccine_product.c.code))
        .where(vaccine_product.c.active.is_(True))
        .order_by(func.coalesce(used.c.n, 0).desc(), vaccine_product.c.code)
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else _product(row)
