"""An enterprise's screening rounds (seeds/000 §2.2): which mode, which half, which sample.
Pure: no database."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

import pytest

from safework_common.contract.policy_document import PolicyDocument
from safework_common.contract.reasons import ROUTINE_COHORT, SAMPLED_INDUSTRY
from safework_scheduler.due.rules import (
    MODE_ALL,
    MODE_COHORT,
    MODE_SAMPLE,
    DueRules,
    EnterpriseFacts,
    LabResult,
    PersonFacts,
    Results,
    round_offset_days,
)
from tests.scheduler.factories import local
from tests.scheduler.test_due_rules import JULY, SEPT, VERSIONS


def with_district_ratio(doc: PolicyDocument, ratios: dict[str, float]) -> PolicyDocument:
    assert doc.testing.district_sampling_ratio is not None
    sampling = doc.testing.district_sampling_ratio.model_copy(update={"by_district": ratios})
    return doc.model_copy(update={"testing": doc.testing.model_copy(update={"district_sampling_ratio": sampling})})


def roster(n: int, seed: int = 0) -> list[uuid.UUID]:
    return [uuid.UUID(int=seed * 10_000 + i + 1) for i in range(n)]


E = uuid.UUID(int=42)


@pytest.mark.parametrize(
    ("rule", "policy", "zone", "industry", "size", "district", "mode", "share", "sample"),
    [
        ("§2.2 (3) in a park: 50% halves, alternating", SEPT, "KCN", "other", 1000, "Việt Yên", MODE_COHORT, 0.5, 1000),
        (
            "§2.2 garment in a park follows the halves too",
            SEPT,
            "KCN",
            "garment",
            300,
            "Việt Yên",
            MODE_COHORT,
            0.5,
            300,
        ),
        (
            "§2.2 garment outside the parks: at least 20%",
            SEPT,
            "OUTSIDE",
            "garment",
            100,
            "Việt Yên",
            MODE_SAMPLE,
            0.2,
            20,
        ),
        (
            "§2.2 shuttlecock in a cluster (outside the parks): 20%",
            SEPT,
            "CCN",
            "shuttlecock",
            51,
            "Tân Yên",
            MODE_SAMPLE,
            0.2,
            11,
        ),
        (
            "§2.2 under 20 workers outside the parks: the district's ratio",
            with_district_ratio(SEPT, {"Lục Ngạn": 0.3}),
            "OUTSIDE",
            "other",
            10,
            "Lục Ngạn",
            MODE_SAMPLE,
            0.3,
            3,
        ),
        (
            "§2.2 under 20 workers, a district without its own ratio: the default",
            with_district_ratio(SEPT, {"Lục Ngạn": 0.3}),
            "OUTSIDE",
            "other",
            10,
            "Yên Thế",
            MODE_SAMPLE,
            0.2,
            2,
        ),
        (
            "§2.2 a small garment maker: the larger of 20% and the district's ratio",
            with_district_ratio(SEPT, {"Lục Ngạn": 0.5}),
            "OUTSIDE",
            "garment",
            10,
            "Lục Ngạn",
            MODE_SAMPLE,
            0.5,
            5,
        ),
        ("§2.2 exactly 20 workers is not under 20", SEPT, "OUTSIDE", "other", 20, "Yên Thế", MODE_COHORT, 0.5, 20),
        ("§2.2 under 20 workers in a park: the halves", SEPT, "KCN", "other", 12, "Việt Yên", MODE_COHORT, 0.5, 12),
        ("July 2021 plan: everyone every round", JULY, "KCN", "other", 500, "Việt Yên", MODE_ALL, 1.0, 500),
    ],
)
def test_round_mode(
    rule: str,
    policy: PolicyDocument,
    zone: str,
    industry: str,
    size: int,
    district: str,
    mode: str,
    share: float,
    sample: int,
) -> None:
    rules = DueRules(policy, local(2021, 9, 15, 10))
    plan = rules.round_plan(EnterpriseFacts(E, district, zone, industry, size), roster(size))
    assert (plan.mode, plan.share, plan.sample_size) == (mode, share, sample), rule


@pytest.mark.parametrize(
    ("rule", "day", "round_index", "half"),
    [
        ("§2.2 (3) round 36 starts Monday 13 Sep 2021: half 0", date(2021, 9, 13), 36, 0),
        ("§2.2 (3) still round 36 on Sunday 19 Sep", date(2021, 9, 19), 36, 0),
        ("§2.2 (3) round 37 on Monday 20 Sep: half 1", date(2021, 9, 20), 37, 1),
        ("§2.2 (3) round 38 on Monday 27 Sep: half 0 again", date(2021, 9, 27), 38, 0),
        ("rounds count on across the policy change of 11 Sep (round 35 from 6 Sep)", date(2021, 9, 10), 35, 1),
    ],
)
def test_halves_alternate_by_round(rule: str, day: date, round_index: int, half: int) -> None:
    policy = JULY if day < date(2021, 9, 11) else SEPT  # both: Monday rounds from 4 Jan 2021
    plan = DueRules(policy, local(day.year, day.month, day.day, 12)).round_plan(
        EnterpriseFacts(E, "Việt Yên", "KCN", "other", 10)
    )
    assert (plan.index, plan.cohort_due) == (round_index, half if plan.mode == MODE_COHORT else None), rule


def test_each_enterprise_has_a_stable_round_day_within_the_week() -> None:
    """The repository's policy spreads round days by a hash of the enterprise id: stable for an
    enterprise, any day of the week, and the halves still alternate every 7 days."""
    policy = VERSIONS["2021-09-11"]
    assert policy.testing.routine is not None and policy.testing.routine.spread_round_day
    offsets = {round_offset_days(uuid.UUID(int=i), 7) for i in range(200)}
    assert offsets == set(range(7))
    eid = uuid.UUID("3f6c1d2e-4b5a-4c3d-9e8f-0a1b2c3d4e5f")
    first = DueRules(policy, local(2021, 9, 15, 10)).round_plan(EnterpriseFacts(eid, "Việt Yên", "KCN", "other", 2))
    again = DueRules(policy, local(2021, 9, 15, 10)).round_plan(EnterpriseFacts(eid, "Việt Yên", "KCN", "other", 2))
    assert first.first_day == again.first_day == date(2021, 1, 4) + timedelta(days=round_offset_days(eid, 7))
    later = DueRules(policy, local(2021, 9, 22, 10)).round_plan(EnterpriseFacts(eid, "Việt Yên", "KCN", "other", 2))
    assert later.index == first.index + 1 and later.cohort_due != first.cohort_due


def selections(n: int, share: float, rounds: range, seed: int = 0) -> list[set[uuid.UUID]]:
    """Who each round samples, for a garment maker outside the parks of ``n`` workers."""
    policy = SEPT.model_copy(
        update={"testing": SEPT.testing.model_copy(update={"sampled_industries_min_share": share})}
    )
    people = roster(n, seed)
    out = []
    for k in rounds:
        day = date(2021, 1, 4) + timedelta(days=7 * k)  # Monday of round k
        plan = DueRules(policy, local(day.year, day.month, day.day, 10)).round_plan(
            EnterpriseFacts(E, "Việt Yên", "OUTSIDE", "garment", n), people
        )
        assert plan.index == k
        out.append({pid for pid, pos in plan.positions.items() if plan.selected(pos, k)})
    return out


@pytest.mark.parametrize(
    ("rule", "n", "share"),
    [
        ("§2.2 20% of 100 garment workers: 5 rounds cover everyone", 100, 0.2),
        ("§2.2 20% of 23 workers (5 a round, wrapping around)", 23, 0.2),
        ("a district ratio of 30% of 7 workers (3 a round)", 7, 0.3),
    ],
)
def test_samples_rotate_so_everyone_is_covered_before_anyone_repeats(rule: str, n: int, share: float) -> None:
    size = math.ceil(round(share * n, 9))
    cover = math.ceil(n / size)
    rounds = selections(n, share, range(36, 36 + 4 * cover))
    assert all(len(s) == size for s in rounds), rule
    for start in range(len(rounds) - cover + 1):
        window = rounds[start : start + cover]
        assert set().union(*window) == set(roster(n)), rule  # everyone within ceil(n / size) rounds
        counts = Counter(pid for s in window for pid in s)
        assert max(counts.values()) - min(counts.values()) <= 1, rule  # nobody twice while others wait


def test_samples_are_deterministic_for_an_enterprise_and_a_date() -> None:
    assert selections(50, 0.2, range(36, 40)) == selections(50, 0.2, range(36, 40))
    other_roster = selections(50, 0.2, range(36, 40), seed=1)
    assert [len(s) for s in other_roster] == [10, 10, 10, 10]


def test_a_sampled_worker_is_due_in_the_round_of_the_sample_only() -> None:
    """§2.2: the sampled fifth is due at the round's start; the others at their next sample."""
    n = 10
    people = roster(n)
    day = local(2021, 9, 15, 10)  # round 36 (Mon 13 Sep, Monday rounds)
    rules = DueRules(SEPT, day)
    plan = rules.round_plan(EnterpriseFacts(E, "Việt Yên", "OUTSIDE", "garment", n), people)
    due = {pid: rules.evaluate(PersonFacts(pid, first_dose_at=local(2021, 8, 1)), plan) for pid in people}
    picked = [pid for pid, d in due.items() if d.due_at == local(2021, 9, 13)]
    assert len(picked) == plan.sample_size == 2
    assert all(d.reasons == (SAMPLED_INDUSTRY,) for d in due.values())
    # 15 Sep: the round's window (13-19 Sep) is open: due, not overdue (seeds/000 §2.2 '7 ngày/lần').
    assert not any(d.overdue for d in due.values())
    late = DueRules(SEPT, local(2021, 9, 21, 2))
    assert all(late.evaluate(PersonFacts(pid, first_dose_at=local(2021, 8, 1)), plan).overdue for pid in picked)
    waiting = [d.due_at for pid, d in due.items() if pid not in picked]
    assert all(w is not None and w >= local(2021, 9, 20) for w in waiting)
    tested = rules.evaluate(
        PersonFacts(
            picked[0],
            first_dose_at=local(2021, 8, 1),
            results=Results.of([LabResult(local(2021, 9, 13, 9), "PCR", "NEGATIVE", True)]),
        ),
        plan,
    )
    assert tested.due_at is not None and tested.due_at >= local(2021, 9, 20) and not tested.overdue


