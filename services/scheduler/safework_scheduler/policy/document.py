"""The policy document: every parameter of the testing, vaccine and single-app rules, with the
date it takes effect. Versions live as YAML in ``policy/versions/`` and are loaded into the
``scheduler_policy`` table by ``safework policy load``. Plain data; no I/O here."""

from __future__ import annotations

import math
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ZoneType = Literal["KCN", "CCN", "OUTSIDE"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoutinePolicy(_Frozen):
    """Screening rounds for people in no other group (seeds/000 §2.2 (3)).

    Rounds are numbered from ``anchor`` (round 0 starts on that local date) so the halves keep
    alternating across policy versions; with ``spread_round_day`` each enterprise's round starts
    ``hash(enterprise id) mod round_days`` days after the anchor, spreading the labs' load over
    the week."""

    round_days: int = Field(gt=0)
    share: float = Field(gt=0, le=1)
    alternating_halves: bool
    anchor: date
    spread_round_day: bool


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
    __test__ = False  # not a pytest class

    high_risk_interval_days: int = Field(gt=0)
    unvaccinated_interval_days: int = Field(gt=0)
    routine: RoutinePolicy
    # Zone types counted as "outside the industrial parks" (seeds/000 §2.2: "ngoài khu công
    # nghiệp"), where the garment/shuttlecock and small-enterprise sampling rules apply.
    outside_parks_zone_types: tuple[ZoneType, ...]
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
    # How far back the scheduler reads a person's history (tests, declarations, travels,
    # pools). It must cover every rule's window (see ``min_history_days``): older records
    # can no longer satisfy or raise any requirement.
    history_days: int = Field(gt=0)

    @property
    def min_history_days(self) -> int:
        """The longest look-back any rule needs, in whole days."""
        spans = [
            2 * self.routine.round_days,  # the alternating half carries over to the next round
            self.contact.high_risk_days,
            max(self.high_risk_interval_days, self.unvaccinated_interval_days),
        ]
        if self.new_hire is not None:
            nh = self.new_hire
            spans.append(math.ceil(nh.pre_arrival_pcr_max_hours / 24) + nh.buffer_days + nh.high_risk_days_after_buffer)
        if self.boarding_house_return is not None:
            r = self.boarding_house_return
            spans.append(math.ceil((r.second_test_after_hours + self.overdue_grace_hours) / 24))
        return max(spans) + math.ceil(self.overdue_grace_hours / 24)

    @model_validator(mode="after")
    def _history_covers_every_rule(self) -> TestingPolicy:
        if self.history_days < self.min_history_days:
            raise ValueError(f"history_days must be at least {self.min_history_days} to cover every rule")
        return self


class VaccineTier(_Frozen):
    tier: int = Field(ge=1)
    name: str
    zone_types: tuple[ZoneType, ...]
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
    """The single-app mandate (seeds/000 §2.4). In zones not yet in ``enforced_zone_types`` the
    app findings are warnings only."""

    sanctioned_app_ids: tuple[str, ...]
    max_data_age_hours: int = Field(gt=0)
    device_coverage_target: float = Field(gt=0, le=1)
    device_coverage_warning: float = Field(gt=0, le=1)
    # Below this share of active workers with an active device, coverage is a violation.
    device_coverage_violation: float = Field(ge=0, le=1)
    enforced_zone_types: tuple[ZoneType, ...]

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> SingleAppPolicy:
        if not self.device_coverage_violation <= self.device_coverage_warning <= self.device_coverage_target:
            raise ValueError("need device_coverage_violation <= device_coverage_warning <= device_coverage_target")
        return self


class CompliancePolicy(_Frozen):
    overdue_share_warning: float = Field(ge=0, le=1)
    overdue_share_violation: float = Field(ge=0, le=1)
    # After a dose deadline (vaccines.deadlines) every uncovered active worker is a warning;
    # below this coverage it is a violation. None: never a violation (the source sets the
    # deadlines for the steering committee, not a sanction on enterprises).
    dose_coverage_violation: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> CompliancePolicy:
        if self.overdue_share_warning > self.overdue_share_violation:
            raise ValueError("overdue_share_warning must not exceed overdue_share_violation")
        return self


class RetentionPolicy(_Frozen):
    """How long health data is kept, in days by each record's own time (results by collected_at,
    declarations by declared_at, travels by return, check-ins by checked_in_at); ``safework
    retention run`` deletes what is older. Not in the sources: the 2021 practice was to keep
    health data only as long as it is needed."""

    results_days: int = Field(gt=0)
    declarations_days: int = Field(gt=0)
    travels_days: int = Field(gt=0)
    checkins_days: int = Field(gt=0)


class PolicyDocument(_Frozen):
    version: str
    effective_from: date
    source: str
    # The province this instance serves: travel to, and arrivals from, anywhere else are
    # "from another province" (seeds/000 §2.2 (2), §2.3).
    province: str
    testing: TestingPolicy
    vaccines: VaccinePolicy
    single_app: SingleAppPolicy
    compliance: CompliancePolicy
    retention: RetentionPolicy

    @model_validator(mode="after")
    def _retention_keeps_what_the_rules_read(self) -> PolicyDocument:
        """Deleting a record the scheduler still reads would change a due date or a clearance;
        a check-in must outlive a contact's high-risk period so contacts can still be traced."""
        r, t = self.retention, self.testing
        for name in ("results_days", "declarations_days", "travels_days"):
            if getattr(r, name) < t.history_days:
                raise ValueError(f"retention.{name} must be at least testing.history_days ({t.history_days})")
        if r.checkins_days < t.contact.high_risk_days:
            raise ValueError(
                f"retention.checkins_days must be at least testing.contact.high_risk_days ({t.contact.high_risk_days})"
            )
        return self


def in_force(versions: list[PolicyDocument], on: date) -> PolicyDocument | None:
    """The version in force on a local date: the latest whose ``effective_from`` is not after it."""
    best: PolicyDocument | None = None
    for doc in versions:
        if doc.effective_from <= on and (best is None or doc.effective_from > best.effective_from):
            best = doc
    return best
