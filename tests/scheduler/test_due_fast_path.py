"""The fast path for plain people (``DueRules.plain``/``plain_status``) gives exactly what the
general rules (``DueRules.evaluate``) give for the same person: table-driven rows naming the
rule, then a seeded sweep over many generated people, policies, round modes and instants.
Pure: no database."""

from __future__ import annotations

import pickle
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from safework_common.contract.policy_document import PolicyDocument
from safework_common.contract.reasons import (
    HIGH_RISK,
    NEW_HIRE_BUFFER,
    ROUTINE_COHORT,
    ROUTINE_ROUND,
    SAMPLED_INDUSTRY,
    UNVACCINATED,
)
from safework_scheduler.due.rules import (
    DUE_TODAY,
    NOT_CLEARED,
    OVERDUE,
    DueRules,
    EnterpriseFacts,
    LabResult,
    PersonDue,
    PersonFacts,
    Results,
    RoundPlan,
    epoch_day,
    from_micros,
    micros,
    sample_order_key,
)
from tests.scheduler.factories import local
from tests.scheduler.test_due_rules import JULY, JUNE, MAY, PARK, SEPT, VERSIONS

DOSE_1 = local(2021, 8, 1, 9)
PID = uuid.UUID(int=1)
GARMENT = EnterpriseFacts(uuid.UUID(int=9), "Lục Nam", "OUTSIDE", "garment", 10)


@dataclass
class Plain:
    """A plain person as the fast path reads them (instants as datetimes here, for reading)."""

    cohort: int = 0
    first_dose_at: datetime | None = DOSE_1
    high_risk: bool = False
    high_risk_until: datetime | None = None
    hire_date: date | None = date(2021, 6, 1)
    last_at: datetime | None = None
    person_id: uuid.UUID = PID

    def facts(self) -> PersonFacts:
        results = Results.of([LabResult(self.last_at, "PCR", "NEGATIVE", False)] if self.last_at else [])
        return PersonFacts(
            self.person_id,
            self.cohort,
            self.first_dose_at,
            self.high_risk,
            self.high_risk_until,
            self.hire_date,
            results=results,
            last_result_at=self.last_at,
        )

    def numbers(self, as_of: datetime) -> tuple[uuid.UUID, int, bool, bool, int | None, int | None, int | None]:
        """The fast path's numbers for this person (``repository.plain_args`` of a statement's row)."""
        return (
            self.person_id,
            self.cohort,
            self.first_dose_at is not None and self.first_dose_at <= as_of,
            self.high_risk,
            None if self.high_risk_until is None else micros(self.high_risk_until),
            None if self.hire_date is None else epoch_day(self.hire_date),
            None if self.last_at is None else micros(self.last_at),
        )


def answers(
    policy: PolicyDocument, as_of: datetime, person: Plain, plan_of: RoundPlan | None
) -> tuple[PersonDue, PersonDue, int, int]:
    rules = DueRules(policy, as_of)
    general = rules.evaluate(person.facts(), plan_of)
    numbers = person.numbers(as_of)
    fast = rules.plain(plan_of, *numbers)
    status = rules.plain_status(plan_of, *numbers)
    assert rules.status_of(plan_of)(*numbers) == status  # the per-enterprise form agrees
    # As a statement sends it: instants counted from the window's start.
    since = rules.horizon_us
    row = tuple(None if v is None else v - since for v in (numbers[4], numbers[6]))
    assert rules.row_status_of(plan_of, since)(*numbers[:4], row[0], numbers[5], row[1]) == status
    return general, fast, rules.status(general), status


def plan(policy: PolicyDocument, as_of: datetime, enterprise: EnterpriseFacts, *people: uuid.UUID) -> RoundPlan:
    rules = DueRules(policy, as_of)
    roster = list(people) + [uuid.UUID(int=1000 + i) for i in range(enterprise.roster_size - len(people))]
    return rules.round_plan(enterprise, roster if rules.needs_roster(enterprise) else ())


