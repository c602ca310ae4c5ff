"""Response shapes of the due-test routes (instants are in Asia/Ho_Chi_Minh)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

Kind = Literal["PCR", "RAPID_ANTIGEN", "EITHER", "RAPID_ANTIGEN_AND_PCR"]


class RequirementOut(BaseModel):
    reason: str
    due_at: datetime
    kind: Kind
    overdue_after: datetime
    overdue: bool


class PersonDueOut(BaseModel):
    """The next test of one person: when, which kind, why; overdue; cleared to work."""

    person_id: uuid.UUID
    enterprise_id: uuid.UUID | None
    as_of: datetime
    policy_version: str
    due_at: datetime | None
    kind: Kind | None
    reasons: list[str]
    overdue: bool
    cleared_to_work: bool
    not_cleared: list[str]
    requirements: list[RequirementOut]


class RoundOut(BaseModel):
    """The enterprise's screening round in progress (seeds/000 §2.2)."""

    mode: Literal["COHORT", "ALL", "SAMPLE"]
    reason: str
    share: float
    index: int
    starts_on: date
    ends_on: date
    cohort_due: int | None
    sample_size: int


class DueCounts(BaseModel):
    people: int
    due: int
    overdue: int
    not_cleared: int


class DuePersonOut(BaseModel):
    person_id: uuid.UUID
    employee_code: str | None
    full_name: str
    test_cohort: int
    due_today: bool
    due_at: datetime | None
    kind: Kind | None
    reasons: list[str]
    overdue: bool
    cleared_to_work: bool
    not_cleared: list[str]


class EnterpriseDueOut(BaseModel):
    """The list an enterprise acts on for one day: everyone due by the end of it, and everyone
    not cleared to work, most urgent first."""

    enterprise_id: uuid.UUID
    date: date
    as_of: datetime
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

    as_of: datetime
    policy_version: str
    district: str | None
    zone_type: str | None
    totals: DueCounts
    enterprises: list[EnterpriseDueCounts]


class ProvincePersonOut(DuePersonOut):
    enterprise_id: uuid.UUID


class ProvincePeopleOut(BaseModel):
    """A page of due, overdue or not-cleared people across enterprises, by enterprise then person."""

    as_of: datetime
    policy_version: str
    items: list[ProvincePersonOut]
    next_cursor: str | None
