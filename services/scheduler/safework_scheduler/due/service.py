"""Due tests for one person, one enterprise's day, and a province or district.

Reads through the adapter (``repository``), decides with the pure rules (``rules``) under the
policy in force at ``as_of``, and answers in local time (Asia/Ho_Chi_Minh). Scope first: another
tenant's enterprise or person is not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from asyncpg import Record
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.answers import trusted, trusted_each
from safework_common.contract import reasons
from safework_common.contract.due import (
    DistrictRatioOut,
    DueCounts,
    DuePersonOut,
    EnterpriseDueCounts,
    EnterpriseDueOut,
    PersonDueOut,
    ProvinceDueOut,
    ProvincePeopleOut,
    ProvincePersonOut,
    RequirementOut,
    RoundOut,
)
from safework_common.contract.passes import PassVerdictOut
from safework_common.contract.policy_document import PolicyDocument
from safework_common.contract.reasons import CONTACT
from safework_common.cursor import decode_keys, encode_cursor
from safework_common.gcpause import gc_paused
from safework_common.internal_auth import Caller
from safework_common.passes.holder import mask_name
from safework_common.scope import (
    AUTHORITY,
    ENTERPRISE,
    WORKER,
    as_uuid,
    enterprise_not_found,
    may_see_enterprise,
    may_see_person,
    person_not_found,
    require_role,
)
from safework_common.scope import district_filter as area
from safework_scheduler.due import bulk
from safework_scheduler.due import repository as repo
from safework_scheduler.due.rules import (
    DUE_TODAY,
    LOCAL_TZ,
    MODE_NONE,
    NOT_CLEARED,
    OVERDUE,
    DistrictRatio,
    DueRules,
    EnterpriseFacts,
    PersonDue,
    RoundPlan,
    end_of_local_day,
    local_day,
    local_midnight,
)
from safework_scheduler.policy.repository import PolicyStore

Status = Literal["due", "overdue", "not_cleared"]


def local(instant: datetime | None) -> datetime | None:
    return None if instant is None else instant.astimezone(LOCAL_TZ)


def day_as_of(day: date, now: datetime) -> datetime:
    """The instant a day's list is computed at: the end of a past day, now for today, the
    start of a future day (what is known now, on that day's rounds)."""
    start = local_midnight(day)
    last = end_of_local_day(day) - timedelta(microseconds=1)
    return min(max(now, start), last)


def round_out(plan: RoundPlan, district_ratio: DistrictRatioOut | None) -> RoundOut:
    values: dict[str, Any]
    if plan.mode == MODE_NONE:
        values = {
            "mode": plan.mode,
            "reason": None,
            "share": 0.0,
            "index": None,
            "starts_on": None,
            "ends_on": None,
            "cohort_due": None,
            "sample_size": 0,
        }
    else:
        values = {
            "mode": plan.mode,
            "reason": plan.reason,
            "share": plan.share,
            "index": plan.index,
            "starts_on": plan.starts_on(plan.index),
            "ends_on": plan.starts_on(plan.index + 1) - timedelta(days=1),
            "cohort_due": plan.cohort_due,
            "sample_size": plan.sample_size,
        }
    return trusted(RoundOut, {**values, "district_ratio": district_ratio})


def ratio_out(rules: DueRules, enterprise: repo.EnterpriseRow, plan: RoundPlan) -> DistrictRatioOut | None:
    """seeds/000 §2.2: for a small enterprise's sample, which district ratio applied and who set
    it (None: the policy's default, "not in the source")."""
    if plan.reason != reasons.SMALL_ENTERPRISE:
        return None
    return district_ratio_out(enterprise.district, rules.district_ratio(enterprise.district))


def district_ratio_out(district: str, ratio: DistrictRatio) -> DistrictRatioOut:
    """A district's ratio as answered: its value, who set it from when, or the policy's default."""
    return DistrictRatioOut(
        district=district,
        ratio=ratio.ratio,
        set_by=ratio.set_by,
        effective_from=ratio.effective_from,
        default=ratio.set_by is None,
    )


def assumptions(policy: PolicyDocument, due: PersonDue) -> list[str]:
    """The parameters this answer rests on that the version in force marks "not in the
    source" (DOMAIN.md: an answer that depends on one says so)."""
    codes = [*due.reasons, *due.not_cleared, *(r.reason for r in due.requirements)]
    paths: dict[str, None] = {}
    for code in codes:
        for path in reasons.PARAMETERS.get(code, ()):
            paths[path] = None
    if due.requirements:
        paths[reasons.GRACE] = None
    return [p for p in paths if policy.unsourced(p)]


def window_out(due: PersonDue) -> dict[str, Any]:
    w = due.window
    if w is None:
        return {"window_start": None, "window_end": None, "window_done": None}
    return {"window_start": local(w.start), "window_end": local(w.end), "window_done": w.done}


def payer_of(policy: PolicyDocument, reasons_: tuple[str, ...] | list[str]) -> str | None:
    """Who pays for the next visit, where the sources say (``testing.payers``; None: they do not).
    A visit for several reasons is paid as its first reason's test."""
    payers = policy.testing.payers
    for reason in reasons_:
        payer = payers.get(reason)
        if payer is not None:
            return payer
    return None


def contact_case(due: PersonDue) -> uuid.UUID | None:
    """The case a traced contact (F1) came from: its id only, never the F0's identity, so every
    role that sees the verdict may see it (the authority resolves it in its trace view)."""
    for r in due.requirements:
        if r.reason == CONTACT and r.case_id is not None:
            return r.case_id
    return None


def person_out(due: PersonDue, day_end: datetime, policy: PolicyDocument) -> dict[str, Any]:
    return {
        "contact_case_id": contact_case(due),
        "payer": payer_of(policy, due.reasons),
        "person_id": due.person_id,
        "due_today": due.due_before(day_end),
        "due_at": local(due.due_at),
        "kind": due.kind,
        "reasons": due.reasons,
        "overdue": due.overdue,
        "cleared_to_work": due.cleared_to_work,
        "not_cleared": due.not_cleared,
        "flags": due.flags,
        **window_out(due),
    }


_NEVER = datetime.max.replace(tzinfo=LOCAL_TZ)

# Where the fast path's columns (``repository.PLAIN_NAMES``) start in an enterprise's rows and
# in a person's row (``repository.plain_args``).
_ROSTER_AT = repo.ENTERPRISE_PEOPLE.at("id")
_PERSON_AT = repo.PERSON.at("id")
_SPECIAL_AT = repo.ENTERPRISE_PEOPLE.at("special")  # (the loop over a roster reads it by index)


def _answer(rules: DueRules, plan: RoundPlan | None, row: Record, at: int) -> PersonDue:
    """One person's answer from a person statement's row: the general rules for a person who
    is not plain, the fast path for the others."""
    if row["special"]:
        return rules.evaluate(repo.facts(row, rules.horizon_us), plan)
    return rules.plain(plan, *repo.plain_args(row, at, rules.horizon_us))


async def plan_for(session: AsyncSession, rules: DueRules, enterprise: repo.EnterpriseRow) -> RoundPlan:
    """An enterprise's rounds; reads its roster only when it draws a rotating sample."""
    facts = enterprise.facts
    if not rules.needs_roster(facts):
        return rules.round_plan(facts)
    roster = (await repo.rosters(session, [enterprise.id]))[enterprise.id]
    return rules.round_plan(_with_size(facts, len(roster) // 16), roster)


def _with_size(facts: EnterpriseFacts, size: int) -> EnterpriseFacts:
    return replace(facts, roster_size=size)


async def rules_at(session: AsyncSession, store: PolicyStore, as_of: datetime) -> DueRules:
    """The rules in force at ``as_of`` (404 ``no_policy_in_force`` before the first version),
    with every version for the rules about past events."""
    policy = await store.at(session, as_of)
    ratios = await repo.district_ratios(session, "small_enterprise", local_day(as_of))
    return DueRules(policy, as_of, await store.versions(session), ratios)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One person's answer at ``rules.as_of`` and the row it was read from (``repository.PERSON``)."""

    rules: DueRules
    row: Record
    due: PersonDue


async def verdict(
    session: AsyncSession, store: PolicyStore, caller: Caller, person_id: uuid.UUID, as_of: datetime
) -> Verdict:
    """The person's verdict at ``as_of``, in the caller's scope (404 ``person_not_found`` for
    another tenant's person, whether it exists or not). Authority (district: its own),
    enterprise (its roster), worker (self)."""
    require_role(caller, AUTHORITY, ENTERPRISE, WORKER)
    if caller.role == WORKER and as_uuid(caller.person_id) != person_id:
        raise person_not_found()
    rules = await rules_at(session, store, as_of)
    row = await repo.person(session, person_id, rules.as_of, rules.horizon, rules.arrivals_after)
    if row is None:
        raise person_not_found()
    enterprise_id, status = row["enterprise_id"], row["status"]
    enterprise = (
        await repo.get_enterprise(session, enterprise_id, roster_size=True) if enterprise_id is not None else None
    )
    if not may_see_person(caller, person_id, enterprise_id, enterprise.district if enterprise else None):
        raise person_not_found()
    plan = await plan_for(session, rules, enterprise) if enterprise is not None and status == "active" else None
    return Verdict(rules, row, _answer(rules, plan, row, _PERSON_AT))


async def person_due(
    session: AsyncSession, store: PolicyStore, caller: Caller, person_id: uuid.UUID, as_of: datetime
) -> PersonDueOut:
    """``GET /v1/persons/{id}/due``: the person's next test at ``as_of``."""
    v = await verdict(session, store, caller, person_id, as_of)
    rules, row, due = v.rules, v.row, v.due
    policy = rules.policy
    return PersonDueOut.model_validate(
        {
            "person_id": person_id,
            "enterprise_id": row["enterprise_id"],
            "as_of": local(as_of),
            "policy_version": policy.version,
            "due_at": local(due.due_at),
            "kind": due.kind,
            "reasons": list(due.reasons),
            "payer": payer_of(policy, due.reasons),
            "overdue": due.overdue,
            "cleared_to_work": due.cleared_to_work,
            "not_cleared": list(due.not_cleared),
            "flags": list(due.flags),
            "contact_case_id": contact_case(due),
            **window_out(due),
            "requirements": [
                RequirementOut(
                    reason=r.reason,
                    due_at=local(r.due_at),
                    kind=r.kind,
                    overdue_after=local(r.overdue_after),
                    overdue=rules.as_of > r.overdue_after,
                    window_start=local(r.window_start),
                    window_end=local(r.window_end),
                    interval_days=r.interval_days,
                    payer=policy.testing.payers.get(r.reason),
                    case_id=r.case_id,
                )
                for r in due.requirements
            ],
            "assumptions": assumptions(policy, due),
        }
    )


def next_window_end(due: PersonDue, as_of: datetime) -> datetime | None:
    """The end of the person's next due window after ``as_of``: the earliest of each
    requirement's end (a round's window end; a cadence's test: when it would turn overdue; else
    its due instant), or, with no requirements, the due instant; ends already past (a window
    whose test is done) do not count. None: nothing ends after ``as_of``."""
    ends = [
        end
        for r in due.requirements
        if (end := r.window_end or r.overdue_after or r.due_at) is not None and end > as_of
    ]
    if not due.requirements and due.due_at is not None and due.due_at > as_of:
        ends.append(due.due_at)
    return local(min(ends)) if ends else None


async def pass_verdict(
    session: AsyncSession, store: PolicyStore, caller: Caller, person_id: uuid.UUID, as_of: datetime
) -> PassVerdictOut:
    """``GET /v1/persons/{id}/pass-verdict``: what issuing a gate pass needs, in one answer (the
    verdict of ``person_due``, the employer and status, the masked name, the next window's end)."""
    v = await verdict(session, store, caller, person_id, as_of)
    due = v.due
    return trusted(
        PassVerdictOut,
        {
            "person_id": person_id,
            "enterprise_id": v.row["enterprise_id"],
            "status": v.row["status"],
            "as_of": local(as_of),
            "policy_version": v.rules.policy.version,
            "cleared_to_work": due.cleared_to_work,
            "not_cleared": list(due.not_cleared),
            "masked_name": mask_name(v.row["full_name"]),
            "next_window_end": next_window_end(due, as_of),
        },
    )


async def visible_enterprise(session: AsyncSession, caller: Caller, enterprise_id: uuid.UUID) -> repo.EnterpriseRow:
    """The enterprise if the caller may see it; 404 otherwise, whether it exists or not."""
    require_role(caller, AUTHORITY, ENTERPRISE)
    enterprise = await repo.get_enterprise(session, enterprise_id)
    if enterprise is None or not may_see_enterprise(caller, enterprise.id, enterprise.district):
        raise enterprise_not_found()
    return enterprise


@dataclass
class EnterpriseDay:
    """One enterprise's people evaluated at one instant: each person's status flags
    (``rules.DUE_TODAY | OVERDUE | NOT_CLEARED``); full answers are built on demand, for the
    people a list shows (a plain person's from the fast path)."""

    enterprise: repo.EnterpriseRow
    rules: DueRules
    plan: RoundPlan
    rows: list[Record]  # ``repository.ENTERPRISE_PEOPLE``'s
    statuses: list[int]
    answers: dict[int, PersonDue]  # the people who are not plain, by position
    day_end: datetime = field(init=False)
    plain: Callable[..., PersonDue] = field(init=False)
    # What ``person_out`` made of an answer, by the answer less its person: people of one cell
    # share it.
    shown: dict[tuple[Any, ...], dict[str, Any]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.day_end = self.rules.day_end
        self.plain = self.rules.answer_of(self.plan)

    def answer(self, i: int) -> PersonDue:
        due = self.answers.get(i)
        if due is None:  # a plain person (the others were answered with the statuses)
            due = self.answers[i] = self.plain(*repo.plain_args(self.rows[i], _ROSTER_AT, self.rules.horizon_us))
        return due

    def person_id(self, i: int) -> uuid.UUID:
        pid: uuid.UUID = self.rows[i]["id"]
        return pid

    def values(self, positions: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The people at ``positions`` as a list shows them: the fields of ``DuePersonOut`` in
        wire form (the people of one cell share ``person_out``'s work)."""
        rows, shown, answer = self.rows, self.shown, self.answer
        for i in positions:
            row = rows[i]
            due = answer(i)
            key = due[1:]
            same = shown.get(key)
            if same is None:
                same = shown[key] = person_out(due, self.day_end, self.rules.policy)
            out = dict(same)
            out["person_id"] = due.person_id
            out["employee_code"] = row["employee_code"]
            out["full_name"] = row["full_name"]
            out["test_cohort"] = row["cohort"]
            yield out

    def items(self, positions: Iterable[int]) -> list[DuePersonOut]:
        """The people at ``positions`` as an enterprise's list shows them (made without a
        second validation: see ``safework_common.answers``)."""
        return trusted_each(DuePersonOut, self.values(positions))

    def item(self, i: int) -> DuePersonOut:
        (person,) = self.items((i,))
        return person

    def urgency(self, i: int) -> tuple[bool, datetime, str]:
        """Overdue first, then by due time (nothing due last), then by employee code."""
        due = self.answer(i)
        return (not due.overdue, due.due_at or _NEVER, self.rows[i]["employee_code"] or "")

    def counts(self) -> DueCounts:
        by_status = [0] * 8
        for status in self.statuses:
            by_status[status] += 1
        people, due, overdue, not_cleared = bulk.tallies(by_status)
        return DueCounts(people=people, due=due, overdue=overdue, not_cleared=not_cleared)


async def evaluate_enterprise(session: AsyncSession, rules: DueRules, enterprise: repo.EnterpriseRow) -> EnterpriseDay:
    """Every active person of the enterprise: one statement, then the rules (the fast path for
    the plain people, the general rules for the others)."""
    at = _ROSTER_AT
    with gc_paused():
        rows = await repo.enterprise_people(session, enterprise.id, rules.as_of, rules.horizon, rules.arrivals_after)
        facts = _with_size(enterprise.facts, len(rows))
        roster = [r["id"] for r in rows] if rules.needs_roster(facts) else ()
        plan = rules.round_plan(facts, roster)
        plain_status = rules.row_status_of(plan, rules.horizon_us)
        statuses: list[int] = []
        answers: dict[int, PersonDue] = {}
        for i, r in enumerate(rows):
            if r[_SPECIAL_AT]:
                due = answers[i] = rules.evaluate(repo.facts(r, rules.horizon_us), plan)
                statuses.append(rules.status(due))
            else:
                statuses.append(plain_status(*r[at : at + 7]))
    return EnterpriseDay(enterprise, rules, plan, rows, statuses, answers)


async def enterprise_due(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    enterprise_id: uuid.UUID,
    day: date | None,
    now: datetime,
) -> EnterpriseDueOut:
    """``GET /v1/enterprises/{id}/due?date=``: everyone due by the end of the day, and everyone
    not cleared to work, most urgent first."""
    enterprise = await visible_enterprise(session, caller, enterprise_id)
    day = day or local_day(now)
    as_of = day_as_of(day, now)
    rules = await rules_at(session, store, as_of)
    policy = rules.policy
    with gc_paused():
        result = await evaluate_enterprise(session, rules, enterprise)
        listed = [i for i, s in enumerate(result.statuses) if s & (DUE_TODAY | NOT_CLEARED)]
        listed.sort(key=result.urgency)
        people = result.items(listed)
    return trusted(
        EnterpriseDueOut,
        {
            "enterprise_id": enterprise.id,
            "date": day,
            "as_of": local(as_of),
            "policy_version": policy.version,
            "round": round_out(result.plan, ratio_out(result.rules, enterprise, result.plan)),
            "counts": result.counts(),
            "people": people,
        },
    )


@dataclass
class Tally:
    people: int = 0
    due: int = 0
    overdue: int = 0
    not_cleared: int = 0

    def out(self) -> dict[str, int]:
        return {"people": self.people, "due": self.due, "overdue": self.overdue, "not_cleared": self.not_cleared}

    def counts(self) -> DueCounts:
        return trusted(DueCounts, self.out())


async def round_plans(
    session: AsyncSession, rules: DueRules, enterprises: Sequence[repo.EnterpriseRow]
) -> dict[uuid.UUID, RoundPlan]:
    """Each enterprise's rounds, the rosters of the ones drawing rotating samples read in one
    statement (on the session's snapshot)."""
    sampled = [e.id for e in enterprises if rules.needs_roster(e.facts)]
    rosters = await repo.rosters(session, sampled)
    plans = {}
    with gc_paused():
        for e in enterprises:
            roster = rosters.get(e.id)
            enterprise = e.facts if roster is None else _with_size(e.facts, len(roster) // 16)
            plans[e.id] = rules.round_plan(enterprise, roster or b"")
    return plans


async def province_tallies(
    session: AsyncSession,
    rules: DueRules,
    enterprises: Sequence[repo.EnterpriseRow],
    *,
    district: str | None,
    zone_type: str | None,
    workers: int | None = None,
) -> dict[uuid.UUID, Tally]:
    """Due, overdue and not-cleared counts of every enterprise in scope: the rounds planned
    once per enterprise, the people streamed and counted in shares reading the request's
    snapshot, side by side in ``workers`` processes (None: by the population, see
    ``bulk.workers_for``), or here for one share."""
    plans = await round_plans(session, rules, enterprises)
    n = bulk.workers_for(sum(e.roster_size for e in enterprises)) if workers is None else workers
    # Each share reads the request's snapshot over a connection of its own (its statements must
    # read one snapshot; the request's transaction reads each statement's own).
    snapshot = await repo.export_snapshot(session)
    url = repo.database_url(session)
    jobs = [
        bulk.Job(
            url,
            snapshot,
            rules.policy,
            tuple(rules.versions),
            rules.as_of,
            plans,
            share,
            serial=n > 1,
        )
        for share in repo.shares(max(n, 1), district, zone_type)
    ]
    if n <= 1:
        with gc_paused():
            shares = [await bulk.count(jobs[0])]
    else:
        shares = await bulk.count_in_workers(jobs)
    out = {e.id: Tally() for e in enterprises}
    for share in shares:
        for eid, counts in share.items():
            people, due, overdue, not_cleared = bulk.tallies(counts)
            t = out[eid]
            t.people += people
            t.due += due
            t.overdue += overdue
            t.not_cleared += not_cleared
    return out


async def province_due(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
) -> ProvinceDueOut:
    """``GET /v1/due``: counts by enterprise for the province or a district."""
    require_role(caller, AUTHORITY)
    district = area(caller, district)
    rules = await rules_at(session, store, as_of)
    policy = rules.policy
    enterprises = await repo.list_enterprises(session, district, zone_type)
    tallies = await province_tallies(session, rules, enterprises, district=district, zone_type=zone_type)
    total = Tally()
    rows = []
    for e in enterprises:
        t = tallies[e.id]
        total.people += t.people
        total.due += t.due
        total.overdue += t.overdue
        total.not_cleared += t.not_cleared
        rows.append(
            trusted(
                EnterpriseDueCounts,
                {"enterprise_id": e.id, "name": e.name, "district": e.district, "zone_type": e.zone_type, **t.out()},
            )
        )
    return trusted(
        ProvinceDueOut,
        {
            "as_of": local(as_of),
            "policy_version": policy.version,
            "district": district,
            "zone_type": zone_type,
            "totals": total.counts(),
            "enterprises": rows,
        },
    )


_STATUS_FLAG = {"due": DUE_TODAY, "overdue": OVERDUE, "not_cleared": NOT_CLEARED}


async def province_people(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
    status: Status,
    cursor: str | None,
    limit: int,
) -> ProvincePeopleOut:
    """``GET /v1/due/people``: due, overdue or not-cleared people across the province or a
    district, by enterprise then person (keyset pages), one statement per enterprise read."""
    require_role(caller, AUTHORITY)
    district = area(caller, district)
    after = decode_keys(cursor, uuid.UUID, uuid.UUID)
    rules = await rules_at(session, store, as_of)
    policy = rules.policy
    flag = _STATUS_FLAG[status]
    items: list[ProvincePersonOut] = []
    more = False
    for enterprise in await repo.list_enterprises(session, district, zone_type):
        if after is not None and enterprise.id < after[0]:
            continue
        result = await evaluate_enterprise(session, rules, enterprise)
        for i in sorted(range(len(result.rows)), key=result.person_id):
            if after is not None and (enterprise.id, result.person_id(i)) <= after:
                continue
            if not result.statuses[i] & flag:
                continue
            if len(items) == limit:
                more = True
                break
            (item,) = result.values((i,))
            item["enterprise_id"] = enterprise.id
            items.append(trusted(ProvincePersonOut, item))
        if more:
            break
    last = items[-1] if more else None
    return trusted(
        ProvincePeopleOut,
        {
            "as_of": local(as_of),
            "policy_version": policy.version,
            "items": items,
            "next_cursor": encode_cursor([last.enterprise_id, last.person_id]) if last else None,
        },
    )