CASES = [
    (
        "§2.2 (3) ROUTINE_COHORT: half 0, never tested, due in the 13 Sep window, not cleared (seeds/003)",
        SEPT,
        local(2021, 9, 13, 10),
        PARK,
        Plain(),
        (ROUTINE_COHORT,),
        DUE_TODAY | NOT_CLEARED,
    ),
    (
        "§2.2 (3) ROUTINE_COHORT: half 1 tested 7 Sep waits for 20 Sep",
        SEPT,
        local(2021, 9, 13, 10),
        PARK,
        Plain(cohort=1, last_at=local(2021, 9, 7, 10)),
        (ROUTINE_COHORT,),
        0,
    ),
    (
        "§2.2 (3) ROUTINE_COHORT: untested by Wed 15 Sep, the window is open: not overdue",
        SEPT,
        local(2021, 9, 15, 10),
        PARK,
        Plain(),
        (ROUTINE_COHORT,),
        DUE_TODAY | NOT_CLEARED,
    ),
    (
        "§2.2 (3) a worker hired on Wed 15 Sep owes no window opened before: first 27 Sep",
        SEPT,
        local(2021, 9, 15, 10),
        PARK,
        Plain(hire_date=date(2021, 9, 15)),
        (ROUTINE_COHORT,),
        NOT_CLEARED,
    ),
    (
        "§2.2 (1) UNVACCINATED: tested 10 Sep 08:00, due 13 Sep 08:00",
        SEPT,
        local(2021, 9, 12, 10),
        PARK,
        Plain(first_dose_at=None, last_at=local(2021, 9, 10, 8)),
        (UNVACCINATED,),
        0,
    ),
    (
        "§2.2 (1) UNVACCINATED: a dose given on 20 Sep does not count on 15 Sep",
        SEPT,
        local(2021, 9, 15, 10),
        PARK,
        Plain(first_dose_at=local(2021, 9, 20, 9), last_at=local(2021, 9, 13, 8)),
        (UNVACCINATED,),
        0,
    ),
    (
        "§2.2 (1) UNVACCINATED: never tested, due since the policy took effect: overdue",
        SEPT,
        local(2021, 9, 15, 10),
        PARK,
        Plain(first_dose_at=None),
        (UNVACCINATED,),
        DUE_TODAY | OVERDUE | NOT_CLEARED,
    ),
    (
        "overdue only once the 24 h grace has passed: exactly 24 h after 13 Sep 08:00, not yet",
        SEPT,
        local(2021, 9, 14, 8),
        PARK,
        Plain(first_dose_at=None, last_at=local(2021, 9, 10, 8)),
        (UNVACCINATED,),
        DUE_TODAY,
    ),
    (
        "... and a microsecond later, overdue (so no longer cleared)",
        SEPT,
        local(2021, 9, 14, 8) + timedelta(microseconds=1),
        PARK,
        Plain(first_dose_at=None, last_at=local(2021, 9, 10, 8)),
        (UNVACCINATED,),
        DUE_TODAY | OVERDUE | NOT_CLEARED,
    ),
    (
        "§2.2 (1) HIGH_RISK and UNVACCINATED at once: one visit, both reasons",
        SEPT,
        local(2021, 9, 14, 10),
        PARK,
        Plain(first_dose_at=None, high_risk=True, last_at=local(2021, 9, 11, 8)),
        (HIGH_RISK, UNVACCINATED),
        DUE_TODAY,
    ),
    (
        "§2.2 (1) HIGH_RISK ends at high_risk_until: back to the halves",
        SEPT,
        local(2021, 9, 12, 10),
        PARK,
        Plain(high_risk=True, high_risk_until=local(2021, 9, 13, 12), last_at=local(2021, 9, 11, 8)),
        (ROUTINE_COHORT,),
        0,
    ),
    (
        "July 2021 plan ROUTINE_ROUND: everyone every round; the 2 Aug window was missed",
        JULY,
        local(2021, 8, 11, 10),
        PARK,
        Plain(),
        (ROUTINE_ROUND,),
        DUE_TODAY | OVERDUE | NOT_CLEARED,
    ),
    (
        "§2.2 SAMPLED_INDUSTRY: a garment maker's rotating 20%",
        SEPT,
        local(2021, 9, 15, 10),
        GARMENT,
        Plain(),
        (SAMPLED_INDUSTRY,),
        None,
    ),
    (
        "no enterprise: no rounds, nothing due; never tested: not cleared",
        SEPT,
        local(2021, 9, 15, 10),
        None,
        Plain(),
        (),
        NOT_CLEARED,
    ),
]


@pytest.mark.parametrize(("rule", "policy", "as_of", "enterprise", "person", "reasons", "status"), CASES)
def test_the_fast_path_answers_as_the_general_rules(
    rule: str,
    policy: PolicyDocument,
    as_of: datetime,
    enterprise: EnterpriseFacts | None,
    person: Plain,
    reasons: tuple[str, ...],
    status: int | None,
) -> None:
    plan_of = plan(policy, as_of, enterprise, person.person_id) if enterprise is not None else None
    general, fast, general_status, fast_status = answers(policy, as_of, person, plan_of)
    assert fast == general, rule
    assert fast.reasons == reasons, rule
    assert fast_status == general_status, rule
    if status is not None:
        assert fast_status == status, rule
    # A plain person is cleared unless never tested or overdue (seeds/003).
    assert bool(fast_status & NOT_CLEARED) == (person.last_at is None or bool(fast_status & OVERDUE)), rule


