"""The policy document: every parameter of the testing, vaccine and single-app rules, with the
date it takes effect. Versions live as YAML in ``policy/versions/`` and are loaded into the
``scheduler_policy`` table by ``safework policy load``. Plain data; no I/O here."""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from safework_common.geo import canonical_district

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


class MassTestingPolicy(_Frozen):
    """A one-off testing campaign of every worker in some zones (seeds/002, 13 May 2021: "xét
    nghiệm Covid-19 diện rộng cho tất cả công nhân khu công nghiệp", finished "trước ngày
    16/5/2021", the Vân Trung park first). Each worker owes one test collected between
    ``starts_on`` and ``due_by`` (local dates, inclusive); the parks named in
    ``priority_zone_names`` by ``priority_due_by``."""

    zone_types: tuple[ZoneType, ...]
    starts_on: date
    due_by: date
    priority_zone_names: tuple[str, ...] = ()
    priority_due_by: date | None = None
    payer: Literal["enterprise", "person", "state"]

    @model_validator(mode="after")
    def _dates_ordered(self) -> MassTestingPolicy:
        if self.due_by < self.starts_on:
            raise ValueError("due_by must not be before starts_on")
        if self.priority_due_by is not None and not self.starts_on <= self.priority_due_by <= self.due_by:
            raise ValueError("priority_due_by must fall between starts_on and due_by")
        return self


class SamplingPolicy(_Frozen):
    default: float = Field(gt=0, le=1)
    by_district: dict[str, float] = {}

    @field_validator("by_district")
    @classmethod
    def _known_districts(cls, value: dict[str, float]) -> dict[str, float]:
        """Districts by their canonical names (``safework_common.geo``); an unknown one is refused."""
        out: dict[str, float] = {}
        for name, ratio in value.items():
            district = canonical_district(name)
            if district is None:
                raise ValueError(f"by_district: {name!r} is no district of Bắc Giang")
            if not 0 < ratio <= 1:
                raise ValueError(f"by_district: the ratio of {district} must be in (0, 1]")
            out[district] = ratio
        return out

    def ratio(self, district: str) -> float:
        return self.by_district.get(district, self.default)


class NewHirePolicy(_Frozen):
    """Intake of new hires: a negative PCR before arriving (None: not asked), a stay in the
    buffer zone with negative tests before work, then high-risk for a while. September's rule
    (seeds/000 §2.2 (2)) is for arrivals from another province; June's intake (seeds/003) for
    every worker brought to the enterprise."""

    pre_arrival_pcr_max_hours: int | None = Field(default=None, gt=0)
    from_other_province_only: bool = True
    buffer_days: int = Field(ge=0)
    buffer_negative_tests: int = Field(ge=0)
    high_risk_days_after_buffer: int = Field(ge=0)


class ReturnPolicy(_Frozen):
    first_test_within_hours: int = Field(gt=0)
    second_test_after_hours: int = Field(gt=0)


class BoardingHouseSamplePolicy(_Frozen):
    """seeds/000 §2.3: random tests of the renters and the owners/managers of boarding houses
    and dormitories (Plan 172/KH-UBND of 5 September 2021, not among the seeds): each district
    draws its sample round by round at the ratio its steering committee sets."""

    round_days: int = Field(gt=0)
    # Until a district sets its own ratio (``district_ratio``, kind ``boarding_house``).
    default_ratio: float = Field(gt=0, le=1)


class SymptomaticPolicy(_Frozen):
    kinds: tuple[Literal["RAPID_ANTIGEN", "PCR"], ...]


class PoolPositivePolicy(_Frozen):
    kind: Literal["PCR", "RAPID_ANTIGEN"]


class ContactPolicy(_Frozen):
    high_risk_days: int = Field(gt=0)


