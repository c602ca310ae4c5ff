"""The due-test rules, table-driven: each row names the rule (seeds/000 §2.2-2.3, seeds/001) and
uses concrete 2021 dates. Pure: no database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pytest

from safework_common.contract.policy_document import PolicyDocument
from safework_common.contract.reasons import (
    CONTACT,
    ENTERPRISE_SUSPENDED,
    HIGH_RISK,
    MASS_TESTING,
    NEGATIVE_TEST_TOO_OLD,
    NEW_HIRE_BUFFER,
    NEW_HIRE_HIGH_RISK,
    NEW_HIRE_NOT_ARRIVED,
    NEW_HIRE_PRE_ARRIVAL_PCR,
    NEW_HIRE_PRE_ARRIVAL_PCR_MISSING,
    NO_NEGATIVE_TEST,
    POOL_POSITIVE,
    POSITIVE,
    RETURN_FIRST_TEST,
    RETURN_HOME_TOWN,
    RETURN_SECOND_TEST,
    ROUTINE_COHORT,
    ROUTINE_ROUND,
    SYMPTOMATIC,
    UNVACCINATED,
)
from safework_scheduler.due.rules import (
    EITHER,
    PCR,
    RAPID_ANTIGEN,
    RAPID_ANTIGEN_AND_PCR,
    Declaration,
    DueRules,
    EnterpriseFacts,
    LabResult,
    PersonFacts,
    PositivePool,
    Results,
    Travel,
    combine_kinds,
    province_key,
)
from safework_scheduler.policy.files import read_versions
from tests.scheduler.factories import local

VERSIONS = {d.version: d for d in read_versions()}


def monday_rounds(doc: PolicyDocument) -> PolicyDocument:
    """The same policy with every enterprise's round starting on Monday (no per-enterprise
    offset), so round days in the table below are plain calendar Mondays."""
    assert doc.testing.routine is not None
    routine = doc.testing.routine.model_copy(update={"spread_round_day": False})
    return doc.model_copy(update={"testing": doc.testing.model_copy(update={"routine": routine})})


SEPT = monday_rounds(VERSIONS["2021-09-11"])  # seeds/000: the conclusion of 11 September 2021
JULY = monday_rounds(VERSIONS["2021-07-20"])  # the July 2021 plan before it
JUNE = VERSIONS["2021-06-24"]  # seeds/003: restoring production, June 2021
MAY = VERSIONS["2021-05-13"]  # seeds/002: the conference of 13 May 2021
HISTORY = (MAY, JUNE, JULY, SEPT)
PARK = EnterpriseFacts(uuid.UUID(int=7), "Việt Yên", "KCN", "other", 1000, "Đình Trám")
SUSPENDED_PARK = EnterpriseFacts(uuid.UUID(int=7), "Việt Yên", "KCN", "other", 1000, "Đình Trám", suspended=True)
VAN_TRUNG = EnterpriseFacts(uuid.UUID(int=8), "Việt Yên", "KCN", "other", 1000, "KCN Vân Trung")
CLUSTER = EnterpriseFacts(uuid.UUID(int=9), "Lục Nam", "CCN", "other", 1000, "CCN Già Khê")
PID = uuid.UUID(int=1)
DOSE_1 = local(2021, 8, 1, 9)


def pcr(at: datetime, result: str = "NEGATIVE", *, pooled: bool = False) -> LabResult:
    return LabResult(at, PCR, result, pooled)


def rapid(at: datetime, result: str = "NEGATIVE") -> LabResult:
    return LabResult(at, RAPID_ANTIGEN, result, False)


EARLIER_NEGATIVE = local(2021, 6, 20, 9)  # a negative test long before every case below


def person(results: Sequence[LabResult] = (), **kw: object) -> PersonFacts:
    """A vaccinated worker in cohort 0, hired in June 2021, tested negative on 20 June 2021
    (``last_result_at``; so not "never tested"), unless told otherwise."""
    base: dict[str, object] = {
        "person_id": PID,
        "test_cohort": 0,
        "first_dose_at": DOSE_1,
        "hire_date": date(2021, 6, 1),
        "results": Results.of(results),
        "last_result_at": EARLIER_NEGATIVE,
    }
    base.update(kw)
    return PersonFacts(**base)  # type: ignore[arg-type]


@dataclass
class Case:
    rule: str
    as_of: datetime
    person: PersonFacts
    due_at: datetime | None
    reasons: tuple[str, ...]
    kind: str | None = EITHER
    overdue: bool = False
    not_cleared: tuple[str, ...] = ()
    policy: PolicyDocument = field(default=SEPT)
    enterprise: EnterpriseFacts | None = PARK
    flags: tuple[str, ...] = ()
    window: tuple[datetime, datetime, bool] | None = None


ARRIVED = local(2021, 9, 12, 8)  # a new hire from Hà Nội arrives on Sunday 12 September, 08:00
RETURNED = local(2021, 9, 20, 18)  # back in a boarding house from Hà Nội on Monday 20 September
HANOI_HIRE = {"arrived_at": ARRIVED, "arrived_from_province": "Hà Nội"}
POOL = PositivePool(local(2021, 9, 18, 7), local(2021, 9, 18, 15))

CASES = [
    # -- Issue item 1: a 7-day round is a window, not a 1-day deadline (seeds/000 §2.2 (3)). With
    # Monday rounds, round 36 starts Monday 13 September 2021 and tests half 0; round 37 (20 Sep)
    # half 1. September's rules are owed from 11 September (Saturday).
    Case(
        "§2.2 (3) ROUTINE_COHORT: half 0 is due in the window of round 36, 13-19 Sep 2021",
        local(2021, 9, 13, 10),
        person(),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
        window=(local(2021, 9, 13), local(2021, 9, 20), False),
    ),
    Case(
        "§2.2 (3) '7 ngày/lần': untested on Wed 15 Sep, the 13 Sep round's window is still open: not overdue",
        local(2021, 9, 15, 10),
        person(),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
    ),
    Case(
        "§2.2 (3) '7 ngày/lần': still not overdue on the window's last day (Sun 19 Sep, 23:00)",
        local(2021, 9, 19, 23),
        person(),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
    ),
    Case(
        "§2.2 (3) the window closed on 20 Sep without a test: overdue after the 24 h grace (21 Sep)",
        local(2021, 9, 21, 1),
        person(),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
        overdue=True,
        not_cleared=(NEGATIVE_TEST_TOO_OLD,),
    ),
    Case(
        "§2.2 (3) a missed window stays owed while the half's next one is open (27 Sep): overdue",
        local(2021, 9, 28, 10),
        person(),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
        overdue=True,
        not_cleared=(NEGATIVE_TEST_TOO_OLD,),
        window=(local(2021, 9, 27), local(2021, 10, 4), False),
    ),
    Case(
        "§2.2 (3) tested on Thu 16 Sep, inside the window: done, next window 27 Sep (every 14 days)",
        local(2021, 9, 17, 10),
        person(results=[pcr(local(2021, 9, 16, 9), pooled=True)]),
        local(2021, 9, 27),
        (ROUTINE_COHORT,),
        window=(local(2021, 9, 13), local(2021, 9, 20), True),
    ),
    Case(
        "§2.2 (3) half 1 waits for its round (20 Sep); the 6 Sep window opened before 11 Sep is not owed",
        local(2021, 9, 13, 10),
        person(test_cohort=1),
        local(2021, 9, 20),
        (ROUTINE_COHORT,),
    ),
    Case(
        "§2.2 (3) half 1, tested on 21 Sep in its window, is not due again before 4 Oct",
        local(2021, 9, 28, 10),
        person(test_cohort=1, results=[pcr(local(2021, 9, 21, 10))]),
        local(2021, 10, 4),
        (ROUTINE_COHORT,),
    ),
    Case(
        "§2.2 (3) a test collected before the window opened does not count for it",
        local(2021, 9, 21, 2),
        person(results=[pcr(local(2021, 9, 12, 10))]),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
        overdue=True,
        not_cleared=(NEGATIVE_TEST_TOO_OLD,),
    ),
    Case(
        "seeds/004 periodic screening (July plan, not in the source: 7 days): window of 9-15 Aug still open",
        local(2021, 8, 11, 10),
        person(results=[rapid(local(2021, 8, 3, 9))]),
        local(2021, 8, 9),
        (ROUTINE_ROUND,),
        policy=JULY,
    ),
    Case(
        "seeds/004 periodic screening (July plan): the 2 Aug window closed untested: overdue on 10 Aug",
        local(2021, 8, 10, 10),
        person(),
        local(2021, 8, 2),
        (ROUTINE_ROUND,),
        overdue=True,
        not_cleared=(NEGATIVE_TEST_TOO_OLD,),
        policy=JULY,
    ),
    # -- Issue item 6: hired (or moved in) yesterday, not overdue today.
    Case(
        "DOMAIN new hire: hired Wed 15 Sep, half 0: the 13 Sep window opened before; first window 27 Sep",
        local(2021, 9, 16, 10),
        person(hire_date=date(2021, 9, 15)),
        local(2021, 9, 27),
        (ROUTINE_COHORT,),
    ),
    Case(
        "DOMAIN new hire: hired 15 Sep, half 1: first owed window is its round of 20 Sep",
        local(2021, 9, 16, 10),
        person(test_cohort=1, hire_date=date(2021, 9, 15)),
        local(2021, 9, 20),
        (ROUTINE_COHORT,),
    ),
    Case(
        "DOMAIN moved from another enterprise on 22 Sep: keeps the 14 Sep negative; not overdue for 20 Sep",
        local(2021, 9, 23, 10),
        person(test_cohort=1, hire_date=date(2021, 9, 22), results=[pcr(local(2021, 9, 14, 9))]),
        local(2021, 10, 4),
        (ROUTINE_COHORT,),
    ),
    # -- Issue item 2: cleared means positively cleared (seeds/003).
    Case(
        "seeds/003 'đã được xét nghiệm âm tính': never tested: not cleared (NO_NEGATIVE_TEST)",
        local(2021, 9, 13, 10),
        person(last_result_at=None),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
        not_cleared=(NO_NEGATIVE_TEST,),
    ),
    Case(
        "seeds/003: never tested and no enterprise rounds: still not cleared",
        local(2021, 9, 13, 10),
        person(last_result_at=None),
        None,
        (),
        kind=None,
        not_cleared=(NO_NEGATIVE_TEST,),
        enterprise=None,
    ),
    Case(
        "seeds/004 §II.6 'dừng hoạt động': a suspended enterprise's workers are not cleared",
        local(2021, 9, 13, 10),
        person(),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
        not_cleared=(ENTERPRISE_SUSPENDED,),
        enterprise=SUSPENDED_PARK,
    ),
    # -- Cadences: seeds/000 §2.2 (1), a test every 3 days.
    Case(
        "§2.2 (1) UNVACCINATED: no dose; tested 12 Sep 08:00, due 15 Sep 08:00 (interval 3 days)",
        local(2021, 9, 13, 10),
        person(first_dose_at=None, results=[pcr(local(2021, 9, 12, 8))]),
        local(2021, 9, 15, 8),
        (UNVACCINATED,),
    ),
    Case(
        "§2.2 (1) UNVACCINATED: overdue once the 24 h grace after 15 Sep 08:00 has passed",
        local(2021, 9, 16, 9),
        person(first_dose_at=None, results=[rapid(local(2021, 9, 12, 8))]),
        local(2021, 9, 15, 8),
        (UNVACCINATED,),
        overdue=True,
        not_cleared=(NEGATIVE_TEST_TOO_OLD,),
    ),
    Case(
        "§2.2 (1) UNVACCINATED: a dose given on 20 Sep does not count on 15 Sep",
        local(2021, 9, 15, 10),
        person(first_dose_at=local(2021, 9, 20, 9), results=[pcr(local(2021, 9, 13, 8))]),
        local(2021, 9, 16, 8),
        (UNVACCINATED,),
    ),
    Case(
        "§2.2 (1) UNVACCINATED: no test since June: due since September's rule took effect (11 Sep)",
        local(2021, 9, 15, 10),
        person(first_dose_at=None),
        local(2021, 9, 11),
        (UNVACCINATED,),
        overdue=True,
        not_cleared=(NEGATIVE_TEST_TOO_OLD,),
    ),
    Case(
        "July plan: the unvaccinated every 3 days, as September's 'duy trì' (maintain) implies",
        local(2021, 8, 6, 10),
        person(first_dose_at=None, results=[pcr(local(2021, 8, 5, 8))]),
        local(2021, 8, 8, 8),
        (UNVACCINATED,),
        policy=JULY,
    ),
    Case(
        "§2.2 (1) HIGH_RISK: flagged high-risk; tested 11 Sep 08:00, due 14 Sep 08:00",
        local(2021, 9, 12, 10),
        person(high_risk=True, results=[pcr(local(2021, 9, 11, 8))]),
        local(2021, 9, 14, 8),
        (HIGH_RISK,),
    ),
    Case(
        "§2.2 (1) HIGH_RISK ends at high_risk_until (13 Sep noon): back to the halves (13 Sep window)",
        local(2021, 9, 12, 10),
        person(high_risk=True, high_risk_until=local(2021, 9, 13, 12), results=[pcr(local(2021, 9, 11, 8))]),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
    ),
    Case(
        "CONTACT: a contact of a confirmed case declared 15 Sep 10:00 is tested at once",
        local(2021, 9, 15, 12),
        person(
            results=[pcr(local(2021, 9, 13, 9))],
            declarations=[Declaration(local(2021, 9, 15, 10), (), True)],
        ),
        local(2021, 9, 15, 10),
        (CONTACT,),
    ),
    Case(
        "CONTACT: tested 15 Sep 11:00, then every 3 days (18 Sep 11:00)",
        local(2021, 9, 16, 12),
        person(
            results=[pcr(local(2021, 9, 15, 11))],
            declarations=[Declaration(local(2021, 9, 15, 10), (), True)],
        ),
        local(2021, 9, 18, 11),
        (CONTACT,),
    ),
    Case(
        "CONTACT: high-risk for 14 days only (declared 1 Sep, over on 15 Sep): the halves again",
        local(2021, 9, 16, 12),
        person(
            results=[pcr(local(2021, 9, 13, 9))],
            declarations=[Declaration(local(2021, 9, 1, 10), (), True)],
        ),
        local(2021, 9, 27),
        (ROUTINE_COHORT,),
    ),
    # -- Issue item 4: symptoms (seeds/000 §2.2): declaration, then at once an individual rapid
    # test and an individual PCR.
    Case(
        "§2.2 SYMPTOMATIC: fever declared 20 Sep 08:00: rapid test and PCR now, not cleared",
        local(2021, 9, 20, 9),
        person(declarations=[Declaration(local(2021, 9, 20, 8), ("fever",), False)]),
        local(2021, 9, 20, 8),
        (SYMPTOMATIC,),
        kind=RAPID_ANTIGEN_AND_PCR,
        not_cleared=(SYMPTOMATIC,),
        enterprise=None,
    ),
    Case(
        "§2.2 SYMPTOMATIC: rapid test done at 08:30, the PCR is still due",
        local(2021, 9, 20, 9),
        person(
            results=[rapid(local(2021, 9, 20, 8, 30))],
            declarations=[Declaration(local(2021, 9, 20, 8), ("cough",), False)],
        ),
        local(2021, 9, 20, 8),
        (SYMPTOMATIC,),
        kind=PCR,
        not_cleared=(SYMPTOMATIC,),
        enterprise=None,
    ),
    Case(
        "§2.2 'đồng thời, test nhanh và … PCR': a negative PCR alone does not drop the rapid test",
        local(2021, 9, 20, 18),
        person(
            results=[pcr(local(2021, 9, 20, 9))],
            declarations=[Declaration(local(2021, 9, 20, 8), ("fatigue",), False)],
        ),
        local(2021, 9, 20, 8),
        (SYMPTOMATIC,),
        kind=RAPID_ANTIGEN,
        overdue=False,
        not_cleared=(SYMPTOMATIC,),
        enterprise=None,
    ),
    Case(
        "§2.2 SYMPTOMATIC: a pooled negative PCR is not the individual PCR asked for",
        local(2021, 9, 20, 18),
        person(
            results=[rapid(local(2021, 9, 20, 8, 30)), pcr(local(2021, 9, 20, 9), pooled=True)],
            declarations=[Declaration(local(2021, 9, 20, 8), ("fever",), False)],
        ),
        local(2021, 9, 20, 8),
        (SYMPTOMATIC,),
        kind=PCR,
        not_cleared=(SYMPTOMATIC,),
        enterprise=None,
    ),
    Case(
        "§2.2 SYMPTOMATIC: an individual rapid test and a negative individual PCR: cleared",
        local(2021, 9, 20, 18),
        person(
            results=[rapid(local(2021, 9, 20, 8, 30)), pcr(local(2021, 9, 20, 9))],
            declarations=[Declaration(local(2021, 9, 20, 8), ("fever",), False)],
        ),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    Case(
        "§2.2 SYMPTOMATIC: a declaration without symptoms asks for nothing",
        local(2021, 9, 20, 9),
        person(declarations=[Declaration(local(2021, 9, 20, 8), (), False)]),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    # seeds/001: a positive pool clears no one; each member needs an individual test at once.
    Case(
        "seeds/001 POOL_POSITIVE: pool collected 18 Sep, positive at 15:00: individual PCR now",
        local(2021, 9, 18, 16),
        person(positive_pools=[POOL]),
        local(2021, 9, 18, 15),
        (POOL_POSITIVE,),
        kind=PCR,
        not_cleared=(POOL_POSITIVE,),
        enterprise=None,
    ),
    Case(
        "seeds/001 POOL_POSITIVE: an individual negative PCR on 19 Sep resolves it",
        local(2021, 9, 19, 12),
        person(positive_pools=[POOL], results=[pcr(local(2021, 9, 19, 8))]),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    Case(
        "seeds/001 POOL_POSITIVE: another pooled sample does not resolve it",
        local(2021, 9, 19, 12),
        person(positive_pools=[POOL], results=[pcr(local(2021, 9, 19, 8), pooled=True)]),
        local(2021, 9, 18, 15),
        (POOL_POSITIVE,),
        kind=PCR,
        not_cleared=(POOL_POSITIVE,),
        enterprise=None,
    ),
    Case(
        "seeds/001 POOL_POSITIVE: a pool whose result comes at 15:00 is unknown at noon",
        local(2021, 9, 18, 12),
        person(positive_pools=[POOL]),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    # -- Issue item 3: a positive stands until a later individual negative PCR, however old.
    Case(
        "POSITIVE: a positive PCR on 19 Sep blocks work; a confirmed case is not screened",
        local(2021, 9, 19, 12),
        person(results=[pcr(local(2021, 9, 19, 8), "POSITIVE")]),
        None,
        (),
        kind=None,
        not_cleared=(POSITIVE,),
    ),
    Case(
        "DOMAIN 'a positive stands': a positive of 1 Aug with nothing after still blocks on 30 Sep",
        local(2021, 9, 30, 12),
        person(results=[pcr(local(2021, 8, 1, 8), "POSITIVE")], last_result_at=local(2021, 8, 1, 8)),
        None,
        (),
        kind=None,
        not_cleared=(POSITIVE,),
    ),
    Case(
        "DOMAIN 'a positive stands': a later negative rapid test does not lift it",
        local(2021, 9, 30, 12),
        person(results=[pcr(local(2021, 8, 1, 8), "POSITIVE"), rapid(local(2021, 9, 20, 8))]),
        None,
        (),
        kind=None,
        not_cleared=(POSITIVE,),
    ),
    Case(
        "DOMAIN 'a positive stands': a later pooled negative PCR does not lift it",
        local(2021, 9, 30, 12),
        person(results=[pcr(local(2021, 8, 1, 8), "POSITIVE"), pcr(local(2021, 9, 20, 8), pooled=True)]),
        None,
        (),
        kind=None,
        not_cleared=(POSITIVE,),
    ),
    Case(
        "POSITIVE: a positive rapid test needs its PCR at once",
        local(2021, 9, 19, 12),
        person(results=[rapid(local(2021, 9, 19, 8), "POSITIVE")]),
        local(2021, 9, 19, 8),
        (POSITIVE,),
        kind=PCR,
        not_cleared=(POSITIVE,),
    ),
    Case(
        "POSITIVE: lifted by a later individual negative PCR (positive 10 Sep, negative 17 Sep)",
        local(2021, 9, 18, 12),
        person(results=[pcr(local(2021, 9, 10, 8), "POSITIVE"), pcr(local(2021, 9, 17, 8))]),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    # -- Issue item 5: new hires from another province (seeds/000 §2.2 (2)).
    Case(
        "§2.2 (2) NEW_HIRE_BUFFER: PCR on 10 Sep 10:00 (46 h before arrival); first buffer test on arrival",
        local(2021, 9, 12, 12),
        person(**HANOI_HIRE, results=[pcr(local(2021, 9, 10, 10))]),
        ARRIVED,
        (NEW_HIRE_BUFFER,),
        not_cleared=(NEW_HIRE_BUFFER,),
    ),
    Case(
        "§2.2 (2) '48 giờ trước khi về tỉnh': a PCR 73 h before is too old: flagged, and not replaced",
        local(2021, 9, 12, 12),
        person(**HANOI_HIRE, results=[pcr(local(2021, 9, 9, 7))]),
        ARRIVED,
        (NEW_HIRE_BUFFER,),
        not_cleared=(NEW_HIRE_BUFFER, NEW_HIRE_PRE_ARRIVAL_PCR_MISSING),
        flags=(NEW_HIRE_PRE_ARRIVAL_PCR_MISSING,),
    ),
    Case(
        "§2.2 (2) a PCR on arrival is a buffer test, not the pre-arrival PCR: the second is still due",
        local(2021, 9, 13, 10),
        person(**HANOI_HIRE, results=[pcr(local(2021, 9, 12, 9))]),
        local(2021, 9, 18, 8),
        (NEW_HIRE_BUFFER,),
        not_cleared=(NEW_HIRE_BUFFER, NEW_HIRE_PRE_ARRIVAL_PCR_MISSING),
        flags=(NEW_HIRE_PRE_ARRIVAL_PCR_MISSING,),
    ),
    Case(
        "§2.2 (2) '2 lần xét nghiệm âm tính': the pre-arrival PCR does not count as a buffer test",
        local(2021, 9, 13, 10),
        person(**HANOI_HIRE, results=[pcr(local(2021, 9, 10, 10)), rapid(local(2021, 9, 12, 9))]),
        local(2021, 9, 18, 8),
        (NEW_HIRE_BUFFER,),
        not_cleared=(NEW_HIRE_BUFFER,),
    ),
    Case(
        "§2.2 (2) NEW_HIRE_BUFFER: two negatives, but the 7 days end on 19 Sep 08:00: not cleared yet",
        local(2021, 9, 18, 12),
        person(
            **HANOI_HIRE,
            results=[pcr(local(2021, 9, 10, 10)), rapid(local(2021, 9, 12, 9)), rapid(local(2021, 9, 18, 9))],
        ),
        None,
        (),
        kind=None,
        not_cleared=(NEW_HIRE_BUFFER,),
    ),
    Case(
        "§2.2 (2) NEW_HIRE_BUFFER: only one negative after the 7 days: still not cleared, test overdue",
        local(2021, 9, 20, 10),
        person(**HANOI_HIRE, results=[pcr(local(2021, 9, 10, 10)), rapid(local(2021, 9, 12, 9))]),
        local(2021, 9, 18, 8),
        (NEW_HIRE_BUFFER,),
        overdue=True,
        not_cleared=(NEW_HIRE_BUFFER,),
    ),
    Case(
        "§2.2 (2) NEW_HIRE_HIGH_RISK: after the buffer, every 3 days (last test 18 Sep 09:00 -> 21 Sep)",
        local(2021, 9, 20, 10),
        person(
            **HANOI_HIRE,
            results=[pcr(local(2021, 9, 10, 10)), rapid(local(2021, 9, 12, 9)), rapid(local(2021, 9, 18, 9))],
        ),
        local(2021, 9, 21, 9),
        (NEW_HIRE_HIGH_RISK,),
    ),
    Case(
        "§2.2 (2) a missing pre-arrival PCR stays flagged after the buffer, without blocking work",
        local(2021, 9, 20, 10),
        person(**HANOI_HIRE, results=[rapid(local(2021, 9, 12, 9)), rapid(local(2021, 9, 18, 9))]),
        local(2021, 9, 21, 9),
        (NEW_HIRE_HIGH_RISK,),
        flags=(NEW_HIRE_PRE_ARRIVAL_PCR_MISSING,),
    ),
    Case(
        "§2.2 (2) NEW_HIRE_HIGH_RISK: the high-risk period starts when the buffer ends (19 Sep 08:00)",
        local(2021, 9, 20, 10),
        person(
            **HANOI_HIRE,
            results=[pcr(local(2021, 9, 10, 10)), rapid(local(2021, 9, 12, 9)), rapid(local(2021, 9, 13, 9))],
        ),
        local(2021, 9, 19, 8),
        (NEW_HIRE_HIGH_RISK,),
        overdue=True,
        not_cleared=(NEGATIVE_TEST_TOO_OLD,),
    ),
    Case(
        "§2.2 (2) the pipeline ends 10 days after the buffer (29 Sep): the halves again",
        local(2021, 9, 30, 10),
        person(
            **HANOI_HIRE,
            results=[
                pcr(local(2021, 9, 10, 10)),
                rapid(local(2021, 9, 12, 9)),
                rapid(local(2021, 9, 18, 9)),
                pcr(local(2021, 9, 27, 9)),
            ],
        ),
        local(2021, 10, 11),
        (ROUTINE_COHORT,),
    ),
    Case(
        "§2.2 (2) a planned arrival (20 Sep 08:00): the pre-arrival PCR is due from 18 Sep 08:00",
        local(2021, 9, 17, 12),
        person(arrived_at=local(2021, 9, 20, 8), arrived_from_province="Hà Nội"),
        local(2021, 9, 18, 8),
        (NEW_HIRE_PRE_ARRIVAL_PCR,),
        kind=PCR,
        not_cleared=(NEW_HIRE_NOT_ARRIVED,),
    ),
    Case(
        "§2.2 (2) a planned arrival with its pre-arrival PCR in: nothing due before arriving",
        local(2021, 9, 19, 12),
        person(arrived_at=local(2021, 9, 20, 8), arrived_from_province="Hà Nội", results=[pcr(local(2021, 9, 19, 9))]),
        None,
        (),
        kind=None,
        not_cleared=(NEW_HIRE_NOT_ARRIVED,),
    ),
    Case(
        "§2.2 (2) arriving from Bắc Giang itself is not arriving from another province",
        local(2021, 9, 12, 12),
        person(arrived_at=ARRIVED, arrived_from_province="Bac Giang"),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    # -- Issue item 7: the rule history (seeds/002, 003, 001/004, 000).
    Case(
        "seeds/002 MASS_TESTING: a park worker owes one test by 15 May ('trước ngày 16/5/2021')",
        local(2021, 5, 14, 10),
        person(last_result_at=None, hire_date=date(2021, 3, 1)),
        local(2021, 5, 13),
        (MASS_TESTING,),
        not_cleared=(NO_NEGATIVE_TEST,),
        policy=MAY,
    ),
    Case(
        "seeds/002 MASS_TESTING: untested after 15 May: overdue (after the grace)",
        local(2021, 5, 17, 10),
        person(last_result_at=None, hire_date=date(2021, 3, 1)),
        local(2021, 5, 13),
        (MASS_TESTING,),
        overdue=True,
        not_cleared=(NO_NEGATIVE_TEST,),
        policy=MAY,
    ),
    Case(
        "seeds/002 'trước hết … Vân Trung': the Vân Trung park's workers by 14 May",
        local(2021, 5, 15, 10),
        person(last_result_at=None, hire_date=date(2021, 3, 1)),
        local(2021, 5, 13),
        (MASS_TESTING,),
        not_cleared=(NO_NEGATIVE_TEST,),
        policy=MAY,
        enterprise=VAN_TRUNG,
        window=(local(2021, 5, 13), local(2021, 5, 15), False),
    ),
    Case(
        "seeds/002 MASS_TESTING: tested on 14 May: nothing more due in May",
        local(2021, 5, 20, 10),
        person(results=[pcr(local(2021, 5, 14, 9), pooled=True)], last_result_at=None, hire_date=date(2021, 3, 1)),
        None,
        (),
        kind=None,
        policy=MAY,
    ),
    Case(
        "seeds/002 a worker hired on 20 May owes nothing of the campaign that ended on 15 May",
        local(2021, 5, 21, 10),
        person(last_result_at=None, hire_date=date(2021, 5, 20)),
        None,
        (),
        kind=None,
        not_cleared=(NO_NEGATIVE_TEST,),
        policy=MAY,
    ),
    Case(
        "seeds/002 mass testing is for the parks ('khu công nghiệp') only",
        local(2021, 5, 14, 10),
        person(last_result_at=None),
        None,
        (),
        kind=None,
        not_cleared=(NO_NEGATIVE_TEST,),
        policy=MAY,
        enterprise=CLUSTER,
    ),
    Case(
        "seeds/003 June: no cadence, but only workers tested negative may work",
        local(2021, 6, 28, 10),
        person(last_result_at=None),
        None,
        (),
        kind=None,
        not_cleared=(NO_NEGATIVE_TEST,),
        policy=JUNE,
    ),
    Case(
        "seeds/003 June intake: brought in from Lục Nam on 27 Jun, in the buffer until a negative test",
        local(2021, 6, 28, 10),
        person(arrived_at=local(2021, 6, 27, 8), arrived_from_province="Bắc Giang"),
        local(2021, 6, 27, 8),
        (NEW_HIRE_BUFFER,),
        overdue=True,
        not_cleared=(NEW_HIRE_BUFFER,),
        policy=JUNE,
    ),
    Case(
        "seeds/003 June intake: negative on 27 Jun: to work",
        local(2021, 6, 28, 10),
        person(arrived_at=local(2021, 6, 27, 8), arrived_from_province="Hà Nội", results=[pcr(local(2021, 6, 27, 9))]),
        None,
        (),
        kind=None,
        policy=JUNE,
    ),
    Case(
        "version boundary: arrived 9 Sep under July's intake, negative on 9 Sep: September's 7-day buffer "
        "does not apply after the fact",
        local(2021, 9, 13, 10),
        person(arrived_at=local(2021, 9, 9, 8), arrived_from_province="Hà Nội", results=[pcr(local(2021, 9, 9, 9))]),
        local(2021, 9, 13),
        (ROUTINE_COHORT,),
    ),
    Case(
        "version boundary: arrived 12 Sep, the pipeline runs under September's rule to its end",
        local(2021, 9, 12, 12),
        person(**HANOI_HIRE, results=[pcr(local(2021, 9, 10, 10))]),
        ARRIVED,
        (NEW_HIRE_BUFFER,),
        not_cleared=(NEW_HIRE_BUFFER,),
    ),
    # seeds/000 §2.3: back in a boarding house from another province: within 24 h, again 72 h later.
    Case(
        "§2.3 RETURN_FIRST_TEST: back from Hà Nội on 20 Sep 18:00: a test now",
        local(2021, 9, 20, 20),
        person(travels=[Travel(RETURNED, "Hà Nội", True)]),
        RETURNED,
        (RETURN_FIRST_TEST,),
        enterprise=None,
    ),
    Case(
        "§2.3 RETURN_FIRST_TEST: untested 25 h after the return: overdue",
        local(2021, 9, 21, 19),
        person(travels=[Travel(RETURNED, "Hà Nội", True)]),
        RETURNED,
        (RETURN_FIRST_TEST,),
        overdue=True,
        enterprise=None,
    ),
    Case(
        "§2.3 RETURN_SECOND_TEST: tested 21 Sep 08:00; the second test is due 72 h after the return",
        local(2021, 9, 22, 10),
        person(results=[rapid(local(2021, 9, 21, 8))], travels=[Travel(RETURNED, "Hà Nội", True)]),
        local(2021, 9, 23, 18),
        (RETURN_SECOND_TEST,),
        enterprise=None,
    ),
    Case(
        "§2.3 RETURN_SECOND_TEST: a single late test (24 Sep) is the first test, not the second",
        local(2021, 9, 24, 9),
        person(results=[rapid(local(2021, 9, 24, 8))], travels=[Travel(RETURNED, "Hà Nội", True)]),
        local(2021, 9, 23, 18),
        (RETURN_SECOND_TEST,),
        enterprise=None,
    ),
    Case(
        "§2.3 both return tests done (21 Sep and 23 Sep 19:00): nothing due",
        local(2021, 9, 24, 9),
        person(
            results=[rapid(local(2021, 9, 21, 8)), rapid(local(2021, 9, 23, 19))],
            travels=[Travel(RETURNED, "Hà Nội", True)],
        ),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    Case(
        "§2.3 'ở quê xuống': back in a boarding house from a home town in Lục Nam (inside Bắc Giang): a test at once",
        local(2021, 9, 20, 20),
        person(travels=[Travel(RETURNED, "Bắc Giang", True, True)]),
        RETURNED,
        (RETURN_HOME_TOWN,),
        enterprise=None,
    ),
    Case(
        "§2.3 'ở quê xuống': untested the next evening: overdue (not in the source: the 24 h grace)",
        local(2021, 9, 21, 19),
        person(travels=[Travel(RETURNED, "Bắc Giang", True, True)]),
        RETURNED,
        (RETURN_HOME_TOWN,),
        overdue=True,
        enterprise=None,
    ),
    Case(
        "§2.3 'ở quê xuống': tested on return: nothing more",
        local(2021, 9, 21, 19),
        person(results=[rapid(local(2021, 9, 20, 21))], travels=[Travel(RETURNED, "Bắc Giang", True, True)]),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    Case(
        "§2.3 a home town in another province (Nam Định) is 'ngoài tỉnh về': 24 h, then 72 h",
        local(2021, 9, 20, 20),
        person(travels=[Travel(RETURNED, "Nam Định", True, True)]),
        RETURNED,
        (RETURN_FIRST_TEST,),
        enterprise=None,
    ),
    Case(
        "§2.3 'Tỉnh Bắc Giang' is Bắc Giang, not another province: no 24 h/72 h tests",
        local(2021, 9, 20, 20),
        person(travels=[Travel(RETURNED, "Tỉnh Bắc Giang", True)]),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    Case(
        "§2.2 (2) a new hire from 'TP Bắc Giang' did not come from another province",
        local(2021, 9, 12, 12),
        person(arrived_at=ARRIVED, arrived_from_province="TP Bắc Giang"),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    Case(
        "§2.3 a trip inside Bắc Giang asks for nothing",
        local(2021, 9, 20, 20),
        person(travels=[Travel(RETURNED, "Bắc Giang", True)]),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    Case(
        "§2.3 a return home, not to a boarding house, asks for nothing",
        local(2021, 9, 20, 20),
        person(travels=[Travel(RETURNED, "Hà Nội", False)]),
        None,
        (),
        kind=None,
        enterprise=None,
    ),
    Case(
        "July 2021 plan: no boarding-house return rule yet",
        local(2021, 8, 10, 20),
        person(travels=[Travel(local(2021, 8, 10, 8), "Hà Nội", True)]),
        None,
        (),
        kind=None,
        policy=JULY,
        enterprise=None,
    ),
    # Several reasons at once: one visit, the earliest due time, the kinds combined.
    Case(
        "seeds/001 + §2.2: a positive pool and symptoms at once: one visit for a rapid test and a PCR",
        local(2021, 9, 19, 9),
        person(positive_pools=[POOL], declarations=[Declaration(local(2021, 9, 19, 8), ("fever",), False)]),
        local(2021, 9, 18, 15),
        (POOL_POSITIVE, SYMPTOMATIC),
        kind=RAPID_ANTIGEN_AND_PCR,
        not_cleared=(SYMPTOMATIC, POOL_POSITIVE),
        enterprise=None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_due_rule(case: Case) -> None:
    rules = DueRules(case.policy, case.as_of, HISTORY)
    plan = rules.round_plan(case.enterprise) if case.enterprise is not None else None
    due = rules.evaluate(case.person, plan)
    assert due.due_at == case.due_at, case.rule
    assert due.reasons == case.reasons, case.rule
    assert due.kind == case.kind, case.rule
    assert due.overdue is case.overdue, case.rule
    assert due.not_cleared == case.not_cleared, case.rule
    assert due.cleared_to_work is (not case.not_cleared), case.rule
    assert due.flags == case.flags, case.rule
    if case.window is not None:
        assert due.window == case.window, case.rule


def test_the_next_visit_lists_future_requirements_too() -> None:
    """§2.3: right after the return both tests are known: the 24 h one now, the 72 h one later."""
    rules = DueRules(SEPT, local(2021, 9, 20, 20))
    due = rules.evaluate(person(travels=[Travel(RETURNED, "Hà Nội", True)]))
    assert [(r.reason, r.due_at) for r in due.requirements] == [
        (RETURN_FIRST_TEST, RETURNED),
        (RETURN_SECOND_TEST, local(2021, 9, 23, 18)),
    ]
    assert due.requirements[0].overdue_after == local(2021, 9, 21, 18)  # "within 24 h"


@pytest.mark.parametrize(
    ("rule", "kinds", "combined"),
    [
        ("routine alone: any test", [EITHER], EITHER),
        ("a PCR also satisfies an either-kind requirement", [EITHER, PCR], PCR),
        ("§2.2 symptoms: a rapid test and a PCR", [RAPID_ANTIGEN, PCR], RAPID_ANTIGEN_AND_PCR),
        ("a rapid test alone", [RAPID_ANTIGEN, EITHER], RAPID_ANTIGEN),
    ],
)
def test_kinds_combine_into_one_visit(rule: str, kinds: list[str], combined: str) -> None:
    assert combine_kinds(kinds) == combined, rule


@pytest.mark.parametrize(
    ("rule", "name", "key"),
    [
        ("with accents", "Bắc Giang", "bacgiang"),
        ("without accents", "Bac Giang", "bacgiang"),
        ("other case and spacing", "  BẮC GIANG ", "bacgiang"),
        ("đ is d", "Đà Nẵng", "danang"),
        ("unknown", None, ""),
    ],
)
def test_province_names_compare_without_accents(rule: str, name: str | None, key: str) -> None:
    assert province_key(name) == key, rule


def test_as_of_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        DueRules(SEPT, datetime(2021, 9, 13, 10))


def test_the_first_round_of_a_new_enterprise_tests_half_of_it() -> None:
    """seeds/000 §2.2 (3) '50% tổng số lao động': a new enterprise whose whole roster starts on
    Wed 15 Sep (hire date) owes nothing for the round that opened on 13 Sep; its first round (20
    Sep) tests exactly one half, the next round (27 Sep) the other: 50% means 50%."""
    people = [
        person(person_id=uuid.UUID(int=100 + i), test_cohort=i % 2, hire_date=date(2021, 9, 15), last_result_at=None)
        for i in range(10)
    ]
    for as_of, due_half in ((local(2021, 9, 20, 10), 1), (local(2021, 9, 27, 10), 0)):
        if due_half == 0:  # half 1 tested in its round (21 Sep)
            people = [
                p._replace(results=Results.of([pcr(local(2021, 9, 21, 9))])) if p.test_cohort else p for p in people
            ]
        rules = DueRules(SEPT, as_of, HISTORY)
        plan = rules.round_plan(PARK)
        answers = [rules.evaluate(p, plan) for p in people]
        due_today = [p.test_cohort for p, d in zip(people, answers, strict=True) if d.due_before(rules.day_end)]
        assert due_today == [due_half] * 5, as_of
        assert not any(d.overdue for d in answers), as_of
    on_day_one = DueRules(SEPT, local(2021, 9, 15, 10), HISTORY)
    plan = on_day_one.round_plan(PARK)
    assert not any(on_day_one.evaluate(p, plan).due_before(on_day_one.day_end) for p in people)
