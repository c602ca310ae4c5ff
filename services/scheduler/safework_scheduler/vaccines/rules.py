"""Vaccine rules: who is due which dose from when, in which order, and how fast a daily capacity
finishes the programme. Pure functions over plain data: no I/O, no framework.

Sources: seeds/000 §2.1 (dose 1 within September 2021, dose 2 by the end of October 2021;
industrial parks first, then clusters, then outside both) and seeds/003 (drivers and driver's
assistants carrying an enterprise's goods share the first tier). The numbers come from the policy
document in force (``VaccinePolicy``); product intervals from the registry's product data.
"""

from __future__ import annotations

import heapq
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from safework_common.contract.policy_document import VaccinePolicy

Ranking = Literal["dose2_first", "dose1_first", "by_eligible_date"]

FIRST_PLAN_DAY = date(2021, 1, 1)
"""No plan starts before the programme's year."""
MAX_HORIZON_DAYS = 366
"""A plan simulates at most this many days (end - start)."""
DAYS_PAST_LAST_DEADLINE = 30
"""Default plan end: this long after the last deadline, so late completions still show a date."""
DAYS_WITHOUT_DEADLINES = 90
"""Default plan length when the policy in force has no deadlines (the July 2021 plan)."""
MAX_DAILY_CAPACITY = 10_000_000
"""Ten times the province's population: anything larger is a typo, not a plan."""


# --- tiers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierTable:
    """``VaccinePolicy.tier_of`` as two look-up tables, so SQL can compute it set-wise:
    tier = min(tier by zone type, tier by job role), the last tier when neither matches."""

    by_zone: Mapping[str, int]
    by_role: Mapping[str, int]
    default: int

    def tier(self, zone_type: str, job_role: str) -> int:
        return min(self.by_zone.get(zone_type, self.default), self.by_role.get(job_role, self.default))


def tier_table(policy: VaccinePolicy) -> TierTable:
    """seeds/000 §2.1 and seeds/003: a person's tier is the best tier their enterprise's zone
    type or their own job role puts them in (a driver of an outside enterprise is tier 1)."""
    default = max(t.tier for t in policy.tiers)
    by_zone: dict[str, int] = {}
    by_role: dict[str, int] = {}
    for t in policy.tiers:
        for zone in t.zone_types:
            by_zone[zone] = min(by_zone.get(zone, default), t.tier)
        for role in t.job_roles:
            by_role[role] = min(by_role.get(role, default), t.tier)
    return TierTable(by_zone=by_zone, by_role=by_role, default=default)


# --- who is due what, from when --------------------------------------------------------------


def dose_rank(dose: int, ranking: Ranking) -> int:
    """Where a dose ranks inside a tier (lower first), per the policy's ``dose2_ranking``.

    ``dose2_first`` (the 2021-09-11 policy): a person due a later dose of a series they started
    comes before anyone due dose 1 in the same tier. A started series is worth finishing: it was
    begun with a product whose doses are already allocated, the interval only grows while the
    person waits, and the dose-2 deadline (31 Oct 2021, seeds/000 §2.1) leaves no slack for
    people whose dose 2 keeps being pushed back by a long dose-1 queue. Dose 1 still beats
    every later dose of a lower tier: the tier order of seeds/000 §2.1 comes first.
    ``dose1_first`` is the reverse; ``by_eligible_date`` mixes doses by the date they fell due.
    """
    if ranking == "by_eligible_date":
        return 0
    first = dose == 1
    if ranking == "dose1_first":
        return 0 if first else 1
    return 1 if first else 0


@dataclass(frozen=True)
class LastDose:
    """A person's highest-numbered dose given by the as-of instant, with its product's data."""

    number: int
    product_code: str
    administered_on: date  # local date, Asia/Ho_Chi_Minh
    min_interval_days: int
    series_length: int


@dataclass(frozen=True)
class NextDose:
    dose: int
    eligible_since: date
    product_code: str | None  # the product of the series being continued; None for dose 1


