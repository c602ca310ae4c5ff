"""Response shapes of the due-test routes (instants are in Asia/Ho_Chi_Minh)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from safework_common.contract.fields import Instant
from safework_common.contract.reasons import CODES, DUE_CODES, NOT_CLEARED_CODES

Kind = Literal["PCR", "RAPID_ANTIGEN", "EITHER", "RAPID_ANTIGEN_AND_PCR"]
Payer = Literal["person", "enterprise", "state"]
PAYER_DOC = (
    "Who pays for the test, where the sources say (seeds/000 §2.3: return tests by the person; seeds/002: the "
    "May 2021 mass testing by the enterprise); null: the sources do not say."
)
# The reason codes, as enums in the schema (docs/VERDICTS.md explains each with its source).
DueReason = Literal[DUE_CODES]  # type: ignore[valid-type]
NotClearedReason = Literal[NOT_CLEARED_CODES]  # type: ignore[valid-type]
ReasonCode = Literal[CODES]  # type: ignore[valid-type]


class RequirementOut(BaseModel):
    """One test the person owes. A round's test has a window (any day of it will do; overdue
    once it has closed plus the grace); a cadence's test has its interval."""

    reason: DueReason
    due_at: Instant
    kind: Kind
    overdue_after: Instant
    overdue: bool
    window_start: Instant | None = None
    window_end: Instant | None = None
    interval_days: int | None = None
    payer: Payer | None = Field(default=None, description=PAYER_DOC)
    case_id: uuid.UUID | None = Field(default=None, description="CONTACT: the case traced from (id only).")


class WindowFields(BaseModel):
    """The person's window in the enterprise's rounds: the latest of theirs that has opened
    (or their first, if none has yet), and whether a test collected in it already counts."""

    window_start: Instant | None = None
    window_end: Instant | None = None
    window_done: bool | None = None


class PersonDueOut(WindowFields):
    """The next test of one person: when, which kind, why; overdue; cleared to work."""

    person_id: uuid.UUID
    enterprise_id: uuid.UUID | None
    as_of: Instant
    policy_version: str
    due_at: Instant | None
    kind: Kind | None
    reasons: list[DueReason]
    payer: Payer | None = Field(default=None, description=PAYER_DOC)
    overdue: bool
    cleared_to_work: bool
    not_cleared: list[NotClearedReason]
    flags: list[ReasonCode] = Field(
        default=[], description="Findings that outlast what they block (a missing pre-arrival PCR)."
    )
    contact_case_id: uuid.UUID | None = Field(
        default=None,
        description="A traced contact (reason CONTACT): the case they were traced from, by id only (no F0 identity).",
    )
    requirements: list[RequirementOut]
    assumptions: list[str] = Field(
        default=[],
        description='Policy parameters this answer rests on that the seeds do not give ("not in the source").',
    )


class RoundOut(BaseModel):
    """The enterprise's screening round in progress (seeds/000 §2.2)."""

    mode: Literal["COHORT", "ALL", "SAMPLE", "NONE"]
    reason: DueReason | None
    share: float
    index: int | None
    starts_on: date | None
    ends_on: date | None
    cohort_due: int | None
    sample_size: int
    district_ratio: DistrictRatioOut | None = Field(
        default=None, description="A small enterprise's sample: the district ratio that applied and who set it."
    )


class DistrictRatioOut(BaseModel):
    """seeds/000 §2.2: the district steering committee sets the ratio of its enterprises under 20
    workers; until it does, the policy's default applies ("not in the source")."""

    district: str
    ratio: float
    set_by: str | None
    effective_from: date | None
    default: bool


class DueCounts(BaseModel):
    people: int
    due: int
    overdue: int
    not_cleared: int


class DuePersonOut(WindowFields):
    person_id: uuid.UUID
    employee_code: str | None
    full_name: str
    test_cohort: int
    due_today: bool
    due_at: Instant | None
    kind: Kind | None
    reasons: list[DueReason]
    payer: Payer | None = Field(default=None, description=PAYER_DOC)
    overdue: bool
    cleared_to_work: bool
    not_cleared: list[NotClearedReason]
    flags: list[ReasonCode] = []
    contact_case_id: uuid.UUID | None = Field(
        default=None,
        description="A traced contact (reason CONTACT): the case they were traced from, by id only (no F0 identity).",
    )


class EnterpriseDueOut(BaseModel):
    """The list an enterprise acts on for one day: everyone due by the end of it, and everyone
    not cleared to work, most urgent first."""

    enterprise_id: uuid.UUID
    date: date
    as_of: Instant
    policy_version: str
    round: RoundOut
    counts: DueCounts
    people: list[DuePersonOut]


class EnterpriseDueCounts(DueCounts):
    enterprise_id: uuid.UUID
    name: str
    district: str
    zone_type: str


class ProvinceDueOut(BaseModel):
    """Province- or district-wide counts of due, overdue and not-cleared people, by enterprise."""

    as_of: Instant
    policy_version: str
    district: str | None
    zone_type: str | None
    totals: DueCounts
    enterprises: list[EnterpriseDueCounts]


class ProvincePersonOut(DuePersonOut):
    enterprise_id: uuid.UUID


class ProvincePeopleOut(BaseModel):
    """A page of due, overdue or not-cleared people across enterprises, by enterprise then person."""

    as_of: Instant
    policy_version: str
    items: list[ProvincePersonOut]
    next_cursor: str | None