def test_the_fast_path_agrees_over_many_people() -> None:
    """A seeded sweep: every policy, round mode and kind of plain person at many instants."""
    rng = random.Random(20210924)
    monday = VERSIONS["2021-09-11"]  # with each enterprise's own round day
    # The unvaccinated tested more often than the high-risk group: the earlier cadence leads.
    swapped = JULY.model_copy(
        update={
            "testing": JULY.testing.model_copy(update={"high_risk_interval_days": 7, "unvaccinated_interval_days": 2})
        }
    )
    checked = 0
    for _ in range(60):
        policy = rng.choice([SEPT, JULY, monday, swapped])
        as_of = local(2021, 9, 24) - timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
        if as_of.date() < policy.effective_from:
            continue
        enterprise = rng.choice(
            [
                PARK,
                GARMENT,
                EnterpriseFacts(uuid.UUID(int=rng.getrandbits(128)), "Tân Yên", "CCN", "shuttlecock", 37),
                EnterpriseFacts(uuid.UUID(int=rng.getrandbits(128)), "Yên Thế", "OUTSIDE", "other", 7),
                None,
            ]
        )
        people = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(40)]
        if enterprise is not None and enterprise.roster_size < len(people):
            enterprise = EnterpriseFacts(
                enterprise.enterprise_id, enterprise.district, enterprise.zone_type, enterprise.industry, len(people)
            )
        plan_of = plan(policy, as_of, enterprise, *people) if enterprise is not None else None
        for pid in people:

            def instant(days: float) -> datetime:
                return as_of - timedelta(minutes=rng.randrange(0, int(days * 24 * 60)))  # noqa: B023

            person = Plain(
                cohort=rng.choice([0, 1]),
                first_dose_at=rng.choice([None, DOSE_1, instant(20), as_of + timedelta(days=2)]),
                high_risk=rng.random() < 0.3,
                high_risk_until=rng.choice([None, instant(10), as_of + timedelta(hours=rng.randrange(1, 300))]),
                hire_date=rng.choice([None, date(2021, 1, 1), instant(25).date(), as_of.date()]),
                last_at=rng.choice([None, instant(20), instant(3), instant(0.5)]),
                person_id=pid,
            )
            general, fast, general_status, fast_status = answers(policy, as_of, person, plan_of)
            assert fast == general, (policy.version, as_of, enterprise, person)
            assert fast_status == general_status, (policy.version, as_of, enterprise, person)
            checked += 1
    assert checked > 1000


def test_an_arrival_is_plain_only_once_the_pipeline_is_over() -> None:
    """§2.2 (2): 7 days in the buffer, then 10 high-risk days: an arrival after
    ``arrivals_after`` may still be in the pipeline (the general rules), one at it no longer."""
    as_of = local(2021, 9, 30, 10)
    rules = DueRules(SEPT, as_of)
    cutoff = rules.arrivals_after
    # The pipeline (7 + 10 days) or, for a buffer never completed, the history window (21 days).
    assert cutoff == as_of - timedelta(days=21)
    assert DueRules(VERSIONS["2021-05-13"], local(2021, 5, 14)).arrivals_after is None  # no new-hire rule yet
    park = rules.round_plan(PARK)
    hanoi = {"arrived_from_province": "Hà Nội", "first_dose_at": DOSE_1, "hire_date": date(2021, 9, 1)}
    at_cutoff = PersonFacts(uuid.UUID(int=5), arrived_at=cutoff, **hanoi)  # type: ignore[arg-type]
    inside = PersonFacts(uuid.UUID(int=5), arrived_at=cutoff + timedelta(minutes=1), **hanoi)  # type: ignore[arg-type]
    plain = rules.plain(park, uuid.UUID(int=5), 0, True, False, None, epoch_day(date(2021, 9, 1)), None)
    assert rules.evaluate(at_cutoff, park) == plain
    assert NEW_HIRE_BUFFER in rules.evaluate(inside, park).not_cleared  # still needs its negative tests


@pytest.mark.parametrize(
    ("rule", "instant"),
    [
        ("a local instant", local(2021, 9, 24, 10, 30)),
        ("microseconds survive", datetime(2021, 9, 24, 3, 0, 0, 123457, tzinfo=local(2021, 1, 1).tzinfo)),
        ("before the epoch", local(1969, 12, 31, 23)),
    ],
)
def test_instants_as_microseconds_round_trip(rule: str, instant: datetime) -> None:
    assert from_micros(micros(instant)) == instant, rule
    assert micros(instant + timedelta(days=3)) == micros(instant) + 3 * 86_400_000_000, rule


def test_hire_days_count_from_the_epoch() -> None:
    assert epoch_day(date(1970, 1, 1)) == 0
    assert epoch_day(date(2021, 9, 24)) == (date(2021, 9, 24) - date(1970, 1, 1)).days