def dose1_eligible_since(programme_start: date, hire_date: date | None) -> date:
    """Dose 1 is open from the later of the programme's start (the ``effective_from`` of the
    policy version in force) and the person's hire date: seeds/000 §2.1 vaccinates workers, so
    a person is in the programme once both it and their job exist. No hire date: the start."""
    if hire_date is None or hire_date < programme_start:
        return programme_start
    return hire_date


def next_dose(last: LastDose | None, programme_start: date, hire_date: date | None) -> NextDose | None:
    """The dose a person needs next and the local date it opens, or None once the primary
    series is complete. Dose n>1 needs dose n-1 of a product whose series has at least n doses
    and opens the product's minimum interval after dose n-1's local date (DOMAIN.md, product
    data: e.g. 21 or 28 days)."""
    if last is None:
        return NextDose(1, dose1_eligible_since(programme_start, hire_date), None)
    if last.number >= last.series_length:
        return None
    return NextDose(last.number + 1, last.administered_on + timedelta(days=last.min_interval_days), last.product_code)


@dataclass(frozen=True)
class PersonFacts:
    """What the queue rule needs to know about one person, as of an instant."""

    person_id: uuid.UUID
    enterprise_id: uuid.UUID
    district: str
    zone_type: str
    job_role: str
    active: bool
    hire_date: date | None
    last_dose: LastDose | None


@dataclass(frozen=True)
class QueueEntry:
    person_id: uuid.UUID
    enterprise_id: uuid.UUID
    district: str
    tier: int
    dose: int
    product_code: str | None
    eligible_since: date


QueueKey = tuple[int, int, date, uuid.UUID]
"""(tier, dose rank, eligible since, person id): the queue order, and the keyset cursor."""


def queue_entry(person: PersonFacts, tiers: TierTable, programme_start: date, on: date) -> QueueEntry | None:
    """A person's place in the queue on a local date, or None: people who left, whose series is
    complete, or whose next dose is not open yet on that date are not in the queue."""
    if not person.active:
        return None
    due = next_dose(person.last_dose, programme_start, person.hire_date)
    if due is None or due.eligible_since > on:
        return None
    return QueueEntry(
        person_id=person.person_id,
        enterprise_id=person.enterprise_id,
        district=person.district,
        tier=tiers.tier(person.zone_type, person.job_role),
        dose=due.dose,
        product_code=due.product_code,
        eligible_since=due.eligible_since,
    )


def queue_key(entry: QueueEntry, ranking: Ranking) -> QueueKey:
    """Tier first (seeds/000 §2.1), then the dose rank, then who has waited longest, then the
    person id so the order is total and stable across pages."""
    return (entry.tier, dose_rank(entry.dose, ranking), entry.eligible_since, entry.person_id)


def order_queue(entries: Iterable[QueueEntry], ranking: Ranking) -> list[QueueEntry]:
    return sorted(entries, key=lambda e: queue_key(e, ranking))


# --- the capacity plan -----------------------------------------------------------------------


@dataclass(frozen=True)
class Demand:
    """People who need ``dose`` (and every later dose of their series) and can have it from
    ``eligible_on``; counted, not listed, so a province simulates in milliseconds."""

    tier: int
    dose: int
    eligible_on: date
    district: str
    interval_days: int
    series_length: int
    people: int


@dataclass(frozen=True)
class DemandRow:
    """A grouped count as the adapter reads it: dose-1 rows have no product yet."""

    tier: int
    dose: int
    eligible_on: date
    district: str
    interval_days: int | None
    series_length: int | None
    people: int


