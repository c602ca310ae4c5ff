"""Whole lists as rows for the CSV and XLSX exports (``safework_common.export``).

Each export is checked (role, scope, filters, the policy in force) on the request's session
before anything is sent; the rows are then read on a session of their own, in one REPEATABLE
READ transaction (every enterprise read from the same snapshot), and produced a batch at a time:

- the province's due list: the people in shares of person ids, each read with the statement the
  province's counts read (with names) and evaluated in a worker process for a province-sized
  population, sent enterprise by enterprise in the JSON pages' order (``parallel``); rows and
  their CSV text made once per shared verdict (``due_rows``); one enterprise's list:
  ``evaluate_enterprise``;
- the vaccine queue: the adapter's server-side cursor (``vaccines.repository.stream_queue``);
- violations, coverage and the plan: one row per enterprise (or per group), small.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safework_common.export import Encoded
from safework_common.internal_auth import Caller
from safework_common.scope import AUTHORITY, Reach, district_filter, narrow, require_role
from safework_common.timezone import local_date
from safework_scheduler.compliance import repository as compliance_repo
from safework_scheduler.compliance import service as compliance
from safework_scheduler.compliance.rules import share
from safework_scheduler.due import bulk
from safework_scheduler.due import repository as due_repo
from safework_scheduler.due import service as due
from safework_scheduler.due.rules import DUE_TODAY, NOT_CLEARED, OVERDUE, DueRules, local_day
from safework_scheduler.exports import due_rows, parallel
from safework_scheduler.policy.repository import PolicyStore
from safework_scheduler.vaccines import repository as vaccine_repo
from safework_scheduler.vaccines import service as vaccines
from safework_scheduler.vaccines.repository import DueQuery
from safework_scheduler.vaccines.rules import tier_table

ExportStatus = Literal["due", "overdue", "not_cleared", "all"]
Row = Sequence[Any]
Rows = AsyncIterator[Row]
_FLAG: Final = {"due": DUE_TODAY, "overdue": OVERDUE, "not_cleared": NOT_CLEARED, "all": 0}


@asynccontextmanager
async def snapshot_session(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A read-only session whose statements all read one snapshot (REPEATABLE READ)."""
    async with maker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            yield session
        finally:
            await session.rollback()


def _person_rows(result: due.EnterpriseDay, shown: due_rows.Shown, indices: Sequence[int]) -> list[Row]:
    """The rows of ``indices`` (positions in ``result``), as cells."""
    head = due_rows.enterprise_cells(result.enterprise)
    out: list[Row] = []
    for i in indices:
        row = result.rows[i]
        d = result.answer(i)
        out.append((*head, str(d.person_id), row[0] or "", row[1] or "", row["cohort"], *shown(d)))
    return out


