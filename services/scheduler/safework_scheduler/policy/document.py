"""The policy document: every parameter of the testing, vaccine and single-app rules, with the
date it takes effect. Versions live as YAML in ``policy/versions/`` and are loaded into the
``scheduler_policy`` table by ``safework policy load``. Plain data; no I/O here."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoutinePolicy(_Frozen):
    round_days: int = Field(gt=0)
    share: float = Field(gt=0, le=1)
    alternating_halves: bool


class SamplingPolicy(_Frozen):
    default: float = Field(gt=0, le=1)
    by_district: dict[str, float] = {}

    def ratio(self, district: str) -> float:
        return self.by_district.get(district, self.default)


class NewHirePolicy(_Frozen):
    pre_arrival_pcr_max_hours: int = Field(gt=0)
    buffer_days: int = Field(ge=0)
    buffer_negative_tests: int = Field(ge=0)
    high_risk_days_after_buffer: int = Field(ge=0)


class ReturnPolicy(_Frozen):
    first_test_within_hours: int = Field(gt=0)
    second_test_after_hours: int = Field(gt=0)


class SymptomaticPolicy(_Frozen):
    kinds: tuple[Literal["RAPID_ANTIGEN", "PCR"], ...]


class PoolPositivePolicy(_Frozen):
    kind: Literal["PCR", "RAPID_ANTIGEN"]


class ContactPolicy(_Frozen):
    high_risk_days: int = Field(gt=0)


class TestingPolicy(_Frozen):
    high_risk_interval_days: int = Field(gt=0)
    unvaccinated_interval_days: int = Field(gt=0)
    routine: RoutinePolicy
    sampled_industries_outside_parks: tuple[str, ...]
    sampled_industries_min_share: float = Field(gt=0, le=1)
    small_enterprise_threshold: int = Field(ge=0)
    district_sampling_ratio: SamplingPolicy
    new_hire: NewHirePolicy | None
    boarding_house_return: ReturnPolicy | None
    symptomatic: SymptomaticPolicy
    pool_positive: PoolPositivePolicy
    contact: ContactPolicy
    overdue_grace_hours: int = Field(ge=0)


class VaccineTier(_Frozen):
    tier: int = Field(ge=1)
    name: str
    zone_types: tuple[Literal["KCN", "CCN", "OUTSIDE"], ...]
    job_roles: tuple[str, ...] = ()


class VaccinePolicy(_Frozen):
    tiers: tuple[VaccineTier, ...]
    deadlines: dict[int, date]
    dose2_ranking: Literal["dose2_first", "dose1_first", "by_eligible_date"]

    def tier_of(self, zone_type: str, job_role: str) -> int:
        """The best (lowest) tier a person falls in by zone or by job role."""
        best = None
        for t in self.tiers:
            if zone_type in t.zone_types or job_role in t.job_roles:
                best = t.tier if best is None else min(best, t.tier)
        return best if best is not None else max(t.tier for t in self.tiers)


class SingleAppPolicy(_Frozen):
    sanctioned_app_ids: tuple[str, ...]
    max_data_age_hours: int = Field(gt=0)
    device_coverage_target: float = Field(gt=0, le=1)
    device_coverage_warning: float = Field(gt=0, le=1)
    enforced_zone_types: tuple[Literal["KCN", "CCN", "OUTSIDE"], ...]


class CompliancePolicy(_Frozen):
    overdue_share_warning: float = Field(ge=0, le=1)
    overdue_share_violation: float = Field(ge=0, le=1)


class PolicyDocument(_Frozen):
    version: str
    effective_from: date
    source: str
    testing: TestingPolicy
    vaccines: VaccinePolicy
    single_app: SingleAppPolicy
    compliance: CompliancePolicy


def in_force(versions: list[PolicyDocument], on: date) -> PolicyDocument | None:
    """The version in force on a local date: the latest whose ``effective_from`` is not after it."""
    best: PolicyDocument | None = None
    for doc in versions:
        if doc.effective_from <= on and (best is None or doc.effective_from > best.effective_from):
            best = doc
    return best