def with_dose1_product(rows: Iterable[DemandRow], interval_days: int, series_length: int) -> list[Demand]:
    """New series start with the plan's dose-1 product: its interval and series length decide
    when and whether their later doses fall due."""
    return [
        Demand(
            tier=r.tier,
            dose=r.dose,
            eligible_on=r.eligible_on,
            district=r.district,
            interval_days=interval_days if r.interval_days is None else r.interval_days,
            series_length=series_length if r.series_length is None else r.series_length,
            people=r.people,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class TotalCapacity:
    per_day: int


@dataclass(frozen=True)
class DistrictCapacity:
    """Each district's doses serve only that district's people."""

    per_day: Mapping[str, int]


Capacity = TotalCapacity | DistrictCapacity


@dataclass(frozen=True)
class PlanWindow:
    start: date
    end: date  # inclusive
    ranking: Ranking
    deadlines: Mapping[int, date]
    tiers: tuple[int, ...]

    @property
    def entry_cutoff(self) -> date | None:
        """seeds/000 §2.1 sets its targets for the workforce of September 2021: people who can
        start their series (dose 1 open) on or before the first deadline are held to every
        deadline; people who enter later (hired in October) are planned but not held to them,
        or no capacity could ever meet a deadline while hiring goes on."""
        return min(self.deadlines.values()) if self.deadlines else None

    def holds(self, row: Demand) -> bool:
        """Whether a bucket's people are held to the deadlines: everyone with a series under
        way, and everyone whose dose 1 opens by the entry cutoff."""
        cutoff = self.entry_cutoff
        return cutoff is not None and (row.dose > 1 or row.eligible_on <= cutoff)


@dataclass(frozen=True)
class GroupOutcome:
    """One tier's progress on one dose. ``people`` still need the dose as of the as-of instant
    (eligible now or later); ``completed_on`` is the day the last of them gets it (None: not
    within the horizon, or no one needs it). ``held`` of them are held to the dose's deadline
    (see ``PlanWindow.entry_cutoff``) and ``held_completed_on`` is when the last of those gets
    it; ``met`` compares that with the deadline (None: the policy sets no deadline)."""

    tier: int
    dose: int
    people: int
    completed_on: date | None
    deadline: date | None
    held: int
    held_completed_on: date | None
    met: bool | None


@dataclass(frozen=True)
class Simulation:
    groups: tuple[GroupOutcome, ...]
    totals: tuple[GroupOutcome, ...]  # per dose, every tier (``tier`` is 0)
    doses_needed: int
    doses_given: int
    all_deadlines_met: bool | None
    districts_without_capacity: tuple[str, ...]


def _met(held: int, completed_on: date | None, deadline: date | None) -> bool | None:
    if deadline is None:
        return None
    if held == 0:
        return True
    return completed_on is not None and completed_on <= deadline


def _last(dates: list[date | None]) -> date | None:
    """The day the last of several groups completes: None if any does not (or there are none)."""
    if not dates or any(d is None for d in dates):
        return None
    return max(d for d in dates if d is not None)


_Key = tuple[int, int, int, int, int, int, str, bool]
"""(tier, dose rank, eligible ordinal, dose, interval, series length, district, held): the queue
order of seeds/000 §2.1 on a bucket of people instead of one person."""
_Group = tuple[int, int, bool]
"""(tier, dose, held to the deadlines)."""


@dataclass
class _Pool:
    """One capacity's queue: buckets open today in a heap, later ones waiting by date."""

    capacity: int
    ready: list[_Key] = field(default_factory=list)
    counts: dict[_Key, int] = field(default_factory=dict)
    pending: dict[int, dict[_Key, int]] = field(default_factory=dict)

    def add(self, key: _Key, people: int, opens: int) -> None:
        waiting = self.pending.setdefault(opens, {})
        waiting[key] = waiting.get(key, 0) + people

    def open(self, day: int) -> None:
        """Days are visited one by one and nothing waits for a day before the start."""
        for key, people in self.pending.pop(day, {}).items():
            if key in self.counts:
                self.counts[key] += people
            else:
                self.counts[key] = people
                heapq.heappush(self.ready, key)


@dataclass(frozen=True)
class _Buckets:
    """Demand turned into queue keys once, so the capacity search re-runs only the days."""

    entries: tuple[tuple[_Key, int, int], ...]  # key, people, the day it opens
    need: Mapping[_Group, int]


def _buckets(demand: Sequence[Demand], window: PlanWindow, by_district: bool) -> _Buckets:
    """One entry per queue key; without per-district capacity the district does not matter and
    buckets of all districts merge (ten times fewer for the province)."""
    start = window.start.toordinal()
    need: dict[_Group, int] = {}
    entries: dict[tuple[_Key, int], int] = {}
    for row in demand:
        if row.people <= 0:
            continue
        held = window.holds(row)
        for k in range(row.dose, max(row.dose, row.series_length) + 1):
            need[(row.tier, k, held)] = need.get((row.tier, k, held), 0) + row.people
        rank = dose_rank(row.dose, window.ranking)
        eligible = row.eligible_on.toordinal()
        district = row.district if by_district else ""
        key = (row.tier, rank, eligible, row.dose, row.interval_days, row.series_length, district, held)
        opens = max(eligible, start)
        entries[(key, opens)] = entries.get((key, opens), 0) + row.people
    return _Buckets(tuple((key, people, opens) for (key, opens), people in entries.items()), need)


def simulate(demand: Sequence[Demand], capacity: Capacity, window: PlanWindow) -> Simulation:
    """Day by day from ``window.start`` to ``window.end``: each day every capacity gives up to its
    doses to the people open that day, in queue order (tier, dose rank, eligible date); a dose n
    given on day d opens dose n+1 on d + the product's interval while the series lasts (never
    the same day). Per-district capacity serves only its own district's people."""
    return _run(_buckets(demand, window, isinstance(capacity, DistrictCapacity)), capacity, window)


def _run(buckets: _Buckets, capacity: Capacity, window: PlanWindow) -> Simulation:
    start, end = window.start.toordinal(), window.end.toordinal()
    need = buckets.need
    pools: dict[str | None, _Pool] = {}
    unserved: set[str] = set()
    for key, people, opens in buckets.entries:
        district = key[6]
        pool_id: str | None = None
        if isinstance(capacity, DistrictCapacity):
            if district not in capacity.per_day:
                unserved.add(district)
                continue
            pool_id = district
        pool = pools.get(pool_id)
        if pool is None:
            per_day = capacity.per_day if isinstance(capacity, TotalCapacity) else capacity.per_day[district]
            pool = pools[pool_id] = _Pool(per_day)
        pool.add(key, people, opens)

    remaining = dict(need)
    completed: dict[_Group, date] = {}
    given = 0
    live = [p for p in pools.values() if p.capacity > 0]
    day = start
    while live and day <= end:
        for pool in live:
            pool.open(day)
            left = pool.capacity
            ready, counts = pool.ready, pool.counts
            while left and ready:
                key = ready[0]
                people = counts[key]
                take = people if people <= left else left
                if take == people:
                    heapq.heappop(ready)
                    del counts[key]
                else:
                    counts[key] = people - take
                left -= take
                given += take
                tier, _, _, dose, interval, series, district, held = key
                group = (tier, dose, held)
                remaining[group] -= take
                if remaining[group] == 0:
                    completed[group] = date.fromordinal(day)
                if dose < series:
                    nxt = dose + 1
                    opens = day + max(interval, 1)  # never two doses on one day
                    pool.add(
                        (tier, dose_rank(nxt, window.ranking), opens, nxt, interval, series, district, held),
                        take,
                        opens,
                    )
        live = [p for p in live if p.ready or p.pending]
        day += 1

    def outcome(tier: int, dose: int, parts: list[tuple[int, int]]) -> GroupOutcome:
        """Merge the (tier, dose, held) groups of ``parts`` into one outcome."""
        people = held = 0
        all_dates: list[date | None] = []
        held_dates: list[date | None] = []
        for t, k in parts:
            for h in (False, True):
                n = need.get((t, k, h), 0)
                if n:
                    people += n
                    all_dates.append(completed.get((t, k, h)))
                    if h:
                        held += n
                        held_dates.append(completed.get((t, k, h)))
        deadline = window.deadlines.get(dose)
        held_done = _last(held_dates)
        return GroupOutcome(
            tier, dose, people, _last(all_dates), deadline, held, held_done, _met(held, held_done, deadline)
        )

    doses = sorted({1, *window.deadlines, *(k for _, k, _ in need)})
    tiers = sorted({*window.tiers, *(t for t, _, _ in need)})
    groups = tuple(outcome(t, k, [(t, k)]) for t in tiers for k in doses)
    totals = tuple(outcome(0, k, [(t, k) for t in tiers]) for k in doses)
    return Simulation(
        groups=groups,
        totals=totals,
        doses_needed=sum(need.values()),
        doses_given=given,
        all_deadlines_met=all(g.met is not False for g in groups) if window.deadlines else None,
        districts_without_capacity=tuple(sorted(unserved)),
    )


def _smallest(meets: Callable[[int], bool], low: int, high: int) -> int | None:
    """The smallest n in [low, high] with ``meets(n)``, for a predicate monotone in n."""
    if not meets(high):
        return None
    while low < high:
        mid = (low + high) // 2
        if meets(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _search_window(window: PlanWindow) -> PlanWindow:
    """Only the days up to the last deadline decide whether deadlines are met."""
    last = max(window.deadlines.values())
    return PlanWindow(window.start, min(window.end, last), window.ranking, window.deadlines, window.tiers)


def _held_doses(row: Demand, window: PlanWindow) -> int:
    """Doses with a deadline that a bucket's people are held to."""
    if not window.holds(row):
        return 0
    return row.people * sum(1 for k in range(row.dose, max(row.dose, row.series_length) + 1) if k in window.deadlines)


def minimal_total_capacity(demand: Sequence[Demand], window: PlanWindow) -> int | None:
    """The smallest total daily capacity that meets every deadline, by bisection over
    :func:`simulate`. Meeting the deadlines is monotone in capacity on province-shaped data
    (tested), which the bisection relies on; the greedy queue order admits small contrived
    exceptions under ``dose2_first`` (tested too), where the answer still meets every deadline
    but a smaller capacity might as well. The upper bound, one dose a day per dose still due,
    gives everyone each dose on the day it opens: if that misses, no capacity can (None).
    0 when no one is held to a deadline; None also when the policy has no deadlines."""
    if not window.deadlines:
        return None
    needed = sum(_held_doses(r, window) for r in demand)
    if needed == 0:
        return 0
    high = sum(r.people * (max(r.dose, r.series_length) - r.dose + 1) for r in demand)
    w = _search_window(window)
    buckets = _buckets(demand, w, by_district=False)
    return _smallest(lambda c: _run(buckets, TotalCapacity(c), w).all_deadlines_met is True, 1, high)


def scale_capacity(base: Mapping[str, int], percent: int) -> dict[str, int]:
    """A per-district map scaled uniformly, rounded up: ``ceil(base * percent / 100)``."""
    return {d: -(-c * percent // 100) for d, c in base.items()}


def minimal_district_scale(demand: Sequence[Demand], base: Mapping[str, int], window: PlanWindow) -> int | None:
    """The smallest uniform scaling of a per-district map (in percent, rounded up per district)
    that meets every deadline, by bisection as :func:`minimal_total_capacity`; districts are
    independent, each monotone in its own capacity. 0 when no one is held to a deadline; None
    when a district with such people has no capacity, no scaling can do it, or the policy has no
    deadlines."""
    if not window.deadlines:
        return None
    held: dict[str, int] = {}
    doses: dict[str, int] = {}
    for r in demand:
        held[r.district] = held.get(r.district, 0) + _held_doses(r, window)
        doses[r.district] = doses.get(r.district, 0) + r.people * (max(r.dose, r.series_length) - r.dose + 1)
    if not any(held.values()):
        return 0
    if any(n and base.get(d, 0) <= 0 for d, n in held.items()):
        return None
    high = max(math.ceil(100 * doses[d] / base[d]) for d, n in held.items() if n)
    w = _search_window(window)
    buckets = _buckets(demand, w, by_district=True)
    return _smallest(
        lambda p: _run(buckets, DistrictCapacity(scale_capacity(base, p)), w).all_deadlines_met is True,
        1,
        max(high, 1),
    )


@dataclass(frozen=True)
class MinimalCapacityResult:
    """The smallest capacity meeting every deadline: ``total`` for a province-wide capacity,
    ``scale_percent`` and ``by_district`` for a per-district map; ``reason`` when there is none."""

    total: int | None = None
    scale_percent: int | None = None
    by_district: Mapping[str, int] | None = None
    reason: Literal["no_deadlines", "unreachable", "district_without_capacity"] | None = None


@dataclass(frozen=True)
class PlanOutcome:
    simulation: Simulation
    minimal: MinimalCapacityResult


def plan(demand: Sequence[Demand], capacity: Capacity, window: PlanWindow) -> PlanOutcome:
    """The plan: one simulation at the given capacity, and the smallest capacity of the same
    kind (a total, or a uniform scaling of the same district map) that meets every deadline."""
    simulation = simulate(demand, capacity, window)
    if not window.deadlines:
        return PlanOutcome(simulation, MinimalCapacityResult(reason="no_deadlines"))
    if isinstance(capacity, TotalCapacity):
        total = minimal_total_capacity(demand, window)
        minimal = MinimalCapacityResult(total=total, reason="unreachable" if total is None else None)
        return PlanOutcome(simulation, minimal)
    percent = minimal_district_scale(demand, capacity.per_day, window)
    if percent is None:
        uncovered = any(capacity.per_day.get(r.district, 0) <= 0 and _held_doses(r, window) for r in demand)
        reason: Literal["unreachable", "district_without_capacity"] = (
            "district_without_capacity" if uncovered else "unreachable"
        )
        return PlanOutcome(simulation, MinimalCapacityResult(reason=reason))
    return PlanOutcome(
        simulation,
        MinimalCapacityResult(scale_percent=percent, by_district=scale_capacity(capacity.per_day, percent)),
    )


# --- inputs ----------------------------------------------------------------------------------


def default_end(start: date, deadlines: Mapping[int, date]) -> date:
    """A bit past the last deadline (so a late finish still gets a date), at most the longest
    horizon; without deadlines, a quarter from the start."""
    if deadlines:
        end = max(deadlines.values()) + timedelta(days=DAYS_PAST_LAST_DEADLINE)
        if end > start:
            return min(end, start + timedelta(days=MAX_HORIZON_DAYS))
    return start + timedelta(days=DAYS_WITHOUT_DEADLINES)


@dataclass(frozen=True)
class Problem:
    """An input the plan refuses: the offending field, a stable code, a message."""

    field: str
    code: str
    message: str


def plan_input_problems(start: date, end: date, capacity: Capacity) -> list[Problem]:
    """Positive capacities, a start in the programme's years, an end after it, a bounded horizon."""
    problems = []
    if isinstance(capacity, TotalCapacity):
        if not 0 < capacity.per_day <= MAX_DAILY_CAPACITY:
            problems.append(
                Problem(
                    "body.daily_capacity",
                    "capacity_out_of_range",
                    f"Daily capacity must be between 1 and {MAX_DAILY_CAPACITY}.",
                )
            )
    else:
        if not capacity.per_day:
            problems.append(Problem("body.daily_capacity", "capacity_empty", "Name at least one district."))
        for district, n in sorted(capacity.per_day.items()):
            if not 0 < n <= MAX_DAILY_CAPACITY:
                problems.append(
                    Problem(
                        f"body.daily_capacity.{district}",
                        "capacity_out_of_range",
                        f"Daily capacity must be between 1 and {MAX_DAILY_CAPACITY}.",
                    )
                )
    if start < FIRST_PLAN_DAY:
        problems.append(Problem("body.start", "start_too_early", f"The plan cannot start before {FIRST_PLAN_DAY}."))
    if end <= start:
        problems.append(Problem("body.end", "end_not_after_start", "The end must be after the start."))
    elif (end - start).days > MAX_HORIZON_DAYS:
        problems.append(Problem("body.end", "horizon_too_long", f"A plan covers at most {MAX_HORIZON_DAYS} days."))
    return problems