@dataclass(frozen=True)
class DuePeopleExport:
    rules: DueRules
    district: str | None
    zone_type: str | None
    status: ExportStatus
    workers: int | None = None  # processes (None: by the population, ``bulk.workers_for``)

    async def rows(self, maker: async_sessionmaker[AsyncSession]) -> Rows:
        """Every person of the filter whose status matches, by enterprise id then person id
        (the JSON pages' order), as cells."""
        async for batch in self.batches(maker):
            for row in batch:
                yield row

    async def batches(self, maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[list[Row]]:
        """The rows as cells, a chunk of enterprises at a time (``parallel``)."""
        async for made in self._chunks(maker, as_csv=False):
            assert isinstance(made, list)
            yield made

    async def csv(self, maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[bytes]:
        """The rows as CSV lines (no header), a chunk of enterprises at a time (``parallel``)."""
        async for made in self._chunks(maker, as_csv=True):
            assert isinstance(made, bytes)
            yield made

    def encoded(self, maker: async_sessionmaker[AsyncSession]) -> Encoded:
        return Encoded(csv=lambda: self.csv(maker), cells=lambda: self.batches(maker))

    async def _chunks(
        self, maker: async_sessionmaker[AsyncSession], *, as_csv: bool
    ) -> AsyncIterator[bytes | list[Row]]:
        """The people in shares (``parallel``): in the worker processes for a province-sized
        population, else here; all from one snapshot, the request's (its transaction stays open
        until the last share has started)."""
        rules = self.rules
        async with snapshot_session(maker) as session:
            enterprises = await due_repo.list_enterprises(session, self.district, self.zone_type)
            plans = await due.round_plans(session, rules, enterprises)
            workers = self.workers or bulk.workers_for(sum(e.roster_size for e in enterprises))
            snapshot = await due_repo.export_snapshot(session) if workers > 1 else ""
            jobs = [
                parallel.Job(
                    url=due_repo.database_url(session),
                    snapshot=snapshot,
                    policy=rules.policy,
                    versions=tuple(rules.versions),
                    as_of=rules.as_of,
                    plans=plans,
                    share=share,
                    serial=workers > 1,
                    flag=_FLAG[self.status],
                    enterprises={e.id: e for e in enterprises},
                    as_csv=as_csv,
                )
                for share in due_repo.shares(workers, self.district, self.zone_type)
            ]
            if workers > 1:
                made = parallel.in_workers(jobs, [e.id for e in enterprises])
            else:
                made = parallel.here(await due_repo.driver_connection(session), jobs[0])
            async for chunk in made:
                yield chunk


async def due_people(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
    status: ExportStatus,
) -> DuePeopleExport:
    """``/due/people/export``: the checks of ``GET /v1/due/people`` (authority only, a district
    authority its own district), then the export to stream."""
    require_role(caller, AUTHORITY)
    district = district_filter(caller, district)
    rules = await due.rules_at(session, store, as_of)
    return DuePeopleExport(rules, district, zone_type, status)


@dataclass(frozen=True)
class EnterpriseDueExport:
    enterprise: due_repo.EnterpriseRow
    rules: DueRules
    status: ExportStatus | None

    async def rows(self, maker: async_sessionmaker[AsyncSession]) -> Rows:
        """The JSON list's people (due by the day's end, or not cleared; most urgent first), or
        with ``status`` every person of that status (``all``: everyone), by employee code."""
        async with snapshot_session(maker) as session:
            result = await due.evaluate_enterprise(session, self.rules, self.enterprise)
        statuses = result.statuses
        if self.status is None:
            chosen = [i for i, s in enumerate(statuses) if s & (DUE_TODAY | NOT_CLEARED)]
            chosen.sort(key=result.urgency)
        else:
            flag = _FLAG[self.status]
            chosen = [i for i, s in enumerate(statuses) if not flag or s & flag]
            chosen.sort(key=lambda i: result.rows[i][0] or "")
        for row in _person_rows(result, due_rows.Shown(self.rules), chosen):
            yield row


async def enterprise_due(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    enterprise_id: uuid.UUID,
    day: date | None,
    now: datetime,
    status: ExportStatus | None,
) -> EnterpriseDueExport:
    """``/enterprises/{id}/due/export``: the checks of ``GET /v1/enterprises/{id}/due``."""
    enterprise = await due.visible_enterprise(session, caller, enterprise_id)
    as_of = due.day_as_of(day or local_day(now), now)
    rules = await due.rules_at(session, store, as_of)
    return EnterpriseDueExport(enterprise, rules, status)


VIOLATION_COLUMNS: Final = (
    "enterprise_id",
    "name",
    "district",
    "zone_type",
    "status",
    "reasons",
    "findings",
)


async def violations(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
    status: compliance.Verdict,
) -> list[Row]:
    """``/compliance/violations/export``: every page of ``GET /v1/compliance/violations`` at
    once (one row per enterprise: small), by enterprise id. Findings as ``code=value/threshold``."""
    items: list[Row] = []
    cursor: str | None = None
    while True:
        page = await compliance.violations(session, store, caller, as_of, district, zone_type, status, cursor, 1000)
        for item in page.items:
            findings = [f"{f.code}={f.value}/{f.threshold}" for f in item.findings]
            items.append(
                (item.enterprise_id, item.name, item.district, item.zone_type, item.status, item.reasons, findings)
            )
        cursor = page.next_cursor
        if cursor is None:
            return items


COVERAGE_COLUMNS: Final = (
    "district",
    "zone_type",
    "enterprise_id",
    "name",
    "enterprises",
    "people",
    "due",
    "overdue",
    "not_cleared",
    "workers_with_device",
    "device_coverage",
    "dose1",
    "dose1_coverage",
    "dose2",
    "dose2_coverage",
)
CoverageGroup = Literal["enterprise", "district", "zone", "district_zone"]


def _ratio(part: int, whole: int) -> float | None:
    value = share(part, whole)
    return None if value is None else round(value, 4)


async def coverage(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
    by: CoverageGroup,
) -> list[Row]:
    """``/coverage/export``: ``GET /v1/due``'s counts (people, due, overdue, not cleared) with the
    compliance figures (workers on the app, dose 1 and dose 2 given by ``as_of``), per
    enterprise or summed by district, zone type, or both. Authority only (a district authority
    its district)."""
    require_role(caller, AUTHORITY)
    district = district_filter(caller, district)
    rules = await due.rules_at(session, store, as_of)
    enterprises = await due_repo.list_enterprises(session, district, zone_type)
    tallies = await due.province_tallies(session, rules, enterprises, district=district, zone_type=zone_type)
    figures = {
        r.enterprise_id: r
        for r in await compliance_repo.figures(
            session,
            rules.as_of,
            rules.policy.single_app.sanctioned_app_ids,
            district=district,
            zone_type=zone_type,
        )
    }
    key: Callable[[due_repo.EnterpriseRow], tuple[Any, ...]] = {
        "enterprise": lambda e: (e.district, e.zone_type, e.id, e.name),
        "district": lambda e: (e.district, None, None, None),
        "zone": lambda e: (None, e.zone_type, None, None),
        "district_zone": lambda e: (e.district, e.zone_type, None, None),
    }[by]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for e in enterprises:
        t = tallies[e.id]
        f = figures.get(e.id)
        sums = groups.setdefault(key(e), [0] * 8)
        for k, v in enumerate(
            (
                1,
                t.people,
                t.due,
                t.overdue,
                t.not_cleared,
                f.workers_with_device if f else 0,
                f.dose1 if f else 0,
                f.dose2 if f else 0,
            )
        ):
            sums[k] += v
    rows: list[Row] = []
    for head, (n, people, due_, overdue, not_cleared, devices, dose1, dose2) in sorted(
        groups.items(), key=lambda kv: tuple("" if v is None else str(v) for v in kv[0])
    ):
        rows.append(
            (
                *head,
                n,
                people,
                due_,
                overdue,
                not_cleared,
                devices,
                _ratio(devices, people),
                dose1,
                _ratio(dose1, people),
                dose2,
                _ratio(dose2, people),
            )
        )
    return rows


QUEUE_COLUMNS: Final = ("person_id", "enterprise_id", "district", "tier", "dose", "product_code", "eligible_since")


@dataclass(frozen=True)
class QueueExport:
    query: DueQuery
    ranking: Any
    on: date
    tier: int | None
    dose: int | None

    async def rows(self, maker: async_sessionmaker[AsyncSession]) -> Rows:
        """The whole queue in priority order, through the adapter's server-side cursor."""
        async with snapshot_session(maker) as session:
            async for e in vaccine_repo.stream_queue(
                session, self.query, self.ranking, self.on, tier=self.tier, dose=self.dose
            ):
                yield (e.person_id, e.enterprise_id, e.district, e.tier, e.dose, e.product_code, e.eligible_since)


async def queue(
    session: AsyncSession,
    store: PolicyStore,
    caller_scope: Reach,
    *,
    as_of: datetime,
    district: str | None,
    enterprise_id: uuid.UUID | None,
    tier: int | None,
    dose: int | None,
) -> QueueExport:
    """``/vaccines/queue/export``: the checks of ``GET /v1/vaccines/queue``."""
    scope = narrow(caller_scope, district, enterprise_id)
    if enterprise_id is not None:
        await vaccines._check_enterprise(session, scope, enterprise_id)
    doc = await vaccines._policy(session, store, as_of, "query.as_of")
    q = DueQuery(as_of=as_of, tiers=tier_table(doc.vaccines), programme_start=doc.effective_from, scope=scope)
    return QueueExport(q, doc.vaccines.dose2_ranking, local_date(as_of), tier, dose)


PLAN_COLUMNS: Final = (
    "row",
    "tier",
    "dose",
    "people",
    "projected_completion",
    "deadline",
    "held_to_deadline",
    "held_completion",
    "met",
)


def plan_rows(plan: Any) -> list[Row]:
    """A plan's answer as rows: one per tier and dose (``group``), then one per dose (``total``)."""

    def cells(kind: str, tier: int | None, g: Any) -> Row:
        return (
            kind,
            tier,
            g.dose,
            g.people,
            g.projected_completion,
            g.deadline,
            g.held_to_deadline,
            g.held_completion,
            g.met,
        )

    return [*(cells("group", g.tier, g) for g in plan.groups), *(cells("total", None, t) for t in plan.totals)]
