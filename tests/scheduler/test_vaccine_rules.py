"""The vaccine rules as pure functions: each case names the rule it checks (seeds/000 §2.1,
seeds/003, product intervals) with concrete 2021 dates."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from safework_scheduler.policy.files import read_versions
from safework_scheduler.vaccines.rules import (
    MAX_DAILY_CAPACITY,
    Demand,
    DemandRow,
    DistrictCapacity,
    GroupOutcome,
    LastDose,
    NextDose,
    PersonFacts,
    PlanWindow,
    QueueEntry,
    Ranking,
    TotalCapacity,
    default_end,
    dose_rank,
    minimal_district_scale,
    minimal_total_capacity,
    next_dose,
    order_queue,
    plan,
    plan_input_problems,
    queue_entry,
    scale_capacity,
    simulate,
    tier_table,
    with_dose1_product,
)

POLICIES = {d.version: d for d in read_versions()}
SEPTEMBER = POLICIES["2021-09-11"]
JULY = POLICIES["2021-07-20"]
DEADLINES = {1: date(2021, 9, 30), 2: date(2021, 10, 31)}
PROGRAMME_START = date(2021, 9, 11)


def window(
    start: date,
    end: date = date(2021, 11, 30),
    ranking: Ranking = "dose2_first",
    deadlines: dict[int, date] | None = None,
) -> PlanWindow:
    return PlanWindow(start, end, ranking, DEADLINES if deadlines is None else deadlines, (1, 2, 3))


def demand(
    people: int,
    *,
    tier: int = 1,
    dose: int = 1,
    eligible_on: date = date(2021, 9, 1),
    district: str = "Việt Yên",
    interval: int = 21,
    series: int = 2,
) -> Demand:
    return Demand(tier, dose, eligible_on, district, interval, series, people)


# --- tiers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2021-07-20", "2021-09-11"])
@pytest.mark.parametrize("zone_type", ["KCN", "CCN", "OUTSIDE"])
@pytest.mark.parametrize(
    "job_role", ["worker", "manager", "expert", "freight_driver", "freight_driver_assistant", "shuttle_driver"]
)
def test_tier_table_is_the_policy_tier_of(version: str, zone_type: str, job_role: str) -> None:
    """The SQL look-up tables give the same tier as VaccinePolicy.tier_of for every person."""
    policy = POLICIES[version].vaccines
    assert tier_table(policy).tier(zone_type, job_role) == policy.tier_of(zone_type, job_role)


@pytest.mark.parametrize(
    ("rule", "zone_type", "job_role", "tier"),
    [
        ("seeds/000 §2.1: workers in industrial parks (KCN) first", "KCN", "worker", 1),
        ("seeds/003: freight drivers share the first tier, even outside the parks", "OUTSIDE", "freight_driver", 1),
        ("seeds/003: a freight driver in a cluster is tier 1, not 2", "CCN", "freight_driver", 1),
        (
            "seeds/003 'phụ xe': a freight driver's assistant shares the first tier",
            "OUTSIDE",
            "freight_driver_assistant",
            1,
        ),
        ("seeds/003 'vận chuyển hàng hóa': a passenger-shuttle driver does not", "OUTSIDE", "shuttle_driver", 3),
        ("seeds/003: a passenger-shuttle driver in a cluster is tier 2 like its workers", "CCN", "shuttle_driver", 2),
        ("seeds/000 §2.1: then industrial clusters (CCN)", "CCN", "manager", 2),
        ("seeds/000 §2.1: then everyone outside both", "OUTSIDE", "expert", 3),
    ],
)
def test_tier_from_zone_type_and_job_role(rule: str, zone_type: str, job_role: str, tier: int) -> None:
    assert tier_table(SEPTEMBER.vaccines).tier(zone_type, job_role) == tier, rule


# --- next dose -------------------------------------------------------------------------------


def last(number: int, product: str, on: date, interval: int, series: int = 2) -> LastDose:
    return LastDose(number, product, on, interval, series)


@pytest.mark.parametrize(
    ("rule", "last_dose", "hire_date", "expected"),
    [
        (
            "no dose yet, hired before the programme: dose 1 from the policy's effective date (11 Sep 2021)",
            None,
            date(2019, 3, 1),
            NextDose(1, date(2021, 9, 11), None),
        ),
        (
            "no dose yet, hired after the programme started: dose 1 from the hire date",
            None,
            date(2021, 9, 20),
            NextDose(1, date(2021, 9, 20), None),
        ),
        ("no hire date on file: dose 1 from the programme start", None, None, NextDose(1, date(2021, 9, 11), None)),
        (
            "Pfizer dose 1 on 15 Sep 2021: dose 2 after its 21 days, on 6 Oct",
            last(1, "PFIZER", date(2021, 9, 15), 21),
            None,
            NextDose(2, date(2021, 10, 6), "PFIZER"),
        ),
        (
            "AstraZeneca dose 1 on 1 Aug 2021: dose 2 after 8 weeks, on 26 Sep",
            last(1, "AZ", date(2021, 8, 1), 56),
            None,
            NextDose(2, date(2021, 9, 26), "AZ"),
        ),
        (
            "the hire date does not delay a dose 2",
            last(1, "VERO", date(2021, 9, 1), 21),
            date(2021, 10, 1),
            NextDose(2, date(2021, 9, 22), "VERO"),
        ),
        (
            "a three-dose series (Abdala, 14 days) continues to dose 3",
            last(2, "ABDALA", date(2021, 9, 20), 14, 3),
            None,
            NextDose(3, date(2021, 10, 4), "ABDALA"),
        ),
        ("dose 2 of a two-dose series completes it", last(2, "PFIZER", date(2021, 9, 1), 21), None, None),
        ("a single-dose product completes after dose 1", last(1, "JANSSEN", date(2021, 9, 1), 0, 1), None, None),
    ],
)
def test_next_dose(rule: str, last_dose: LastDose | None, hire_date: date | None, expected: NextDose | None) -> None:
    assert next_dose(last_dose, PROGRAMME_START, hire_date) == expected, rule


# --- the queue -------------------------------------------------------------------------------

ENTERPRISE = uuid.UUID(int=1)


def person(
    n: int,
    *,
    zone_type: str = "KCN",
    job_role: str = "worker",
    active: bool = True,
    hire_date: date | None = None,
    last_dose: LastDose | None = None,
) -> PersonFacts:
    return PersonFacts(uuid.UUID(int=n), ENTERPRISE, "Việt Yên", zone_type, job_role, active, hire_date, last_dose)


ON = date(2021, 9, 20)


@pytest.mark.parametrize(
    ("rule", "facts", "expected"),
    [
        (
            "an active worker with no dose is in the queue for dose 1",
            person(1),
            (1, 1, date(2021, 9, 11), None),
        ),
        ("only active people (person.status = 'active')", person(2, active=False), None),
        ("hired on 1 Oct 2021: not eligible yet on 20 Sep", person(3, hire_date=date(2021, 10, 1)), None),
        (
            "dose 2 open since 10 Sep (Pfizer dose 1 on 20 Aug)",
            person(4, zone_type="CCN", last_dose=last(1, "PFIZER", date(2021, 8, 20), 21)),
            (2, 2, date(2021, 9, 10), "PFIZER"),
        ),
        (
            "dose 2 not open until 26 Sep (Pfizer dose 1 on 5 Sep): not in the queue yet",
            person(5, last_dose=last(1, "PFIZER", date(2021, 9, 5), 21)),
            None,
        ),
        (
            "dose 2 opening on the queue's own date is in it",
            person(6, zone_type="OUTSIDE", last_dose=last(1, "PFIZER", date(2021, 8, 30), 21)),
            (3, 2, date(2021, 9, 20), "PFIZER"),
        ),
        (
            "a completed series is not in the queue",
            person(7, last_dose=last(2, "AZ", date(2021, 8, 1), 56)),
            None,
        ),
    ],
)
def test_queue_entry(rule: str, facts: PersonFacts, expected: tuple[int, int, date, str | None] | None) -> None:
    entry = queue_entry(facts, tier_table(SEPTEMBER.vaccines), PROGRAMME_START, ON)
    got = None if entry is None else (entry.tier, entry.dose, entry.eligible_since, entry.product_code)
    assert got == expected, rule


def entry(n: int, tier: int, dose: int, since: date) -> QueueEntry:
    return QueueEntry(uuid.UUID(int=n), ENTERPRISE, "Việt Yên", tier, dose, "PFIZER" if dose > 1 else None, since)


QUEUE = [
    entry(1, 1, 1, date(2021, 9, 11)),
    entry(2, 1, 2, date(2021, 9, 15)),
    entry(3, 2, 2, date(2021, 9, 1)),
    entry(4, 1, 1, date(2021, 9, 11)),
    entry(5, 1, 2, date(2021, 9, 12)),
    entry(6, 3, 1, date(2021, 9, 11)),
    entry(7, 2, 1, date(2021, 9, 11)),
]


@pytest.mark.parametrize(
    ("rule", "ranking", "order"),
    [
        (
            "dose2_first (2021-09-11 policy): tier, then a started series, then eligible date, then person id",
            "dose2_first",
            [5, 2, 1, 4, 3, 7, 6],
        ),
        ("dose1_first: tier, then dose 1 before later doses", "dose1_first", [1, 4, 5, 2, 7, 3, 6]),
        (
            "by_eligible_date: tier, then who fell due first whatever the dose",
            "by_eligible_date",
            [1, 4, 5, 2, 3, 7, 6],
        ),
    ],
)
def test_queue_order(rule: str, ranking: Ranking, order: list[int]) -> None:
    assert [e.person_id.int for e in order_queue(QUEUE, ranking)] == order, rule


@pytest.mark.parametrize(
    ("rule", "ranking", "dose", "rank"),
    [
        ("dose2_first: dose 2 ranks before dose 1", "dose2_first", 2, 0),
        ("dose2_first: a dose 3 continues a series too", "dose2_first", 3, 0),
        ("dose2_first: dose 1 after", "dose2_first", 1, 1),
        ("dose1_first: dose 1 before", "dose1_first", 1, 0),
        ("dose1_first: dose 2 after", "dose1_first", 2, 1),
        ("by_eligible_date: every dose ranks alike", "by_eligible_date", 2, 0),
    ],
)
def test_dose_rank(rule: str, ranking: Ranking, dose: int, rank: int) -> None:
    assert dose_rank(dose, ranking) == rank, rule


# --- the simulation --------------------------------------------------------------------------


def outcome(sim_groups: Sequence[GroupOutcome], tier: int, dose: int) -> tuple[int, date | None, bool | None]:
    for g in sim_groups:
        if (g.tier, g.dose) == (tier, dose):
            return g.people, g.completed_on, g.met
    raise AssertionError((tier, dose))


def test_tier_order_of_seeds_000_day_by_day() -> None:
    """seeds/000 §2.1: parks (tier 1) before clusters (tier 2). 50 doses a day from 1 Sep 2021,
    Pfizer 21 days: tier 1 dose 1 on 1-2 Sep, tier 2 on 3-4 Sep; dose 2s from 22 Sep."""
    sim = simulate([demand(100, tier=1), demand(100, tier=2)], TotalCapacity(50), window(date(2021, 9, 1)))
    assert outcome(sim.groups, 1, 1) == (100, date(2021, 9, 2), True)
    assert outcome(sim.groups, 2, 1) == (100, date(2021, 9, 4), True)
    assert outcome(sim.groups, 1, 2) == (100, date(2021, 9, 23), True)
    assert outcome(sim.groups, 2, 2) == (100, date(2021, 9, 25), True)
    assert outcome(sim.groups, 3, 1) == (0, None, True)
    assert (sim.doses_needed, sim.doses_given, sim.all_deadlines_met) == (400, 400, True)
    assert [(t.dose, t.people, t.completed_on, t.met) for t in sim.totals] == [
        (1, 200, date(2021, 9, 4), True),
        (2, 200, date(2021, 9, 25), True),
    ]


@pytest.mark.parametrize(
    ("rule", "ranking", "dose1_done", "dose2_done"),
    [
        # 10 a day from 1 Sep; 10 people due dose 2 and 10 due dose 1, both since 1 Sep.
        ("dose2_first: the started series is finished first", "dose2_first", date(2021, 9, 2), date(2021, 9, 23)),
        ("dose1_first: dose 1s go first", "dose1_first", date(2021, 9, 1), date(2021, 9, 22)),
    ],
)
def test_dose_ranking_inside_a_tier(rule: str, ranking: Ranking, dose1_done: date, dose2_done: date) -> None:
    sim = simulate(
        [demand(10, dose=1), demand(10, dose=2)], TotalCapacity(10), window(date(2021, 9, 1), ranking=ranking)
    )
    assert outcome(sim.groups, 1, 1)[1] == dose1_done, rule
    assert outcome(sim.groups, 1, 2)[1] == dose2_done, rule


def test_people_waiting_before_the_start_are_served_from_the_start() -> None:
    """Eligible since August, the plan starts on 20 Sep 2021: served from the 20th."""
    sim = simulate([demand(10, eligible_on=date(2021, 8, 1))], TotalCapacity(5), window(date(2021, 9, 20)))
    assert outcome(sim.groups, 1, 1)[1] == date(2021, 9, 21)


def test_future_eligibility_is_future_demand() -> None:
    """Hired on 25 Sep 2021 (or dose 2 opening then): counted now, served from that day."""
    sim = simulate([demand(4, eligible_on=date(2021, 9, 25))], TotalCapacity(100), window(date(2021, 9, 20)))
    assert outcome(sim.groups, 1, 1) == (4, date(2021, 9, 25), True)
    assert outcome(sim.groups, 1, 2) == (4, date(2021, 10, 16), True)


def test_per_district_capacity_serves_only_its_district() -> None:
    """Việt Yên's 100 a day cannot help Yên Dũng's 10 a day."""
    d = [demand(100, district="Việt Yên"), demand(100, district="Yên Dũng")]
    sim = simulate(d, DistrictCapacity({"Việt Yên": 100, "Yên Dũng": 10}), window(date(2021, 9, 1)))
    assert outcome(sim.groups, 1, 1) == (200, date(2021, 9, 10), True)
    total = simulate(d, TotalCapacity(110), window(date(2021, 9, 1)))
    assert outcome(total.groups, 1, 1)[1] == date(2021, 9, 2)


def test_a_district_without_capacity_never_completes() -> None:
    sim = simulate(
        [demand(10, district="Việt Yên"), demand(10, district="Sơn Động")],
        DistrictCapacity({"Việt Yên": 100}),
        window(date(2021, 9, 1)),
    )
    assert sim.districts_without_capacity == ("Sơn Động",)
    assert outcome(sim.groups, 1, 1) == (20, None, False)
    assert sim.all_deadlines_met is False


def test_missed_deadline_has_a_date() -> None:
    """100 people at 3 a day from 1 Sep 2021, AstraZeneca (56 days): dose 1 done 4 Oct, after
    30 Sep; their dose 2s from 27 Oct run to 29 Nov, after 31 Oct."""
    sim = simulate([demand(100, interval=56)], TotalCapacity(3), window(date(2021, 9, 1)))
    assert outcome(sim.groups, 1, 1) == (100, date(2021, 10, 4), False)
    assert outcome(sim.groups, 1, 2) == (100, date(2021, 11, 29), False)
    assert sim.all_deadlines_met is False


def test_completion_beyond_the_horizon_is_null() -> None:
    """1,000 people at 20 a day from 1 Sep 2021 (Pfizer, dose2_first): dose 1 stops on 22 Sep
    while the returning dose 2s take every dose, and cannot finish by a 31 Oct horizon."""
    sim = simulate([demand(1000)], TotalCapacity(20), window(date(2021, 9, 1), end=date(2021, 10, 31)))
    assert outcome(sim.groups, 1, 1) == (1000, None, False)
    assert outcome(sim.groups, 1, 2) == (1000, None, False)
    assert sim.doses_given < sim.doses_needed


def test_a_policy_without_deadlines_checks_none() -> None:
    """The July 2021 plan (seeds/004) set no deadlines: met is null, no minimal capacity."""
    w = window(date(2021, 8, 1), deadlines=dict(JULY.vaccines.deadlines))
    result = plan([demand(10)], TotalCapacity(10), w)
    assert result.simulation.all_deadlines_met is None
    assert outcome(result.simulation.groups, 1, 1)[2] is None
    assert result.minimal.reason == "no_deadlines" and result.minimal.total is None


def test_three_dose_series_counts_every_remaining_dose() -> None:
    sim = simulate([demand(5, interval=14, series=3)], TotalCapacity(5), window(date(2021, 9, 1)))
    assert outcome(sim.groups, 1, 3) == (5, date(2021, 9, 29), None)
    assert sim.doses_needed == 15


def test_new_dose1s_take_the_plan_product() -> None:
    rows = [
        DemandRow(1, 1, date(2021, 9, 11), "Việt Yên", None, None, 7),
        DemandRow(1, 2, date(2021, 9, 15), "Việt Yên", 56, 2, 3),
    ]
    assert with_dose1_product(rows, 21, 2) == [
        Demand(1, 1, date(2021, 9, 11), "Việt Yên", 21, 2, 7),
        Demand(1, 2, date(2021, 9, 15), "Việt Yên", 56, 2, 3),
    ]


@pytest.mark.parametrize(
    ("rule", "row", "deadlines", "held"),
    [
        (
            "seeds/000 §2.1: dose 1 open by 30 Sep 2021 is held to the deadlines",
            demand(1, eligible_on=date(2021, 9, 30)),
            DEADLINES,
            True,
        ),
        (
            "hired 1 Oct 2021: planned, not held to the September target",
            demand(1, eligible_on=date(2021, 10, 1)),
            DEADLINES,
            False,
        ),
        (
            "a series under way is held, even if dose 2 opens in November",
            demand(1, dose=2, eligible_on=date(2021, 11, 5)),
            DEADLINES,
            True,
        ),
        ("no deadlines (July 2021 plan): no one is held", demand(1), {}, False),
    ],
)
def test_who_the_deadlines_hold(rule: str, row: Demand, deadlines: dict[int, date], held: bool) -> None:
    assert window(date(2021, 9, 1), deadlines=deadlines).holds(row) is held, rule


def test_later_hires_do_not_make_the_deadlines_unreachable() -> None:
    """50 hires of 10 Oct 2021 wait behind the Moderna dose 2s coming back until 18 Oct
    (dose2_first) and get dose 1 on 19-20 Oct; the deadlines hold only September's workforce,
    so 22 a day still meets them (600 dose 1s by 28 Sep), with the hires planned beside."""
    d = [demand(600, interval=28), demand(50, eligible_on=date(2021, 10, 10))]
    w = window(date(2021, 9, 1))
    sim = simulate(d, TotalCapacity(30), w)
    g = next(g for g in sim.groups if (g.tier, g.dose) == (1, 1))
    assert (g.people, g.completed_on, g.held, g.held_completed_on, g.met) == (
        650,
        date(2021, 10, 20),
        600,
        date(2021, 9, 20),
        True,
    )
    assert minimal_total_capacity(d, w) == 22


# --- the smallest capacity -------------------------------------------------------------------


def test_minimal_total_capacity_hand_computed() -> None:
    """60 tier-1 workers due dose 1 from 1 Sep 2021, Moderna (28 days). Dose 2s come back from
    29 Sep and, ranked first, take the 29th and 30th: every dose 1 must be given 1-28 Sep.
    3 a day does it by 20 Sep; 2 a day gives 56 by the 28th and misses 30 Sep."""
    d = [demand(60, interval=28)]
    w = window(date(2021, 9, 1))
    assert minimal_total_capacity(d, w) == 3
    assert simulate(d, TotalCapacity(3), w).all_deadlines_met is True
    assert simulate(d, TotalCapacity(2), w).all_deadlines_met is False


def test_minimal_capacity_unreachable_when_the_interval_overruns_the_deadline() -> None:
    """AstraZeneca's 8 weeks: a dose 1 on 10 Sep 2021 opens dose 2 on 5 Nov, after 31 Oct. No
    capacity can meet seeds/000 §2.1 then."""
    d = [demand(10, eligible_on=date(2021, 9, 10), interval=56)]
    result = plan(d, TotalCapacity(100), window(date(2021, 9, 10)))
    assert result.minimal.total is None and result.minimal.reason == "unreachable"


def test_minimal_capacity_is_zero_with_nothing_left_to_give() -> None:
    assert minimal_total_capacity([], window(date(2021, 9, 1))) == 0


def test_minimal_district_scale_hand_computed() -> None:
    """Same rule per district: Việt Yên needs 3 a day (60 people, Moderna), Yên Dũng 2 (30).
    From a map of 20 and 10, the smallest uniform scaling is 11%: ceil(2.2) = 3, ceil(1.1) = 2."""
    d = [demand(60, interval=28, district="Việt Yên"), demand(30, interval=28, district="Yên Dũng")]
    base = {"Việt Yên": 20, "Yên Dũng": 10}
    w = window(date(2021, 9, 1))
    assert minimal_district_scale(d, base, w) == 11
    assert scale_capacity(base, 10) == {"Việt Yên": 2, "Yên Dũng": 1}
    assert simulate(d, DistrictCapacity(scale_capacity(base, 10)), w).all_deadlines_met is False
    result = plan(d, DistrictCapacity(base), w)
    assert (result.minimal.scale_percent, result.minimal.by_district) == (11, {"Việt Yên": 3, "Yên Dũng": 2})
    assert scale_capacity({"Việt Yên": 10}, 211) == {"Việt Yên": 22}


def test_minimal_district_scale_needs_every_district_covered() -> None:
    d = [demand(10, district="Việt Yên"), demand(10, district="Sơn Động")]
    result = plan(d, DistrictCapacity({"Việt Yên": 5}), window(date(2021, 9, 1)))
    assert result.minimal.scale_percent is None and result.minimal.reason == "district_without_capacity"


def province(seed: int) -> tuple[list[Demand], PlanWindow]:
    """A random province shaped like the data: three tiers, people due dose 1 or 2, products
    of 14 to 28 days, eligible from August to 21 September 2021 (so both deadlines can be met)."""
    rng = random.Random(seed)
    start = date(2021, 9, 1) + timedelta(days=rng.randint(0, 15))
    rows = [
        Demand(
            tier=rng.randint(1, 3),
            dose=rng.randint(1, 2),
            eligible_on=start + timedelta(days=rng.randint(-20, 5)),
            district=rng.choice(("Việt Yên", "Yên Dũng")),
            interval_days=rng.choice((14, 21, 28)),
            series_length=rng.choice((2, 2, 2, 3)),
            people=rng.randint(100, 3000),
        )
        for _ in range(rng.randint(5, 30))
    ]
    return rows, window(start, ranking=rng.choice(("dose2_first", "dose1_first", "by_eligible_date")))


@pytest.mark.parametrize("seed", range(6))
def test_meeting_the_deadlines_is_monotone_in_capacity_on_province_shaped_data(seed: int) -> None:
    """The bisection relies on it: around the minimal capacity found, every smaller capacity
    misses a deadline and every larger one meets both (seeds/000 §2.1)."""
    rows, w = province(seed)
    minimal = minimal_total_capacity(rows, w)
    assert minimal is not None
    for capacity in range(max(1, minimal - 150), minimal + 150, 3):
        assert simulate(rows, TotalCapacity(capacity), w).all_deadlines_met is (capacity >= minimal), capacity


def test_more_capacity_can_finish_dose_1_later_under_dose2_first() -> None:
    """Why monotonicity is not a theorem: with dose2_first, more capacity gives dose 1 earlier, so
    its dose 2s come back earlier and, ranked first, take the dose-1 deadline day (30 Sep 2021).
    Two due dose 2 from 8 Sep, two dose 1 from 9 Sep (Pfizer 21 days), one hire of 30 Sep.
    1 a day: dose 1s on 10-11 Sep, their dose 2s on 1-2 Oct, the hire on 30 Sep: met.
    2 a day: both dose 1s on 9 Sep, both dose 2s on 30 Sep, the hire on 1 Oct: missed.
    The bisection still answers a capacity that meets (here 3); it may not be the smallest."""
    d = [
        demand(2, dose=2, eligible_on=date(2021, 9, 8)),
        demand(2, dose=1, eligible_on=date(2021, 9, 9)),
        demand(1, dose=1, eligible_on=date(2021, 9, 30)),
    ]
    w = window(date(2021, 9, 8))
    assert simulate(d, TotalCapacity(1), w).all_deadlines_met is True
    assert simulate(d, TotalCapacity(2), w).all_deadlines_met is False
    found = minimal_total_capacity(d, w)
    assert found == 3
    assert simulate(d, TotalCapacity(found), w).all_deadlines_met is True


# --- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "start", "end", "capacity", "problems"),
    [
        ("a valid plan", date(2021, 9, 1), date(2021, 11, 30), TotalCapacity(100), []),
        (
            "capacity must be positive",
            date(2021, 9, 1),
            date(2021, 11, 30),
            TotalCapacity(0),
            [("body.daily_capacity", "capacity_out_of_range")],
        ),
        (
            "capacity is bounded",
            date(2021, 9, 1),
            date(2021, 11, 30),
            TotalCapacity(MAX_DAILY_CAPACITY + 1),
            [("body.daily_capacity", "capacity_out_of_range")],
        ),
        (
            "each district's capacity must be positive",
            date(2021, 9, 1),
            date(2021, 11, 30),
            DistrictCapacity({"Việt Yên": 10, "Yên Dũng": -1}),
            [("body.daily_capacity.Yên Dũng", "capacity_out_of_range")],
        ),
        (
            "a per-district plan names a district",
            date(2021, 9, 1),
            date(2021, 11, 30),
            DistrictCapacity({}),
            [("body.daily_capacity", "capacity_empty")],
        ),
        (
            "no plan before 2021",
            date(2020, 12, 31),
            date(2021, 3, 1),
            TotalCapacity(1),
            [("body.start", "start_too_early")],
        ),
        (
            "the end is after the start",
            date(2021, 9, 1),
            date(2021, 9, 1),
            TotalCapacity(1),
            [("body.end", "end_not_after_start")],
        ),
        (
            "at most 366 days",
            date(2021, 9, 1),
            date(2022, 9, 3),
            TotalCapacity(1),
            [("body.end", "horizon_too_long")],
        ),
        ("366 days is allowed", date(2021, 9, 1), date(2022, 9, 2), TotalCapacity(1), []),
    ],
)
def test_plan_input_problems(
    rule: str, start: date, end: date, capacity: TotalCapacity | DistrictCapacity, problems: list[tuple[str, str]]
) -> None:
    assert [(p.field, p.code) for p in plan_input_problems(start, end, capacity)] == problems, rule


@pytest.mark.parametrize(
    ("rule", "start", "deadlines", "end"),
    [
        ("30 days past the last deadline (31 Oct 2021)", date(2021, 9, 20), DEADLINES, date(2021, 11, 30)),
        ("a start after the deadlines: a quarter", date(2021, 12, 15), DEADLINES, date(2022, 3, 15)),
        ("no deadlines (July 2021 plan): a quarter", date(2021, 8, 1), {}, date(2021, 10, 30)),
    ],
)
def test_default_end(rule: str, start: date, deadlines: dict[int, date], end: date) -> None:
    assert default_end(start, deadlines) == end, rule
