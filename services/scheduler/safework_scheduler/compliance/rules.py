"""Is an enterprise compliant? seeds/000 §2.4 (the single app), §2.2 (testing), §2.1 (doses)
and seeds/004 (unsafe enterprises are stopped), as pure functions over plain data.

Each rule gives at most one finding, a warning or a violation; the enterprise's status is the
worst of them ("compliant" with none).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from safework_common.contract.policy_document import PolicyDocument
from safework_scheduler.due.rules import local_day

COMPLIANT: Final = "compliant"
WARNING: Final = "warning"
VIOLATION: Final = "violation"
_RANK = {COMPLIANT: 0, WARNING: 1, VIOLATION: 2}

SUSPENDED: Final = "SUSPENDED"  # seeds/004: an unsafe enterprise is stopped
APP_NOT_INSTALLED: Final = "APP_NOT_INSTALLED"  # §2.4: the app is not installed
DATA_STALE: Final = "DATA_STALE"  # §2.4: installed but not updated regularly
DEVICE_COVERAGE_LOW: Final = "DEVICE_COVERAGE_LOW"  # §2.4: the app for 100% of workers
TESTS_OVERDUE: Final = "TESTS_OVERDUE"  # §2.2: people past their due test
DOSE1_BEHIND: Final = "DOSE1_BEHIND"  # §2.1: dose 1 for all within September 2021
DOSE2_BEHIND: Final = "DOSE2_BEHIND"  # §2.1: dose 2 by the end of October 2021
REASONS: Final = (
    SUSPENDED,
    APP_NOT_INSTALLED,
    DATA_STALE,
    DEVICE_COVERAGE_LOW,
    TESTS_OVERDUE,
    DOSE1_BEHIND,
    DOSE2_BEHIND,
)


@dataclass(frozen=True, slots=True)
class ComplianceFacts:
    """One enterprise's figures at the computation's instant."""

    enterprise_id: uuid.UUID
    zone_type: str
    operating_status: str
    active_workers: int
    workers_with_device: int  # active workers with an active device of a sanctioned app
    account_devices: int  # the enterprise account's active devices of a sanctioned app
    last_data_update_at: datetime | None  # the latest sync of those devices
    overdue: int  # active workers with an overdue test
    dose1: int  # active workers with dose 1
    dose2: int  # active workers with their primary series complete


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: str
    message: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    status: str
    findings: tuple[Finding, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def assess(policy: PolicyDocument, as_of: datetime, facts: ComplianceFacts) -> Assessment:
    """The enterprise's status at ``as_of`` under ``policy`` (the version in force then)."""
    app = policy.single_app
    rules = policy.compliance
    findings: list[Finding] = []
    # seeds/000 §2.4: parks first (September-October 2021), then outside: where the mandate is
    # not yet enforced, the app findings are warnings.
    app_severity = VIOLATION if facts.zone_type in app.enforced_zone_types else WARNING

    if facts.operating_status == "suspended":
        findings.append(Finding(SUSPENDED, VIOLATION, "The enterprise is suspended from operating."))

    if facts.account_devices == 0:
        findings.append(Finding(APP_NOT_INSTALLED, app_severity, "No active installation of the sanctioned app."))
    elif facts.last_data_update_at is not None:
        age_hours = max(timedelta(0), as_of - facts.last_data_update_at) / timedelta(hours=1)
        if age_hours > app.max_data_age_hours:
            findings.append(
                Finding(
                    DATA_STALE,
                    app_severity,
                    f"No update from the app for {age_hours:.0f} hours.",
                    round(age_hours, 1),
                    app.max_data_age_hours,
                )
            )

    coverage = share(facts.workers_with_device, facts.active_workers)
    if coverage is not None and coverage < app.device_coverage_warning:
        severity = app_severity if coverage < app.device_coverage_violation else WARNING
        findings.append(
            Finding(
                DEVICE_COVERAGE_LOW,
                severity,
                f"{facts.workers_with_device} of {facts.active_workers} workers have the app.",
                round(coverage, 4),
                app.device_coverage_target,
            )
        )

    overdue = share(facts.overdue, facts.active_workers)
    if overdue is not None and facts.overdue > 0 and overdue >= rules.overdue_share_warning:
        severity = VIOLATION if overdue >= rules.overdue_share_violation else WARNING
        findings.append(
            Finding(
                TESTS_OVERDUE,
                severity,
                f"{facts.overdue} of {facts.active_workers} workers are overdue a test.",
                round(overdue, 4),
                rules.overdue_share_warning if severity == WARNING else rules.overdue_share_violation,
            )
        )

    # seeds/000 §2.1: once a dose's deadline has passed, every uncovered worker is behind.
    day = local_day(as_of)
    for dose, covered, code in ((1, facts.dose1, DOSE1_BEHIND), (2, facts.dose2, DOSE2_BEHIND)):
        deadline = policy.vaccines.deadlines.get(dose)
        cov = share(covered, facts.active_workers)
        if deadline is None or day <= deadline or cov is None or covered >= facts.active_workers:
            continue
        limit = rules.dose_coverage_violation
        severity = VIOLATION if limit is not None and cov < limit else WARNING
        findings.append(
            Finding(
                code,
                severity,
                f"{facts.active_workers - covered} workers without dose {dose} after {deadline.isoformat()}.",
                round(cov, 4),
                1.0,
            )
        )

    status = COMPLIANT
    for f in findings:
        if _RANK[f.severity] > _RANK[status]:
            status = f.severity
    return Assessment(status, tuple(findings))