def test_a_rotating_sample_needs_the_whole_roster() -> None:
    rules = DueRules(SEPT, local(2021, 9, 15, 10))
    with pytest.raises(ValueError, match="roster"):
        rules.round_plan(EnterpriseFacts(E, "Việt Yên", "OUTSIDE", "garment", 10), roster(9))


def test_halves_need_only_the_roster_size() -> None:
    rules = DueRules(SEPT, local(2021, 9, 15, 10))
    park = EnterpriseFacts(E, "Việt Yên", "KCN", "other", 10_000)
    assert not rules.needs_roster(park)
    assert rules.round_plan(park).reason == ROUTINE_COHORT


@pytest.mark.parametrize(("n", "share"), [(1, 0.2), (7, 0.2), (10, 0.2), (19, 0.35), (50, 0.2), (1000, 0.2), (13, 1.0)])
def test_the_selection_table_is_the_rounds_one_by_one(n: int, share: float) -> None:
    """The rotating sample's table (built once per plan) gives, for every position, the rounds
    the one-by-one search gives: the latest sample not after the round in progress, the one
    before it, and the next."""
    people = roster(n)
    for day in (local(2021, 9, 15, 10), local(2021, 10, 4, 10)):
        rules = DueRules(SEPT, day)
        plan = rules.round_plan(EnterpriseFacts(E, "Việt Yên", "OUTSIDE", "garment", n), people)
        plan = replace(plan, share=share, sample_size=min(n, math.ceil(round(share * n, 9))))
        for position in range(n):
            latest = plan.last_selection(position, plan.index)
            expected = (plan.last_selection(position, latest - 1), latest, plan.next_selection(position, latest))
            assert plan.selections(position) == expected, (n, share, position)
