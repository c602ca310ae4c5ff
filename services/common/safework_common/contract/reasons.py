"""Every verdict reason code, in one place: what it means and the seed clause it comes from.

A code names the rule (the group a person is in, or what blocks them), never a number: the
interval or window that applies travels in the answer beside it (``interval_days``,
``window_start``/``window_end``). ``docs/VERDICTS.md`` lists the same codes; a test keeps the
two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Use = Literal["due", "not_cleared", "both"]


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    use: Use  # why a test is due, why a person is not cleared to work, or both
    source: str  # the seed clause (file and section) the rule comes from
    meaning: str  # plain English


# Why a test is due (the groups and events of the testing rules).
HIGH_RISK: Final = "HIGH_RISK"
UNVACCINATED: Final = "UNVACCINATED"
CONTACT: Final = "CONTACT"
NEW_HIRE_PRE_ARRIVAL_PCR: Final = "NEW_HIRE_PRE_ARRIVAL_PCR"
NEW_HIRE_BUFFER: Final = "NEW_HIRE_BUFFER"
NEW_HIRE_HIGH_RISK: Final = "NEW_HIRE_HIGH_RISK"
ROUTINE_COHORT: Final = "ROUTINE_COHORT"
ROUTINE_ROUND: Final = "ROUTINE_ROUND"
SAMPLED_INDUSTRY: Final = "SAMPLED_INDUSTRY"
SMALL_ENTERPRISE: Final = "SMALL_ENTERPRISE"
MASS_TESTING: Final = "MASS_TESTING"
RETURN_FIRST_TEST: Final = "RETURN_FIRST_TEST"
RETURN_HOME_TOWN: Final = "RETURN_HOME_TOWN"
RETURN_SECOND_TEST: Final = "RETURN_SECOND_TEST"
SYMPTOMATIC: Final = "SYMPTOMATIC"
POOL_POSITIVE: Final = "POOL_POSITIVE"
POSITIVE: Final = "POSITIVE"
# Why a person is not cleared to work (and nothing to test for it).
NO_NEGATIVE_TEST: Final = "NO_NEGATIVE_TEST"
NEGATIVE_TEST_TOO_OLD: Final = "NEGATIVE_TEST_TOO_OLD"
ENTERPRISE_SUSPENDED: Final = "ENTERPRISE_SUSPENDED"
NEW_HIRE_PRE_ARRIVAL_PCR_MISSING: Final = "NEW_HIRE_PRE_ARRIVAL_PCR_MISSING"
NEW_HIRE_NOT_ARRIVED: Final = "NEW_HIRE_NOT_ARRIVED"

CATALOGUE: Final[tuple[Reason, ...]] = (
    Reason(
        HIGH_RISK,
        "due",
        "seeds/000 §2.2 (1)",
        "In the high-risk group: a test every `interval_days` days (3 in September 2021) while flagged.",
    ),
    Reason(
        UNVACCINATED,
        "due",
        "seeds/000 §2.2 (1)",
        "No vaccine dose yet: a test every `interval_days` days (3 in September 2021; July keeps it, 'duy trì').",
    ),
    Reason(
        CONTACT,
        "due",
        "seeds/004 §II.3 ('phân loại nguy cơ'); period not in the source",
        "Contact (F1) of a confirmed case, declared or traced (then `contact_case_id` names the case): high-risk, "
        "tested at once then every `interval_days` days.",
    ),
    Reason(
        NEW_HIRE_PRE_ARRIVAL_PCR,
        "due",
        "seeds/000 §2.2 (2)",
        "A planned arrival from another province: a negative PCR taken within 48 h before arriving.",
    ),
    Reason(
        NEW_HIRE_BUFFER,
        "both",
        "seeds/000 §2.2 (2); seeds/003 (June intake)",
        "In the buffer zone after arriving: the negative tests the rule asks for before work (2 in 7 days in "
        "September; one negative in June and July). Not cleared until the buffer is over.",
    ),
    Reason(
        NEW_HIRE_HIGH_RISK,
        "due",
        "seeds/000 §2.2 (2)",
        "After the buffer: high-risk for 10 days, a test every `interval_days` days.",
    ),
    Reason(
        ROUTINE_COHORT,
        "due",
        "seeds/000 §2.2 (3)",
        "Everyone else: 7-day rounds of 50% of the workforce, halves alternating; the person's half is tested "
        "on any day of its round's window (each person every 14 days).",
    ),
    Reason(
        ROUTINE_ROUND,
        "due",
        "seeds/004 §II.2, §II.5 (periodic screening); period and share not in the source",
        "Periodic screening of the whole workforce, one test in each round's window (July 2021).",
    ),
    Reason(
        SAMPLED_INDUSTRY,
        "due",
        "seeds/000 §2.2",
        "Garment or shuttlecock maker outside the parks: 7-day rounds of at least 20% of the workers; the "
        "person is in the sample of the round shown.",
    ),
    Reason(
        SMALL_ENTERPRISE,
        "due",
        "seeds/000 §2.2",
        "Enterprise outside the parks with fewer than 20 workers: 7-day rounds sampling the ratio its "
        "district's steering committee sets; the person is in the sample of the round shown.",
    ),
    Reason(
        MASS_TESTING,
        "due",
        "seeds/002 (13 May 2021)",
        "Mass testing of every industrial-park worker, one test between 13 and 15 May 2021 (Vân Trung park "
        "first, by 14 May), paid by the enterprise.",
    ),
    Reason(
        RETURN_FIRST_TEST,
        "due",
        "seeds/000 §2.3",
        "Back in a boarding house from another province: a test within 24 h of returning (the person pays).",
    ),
    Reason(
        RETURN_HOME_TOWN,
        "due",
        "seeds/000 §2.3 ('ở quê xuống')",
        "Back in a boarding house from one's home town inside the province: a test at once.",
    ),
    Reason(
        RETURN_SECOND_TEST,
        "due",
        "seeds/000 §2.3",
        "Back in a boarding house from another province: a second test 72 h after returning (the person pays).",
    ),
    Reason(
        SYMPTOMATIC,
        "both",
        "seeds/000 §2.2",
        "Symptoms declared: an individual rapid test and an individual PCR at once; not cleared until both "
        "are done and the PCR is negative (a pooled sample does not count).",
    ),
    Reason(
        POOL_POSITIVE,
        "both",
        "seeds/001 §3 (3) (pools of 10 and 20)",
        "In a positive pool: an individual PCR at once; not cleared until it is negative.",
    ),
    Reason(
        POSITIVE,
        "both",
        "DOMAIN.md (a positive stands); seeds/004 §II.3",
        "A positive result not followed by a later individual negative PCR, however long ago. A positive "
        "rapid test still needs its PCR.",
    ),
    Reason(
        NO_NEGATIVE_TEST,
        "not_cleared",
        "seeds/003 ('chỉ sử dụng lao động đã được xét nghiệm âm tính')",
        "Never tested negative: not cleared to work until a negative test is recorded.",
    ),
    Reason(
        NEGATIVE_TEST_TOO_OLD,
        "not_cleared",
        "seeds/003 with the person's group's cadence (seeds/000 §2.2)",
        "The latest negative test is no longer recent enough for the person's group: a screening test is overdue.",
    ),
    Reason(
        ENTERPRISE_SUSPENDED,
        "not_cleared",
        "seeds/004 §II.6 ('dừng hoạt động'); seeds/002 §2",
        "The person's enterprise is suspended from operating: nobody works there.",
    ),
    Reason(
        NEW_HIRE_PRE_ARRIVAL_PCR_MISSING,
        "not_cleared",
        "seeds/000 §2.2 (2)",
        "Arrived from another province without a negative PCR taken within 48 h before arriving. Blocks work "
        "during the buffer and stays flagged for the rest of the new-hire period; buffer tests do not replace it.",
    ),
    Reason(
        NEW_HIRE_NOT_ARRIVED,
        "not_cleared",
        "seeds/000 §2.2 (2); seeds/003",
        "A planned arrival that has not happened yet: the person starts in the buffer zone once arrived.",
    ),
)

BY_CODE: Final = {r.code: r for r in CATALOGUE}
CODES: Final = tuple(r.code for r in CATALOGUE)
DUE_CODES: Final = tuple(r.code for r in CATALOGUE if r.use != "not_cleared")
NOT_CLEARED_CODES: Final = tuple(r.code for r in CATALOGUE if r.use != "due")

# Screening requirements: the ones whose being overdue means the latest negative test is no
# longer recent enough for the person's group (``NEGATIVE_TEST_TOO_OLD``).
SCREENING: Final = frozenset(
    {
        HIGH_RISK,
        UNVACCINATED,
        CONTACT,
        NEW_HIRE_HIGH_RISK,
        ROUTINE_COHORT,
        ROUTINE_ROUND,
        SAMPLED_INDUSTRY,
        SMALL_ENTERPRISE,
        MASS_TESTING,
    }
)

# The policy parameters each verdict reason depends on (dotted paths of the policy document):
# an answer lists those of them the version in force marks "not in the source" (``assumptions``).
_ROUNDS: Final = (
    "testing.routine.round_days",
    "testing.routine.share",
    "testing.routine.alternating_halves",
    "testing.routine.anchor",
    "testing.routine.spread_round_day",
)
PARAMETERS: Final[dict[str, tuple[str, ...]]] = {
    HIGH_RISK: ("testing.high_risk_interval_days",),
    UNVACCINATED: ("testing.unvaccinated_interval_days",),
    CONTACT: ("testing.contact.high_risk_days", "testing.high_risk_interval_days"),
    NEW_HIRE_PRE_ARRIVAL_PCR: ("testing.new_hire.pre_arrival_pcr_max_hours",),
    NEW_HIRE_PRE_ARRIVAL_PCR_MISSING: ("testing.new_hire.pre_arrival_pcr_max_hours",),
    NEW_HIRE_BUFFER: ("testing.new_hire.buffer_days", "testing.new_hire.buffer_negative_tests"),
    NEW_HIRE_HIGH_RISK: ("testing.new_hire.high_risk_days_after_buffer", "testing.high_risk_interval_days"),
    NEW_HIRE_NOT_ARRIVED: ("testing.new_hire.from_other_province_only",),
    ROUTINE_COHORT: _ROUNDS,
    ROUTINE_ROUND: _ROUNDS,
    SAMPLED_INDUSTRY: (*_ROUNDS, "testing.sampled_industries_min_share"),
    SMALL_ENTERPRISE: (*_ROUNDS, "testing.district_sampling_ratio.default"),
    MASS_TESTING: ("testing.mass_testing.starts_on", "testing.mass_testing.due_by"),
    RETURN_FIRST_TEST: ("testing.boarding_house_return.first_test_within_hours",),
    RETURN_HOME_TOWN: ("testing.overdue_grace_hours",),
    RETURN_SECOND_TEST: ("testing.boarding_house_return.second_test_after_hours",),
    SYMPTOMATIC: ("testing.symptomatic.kinds",),
    POOL_POSITIVE: ("testing.pool_positive.kind",),
    NEGATIVE_TEST_TOO_OLD: ("testing.overdue_grace_hours",),
}
# Every requirement's overdue time adds the grace.
GRACE: Final = "testing.overdue_grace_hours"