def test_a_rotating_sample_reaches_a_worker_as_its_roster() -> None:
    """A worker process gets an enterprise's plan pickled: the roster as bytes, without the
    positions, which it orders itself on first use: the same positions, the same answers, and
    the same order as ``sample_order_key`` gives."""
    as_of = local(2021, 9, 15, 10)
    people = [uuid.UUID(int=i << 120) for i in range(1, 11)]
    rules = DueRules(SEPT, as_of)
    whole = rules.round_plan(GARMENT, people)
    ordered = sorted(people, key=lambda pid: sample_order_key(GARMENT.enterprise_id, pid))
    assert whole.roster == b"".join(p.bytes for p in ordered)
    assert whole.positions == {pid: i for i, pid in enumerate(ordered)}
    assert rules.round_plan(GARMENT, whole.roster) == whole  # bytes: taken as in order
    sent = pickle.dumps(whole)
    assert uuid.UUID(int=1 << 120).bytes in sent  # the roster travels, positions do not
    received = pickle.loads(sent)  # noqa: S301 - our own bytes
    assert received._positions == {}
    assert received.positions == whole.positions
    assert (received.roster_size, received.sample_size, received.index) == (
        whole.roster_size,
        whole.sample_size,
        whole.index,
    )
    for pid in people:
        assert rules.plain(received, pid, 0, True, False, None, None, None) == rules.plain(
            whole, pid, 0, True, False, None, None, None
        )
    park = rules.round_plan(PARK)
    assert park.roster == b"" and park.positions == {}  # halves need no roster
    assert pickle.loads(pickle.dumps(park)) == park  # noqa: S301 - our own bytes


def test_people_in_one_cell_share_a_status() -> None:
    """The province counts plain people by cell (``DueRules.plain_cell``: the local day of the
    latest test and its side of each cut), applying the rules once per cell. That is exact only
    if the status is the same for every latest test in a cell: checked here at both ends of
    every cell the sweep meets (the day's first and last microsecond, and either side of each
    cut), for every version (the May campaign, the June and July cadences, the September
    rounds), every mode that is counted by cell, and start days before and after the version's."""
    rng = random.Random(20210511)
    versions = [MAY, JUNE, JULY, SEPT, VERSIONS["2021-09-11"], VERSIONS["2021-11-01"]]
    day_us = 86_400_000_000
    checked = 0
    for _ in range(120):
        policy = rng.choice(versions)
        as_of = local(2021, 12, 1) - timedelta(minutes=rng.randrange(0, 200 * 24 * 60))
        if as_of.date() < policy.effective_from:
            continue
        rules = DueRules(policy, as_of)
        enterprise = rng.choice(
            [PARK, EnterpriseFacts(uuid.UUID(int=rng.getrandbits(128)), "Việt Yên", "KCN", "other", 300)]
        )
        plan_of = rules.round_plan(enterprise)
        assert rules.groups_people(plan_of)
        status = rules.status_of(plan_of)
        answer = rules.answer_of(plan_of)
        for _ in range(30):
            cohort = rng.choice([0, 1])
            vaccinated = rng.random() < 0.6
            hire_day = epoch_day(rng.choice([date(2021, 1, 4), as_of.date() - timedelta(days=rng.randrange(0, 30))]))
            start_day = max(hire_day, rules.floor_day)
            last = micros(as_of) - rng.randrange(0, 40 * day_us)
            cell = rules.plain_cell(last)
            assert cell is not None
            # The cell's bounds: its local day, narrowed by the cuts around ``last``.
            low = rules.cell_origin_us + cell[0] * day_us
            high = low + day_us - 1
            for cut in rules.cell_cuts_us:
                if cut <= last:
                    low = max(low, cut)
                else:
                    high = min(high, cut - 1)
            assert rules.plain_cell(low) == cell == rules.plain_cell(high)
            expected = status(None, cohort, vaccinated, False, None, start_day, last)
            for probe in (low, high, rng.randrange(low, high + 1)):
                assert status(None, cohort, vaccinated, False, None, start_day, probe) == expected, (
                    policy.version,
                    as_of,
                    from_micros(probe),
                )
                # The original hire day answers as the start day the statement groups by.
                assert status(None, cohort, vaccinated, False, None, hire_day, probe) == expected
                # A list shows the cell's answer (built once) as the rules give it to each person.
                pid = uuid.UUID(int=rng.getrandbits(128))
                numbers = (pid, cohort, vaccinated, False, None, hire_day, probe)
                assert answer(*numbers) == rules.plain(plan_of, *numbers)
            checked += 1
    assert checked > 1000
    # Never tested: a cell of its own.
    assert DueRules(SEPT, local(2021, 9, 24)).plain_cell(None) is None