class TestingPolicy(_Frozen):
    __test__ = False  # not a pytest class

    # seeds/000 §2.2 (1); None: the version sets no such cadence.
    high_risk_interval_days: int | None = Field(gt=0)
    unvaccinated_interval_days: int | None = Field(gt=0)
    # None: the version sets no periodic screening rounds (May and June 2021).
    routine: RoutinePolicy | None
    # seeds/002: a one-off campaign of every park worker (May 2021); None: none.
    mass_testing: MassTestingPolicy | None = None
    # Zone types counted as "outside the industrial parks" (seeds/000 §2.2: "ngoài khu công
    # nghiệp"), where the garment/shuttlecock and small-enterprise sampling rules apply.
    outside_parks_zone_types: tuple[ZoneType, ...]
    sampled_industries_outside_parks: tuple[str, ...]
    sampled_industries_min_share: float = Field(gt=0, le=1)
    small_enterprise_threshold: int = Field(ge=0)
    # seeds/000 §2.2: under the threshold, the district's ratio (None: no such rule yet).
    district_sampling_ratio: SamplingPolicy | None
    new_hire: NewHirePolicy | None
    boarding_house_return: ReturnPolicy | None
    # seeds/000 §2.3: the districts' random tests of boarding-house renters and owners; None: none.
    boarding_house_sample: BoardingHouseSamplePolicy | None = None
    symptomatic: SymptomaticPolicy
    pool_positive: PoolPositivePolicy
    contact: ContactPolicy
    overdue_grace_hours: int = Field(ge=0)
    # Who pays for the tests a reason asks for, where the sources say (seeds/002: the May mass
    # testing at the enterprise by the enterprise; seeds/000 §2.3: return tests by the person);
    # a reason not named here: the sources do not say.
    payers: dict[str, Literal["person", "enterprise", "state"]] = {}
    # How far back the scheduler reads a person's history (tests, declarations, travels,
    # pools). It must cover every rule's window (see ``min_history_days``): older records
    # can no longer satisfy or raise any requirement.
    history_days: int = Field(gt=0)

    @property
    def min_history_days(self) -> int:
        """The longest look-back any rule needs, in whole days."""
        spans = [
            # the alternating half carries over to the next round
            2 * self.routine.round_days if self.routine is not None else 0,
            self.contact.high_risk_days,
            self.high_risk_interval_days or 0,
            self.unvaccinated_interval_days or 0,
        ]
        if self.new_hire is not None:
            nh = self.new_hire
            spans.append(
                math.ceil((nh.pre_arrival_pcr_max_hours or 0) / 24) + nh.buffer_days + nh.high_risk_days_after_buffer
            )
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


NOT_IN_SOURCE: Final = "not in the source"

# Parameters whose value is a whole mapping or list (one entry in ``sources``), not a subtree.
_LEAF_MAPS: Final = frozenset({"testing.district_sampling_ratio.by_district", "vaccines.deadlines", "testing.payers"})


def _leaf_paths(data: Any, prefix: str = "") -> list[str]:
    if isinstance(data, dict) and prefix not in _LEAF_MAPS:
        out: list[str] = []
        for key, value in data.items():
            out.extend(_leaf_paths(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return [prefix]


class PolicyDocument(_Frozen):
    version: str
    # A corrected reading of the same version's sources: the loader replaces a stored version
    # only by a higher revision (``safework policy load``).
    revision: int = Field(default=1, ge=1)
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
    # Where each parameter comes from, by its dotted path: the seed clause it is read from, or
    # a text starting "not in the source" for a value the seeds do not give (DOMAIN.md: such a
    # value is a named parameter, and answers that depend on it say so). Every parameter has one.
    sources: dict[str, str]

    def parameter_paths(self) -> list[str]:
        """Every parameter's dotted path (what ``sources`` must name)."""
        data = self.model_dump(mode="json", exclude={"version", "revision", "source", "sources"})
        return _leaf_paths(data)

    def unsourced(self, path: str) -> bool:
        """Is the parameter at ``path`` (or the nearest sourced path above it) not in the source?"""
        while path:
            text = self.sources.get(path)
            if text is not None:
                return text.strip().lower().startswith(NOT_IN_SOURCE)
            path = path.rpartition(".")[0]
        return True

    @model_validator(mode="after")
    def _every_parameter_has_a_source(self) -> PolicyDocument:
        paths = set(self.parameter_paths())
        missing = sorted(p for p in paths if p not in self.sources)
        if missing:
            raise ValueError(f"sources must name every parameter; missing: {', '.join(missing)}")
        unknown = sorted(p for p in self.sources if p not in paths)
        if unknown:
            raise ValueError(f"sources names parameters the document does not have: {', '.join(unknown)}")
        return self

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
