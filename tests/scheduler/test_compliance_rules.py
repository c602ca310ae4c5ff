"""Compliance, table-driven: each row names the rule (seeds/000 §2.1, §2.2, §2.4; seeds/004) with
concrete 2021 dates. Pure: no database."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from safework_common.contract.policy_document import PolicyDocument
from safework_scheduler.compliance.rules import (
    APP_NOT_INSTALLED,
    COMPLIANT,
    DATA_STALE,
    DEVICE_COVERAGE_LOW,
    DOSE1_BEHIND,
    DOSE2_BEHIND,
    SUSPENDED,
    TESTS_OVERDUE,
    VIOLATION,
    WARNING,
    ComplianceFacts,
    assess,
)
from tests.scheduler.factories import local
from tests.scheduler.test_due_rules import VERSIONS

SEPT = VERSIONS["2021-09-11"]
JULY = VERSIONS["2021-07-20"]
NOVEMBER = VERSIONS["2021-11-01"]
MONDAY_20_SEP = local(2021, 9, 20, 10)

GOOD = ComplianceFacts(
    enterprise_id=uuid.UUID(int=1),
    zone_type="KCN",
    operating_status="cleared",
    active_workers=10,
    workers_with_device=10,
    account_devices=1,
    last_data_update_at=local(2021, 9, 20, 8),
    overdue=0,
    dose1=10,
    dose2=10,
)


def facts(**kw: object) -> ComplianceFacts:
    return dataclasses.replace(GOOD, **kw)  # type: ignore[arg-type]


def strict_doses(doc: PolicyDocument, below: float) -> PolicyDocument:
    return doc.model_copy(update={"compliance": doc.compliance.model_copy(update={"dose_coverage_violation": below})})


@dataclass
class Case:
    rule: str
    facts: ComplianceFacts
    status: str
    findings: tuple[tuple[str, str], ...]
    as_of: datetime = MONDAY_20_SEP
    policy: PolicyDocument = field(default=SEPT)


CASES = [
    Case("everything in order: compliant", GOOD, COMPLIANT, ()),
    Case(
        "seeds/004 SUSPENDED: a suspended enterprise",
        facts(operating_status="suspended"),
        VIOLATION,
        ((SUSPENDED, VIOLATION),),
    ),
    Case(
        "§2.4 APP_NOT_INSTALLED in a park (enforced first): violation",
        facts(account_devices=0, last_data_update_at=None),
        VIOLATION,
        ((APP_NOT_INSTALLED, VIOLATION),),
    ),
    Case(
        "§2.4 APP_NOT_INSTALLED outside the parks in Sep 2021: a warning only",
        facts(zone_type="OUTSIDE", account_devices=0, last_data_update_at=None),
        WARNING,
        ((APP_NOT_INSTALLED, WARNING),),
    ),
    Case(
        "§2.4 DATA_STALE: no update since 17 Sep 09:00 (73 h)",
        facts(last_data_update_at=local(2021, 9, 17, 9)),
        VIOLATION,
        ((DATA_STALE, VIOLATION),),
    ),
    Case("§2.4 an update 71 h ago is regular enough", facts(last_data_update_at=local(2021, 9, 17, 11)), COMPLIANT, ()),
    Case(
        "§2.4 DATA_STALE in a cluster: a warning",
        facts(zone_type="CCN", last_data_update_at=local(2021, 9, 10, 9)),
        WARNING,
        ((DATA_STALE, WARNING),),
    ),
    Case(
        "§2.4 DEVICE_COVERAGE_LOW: 8 of 10 workers on the app (under the 100% target)",
        facts(workers_with_device=8),
        WARNING,
        ((DEVICE_COVERAGE_LOW, WARNING),),
    ),
    Case(
        "§2.4 'cho 100% đối tượng': 9 of 10 workers on the app is not compliant: a warning",
        facts(workers_with_device=9),
        WARNING,
        ((DEVICE_COVERAGE_LOW, WARNING),),
    ),
    Case("§2.4 every worker on the app: compliant", facts(workers_with_device=10), COMPLIANT, ()),
    Case(
        "§2.4 'sau đó … ngoài các khu công nghiệp': from 1 Nov 2021 a cluster without the app is in violation",
        facts(zone_type="CCN", account_devices=0, workers_with_device=10),
        VIOLATION,
        ((APP_NOT_INSTALLED, VIOLATION),),
        policy=NOVEMBER,
        as_of=local(2021, 11, 2, 10),
    ),
    Case(
        "§2.4 'trước mắt, trong tháng 9, tháng 10': on 31 Oct a cluster without the app is a warning",
        facts(zone_type="CCN", account_devices=0, workers_with_device=10),
        WARNING,
        ((APP_NOT_INSTALLED, WARNING),),
    ),
    Case(
        "§2.4 DEVICE_COVERAGE_LOW: 4 of 10 (under 50%) in a park: violation",
        facts(workers_with_device=4),
        VIOLATION,
        ((DEVICE_COVERAGE_LOW, VIOLATION),),
    ),
    Case(
        "§2.4 DEVICE_COVERAGE_LOW: 4 of 10 outside the parks: warning",
        facts(zone_type="OUTSIDE", workers_with_device=4),
        WARNING,
        ((DEVICE_COVERAGE_LOW, WARNING),),
    ),
    Case("§2.2 TESTS_OVERDUE: 1 of 10 overdue (10%, over 5%)", facts(overdue=1), WARNING, ((TESTS_OVERDUE, WARNING),)),
    Case("§2.2 TESTS_OVERDUE: 2 of 10 overdue (20%)", facts(overdue=2), VIOLATION, ((TESTS_OVERDUE, VIOLATION),)),
    Case(
        "§2.2 1 of 40 overdue (2.5%) is under the warning share",
        facts(active_workers=40, workers_with_device=40, dose1=40, dose2=40, overdue=1),
        COMPLIANT,
        (),
    ),
    Case(
        "§2.1 before 30 Sep, missing dose 1 is not yet behind",
        facts(dose1=5, dose2=0, last_data_update_at=local(2021, 9, 30, 20)),
        COMPLIANT,
        (),
        as_of=local(2021, 9, 30, 22),
    ),
    Case(
        "§2.1 DOSE1_BEHIND: on 1 Oct, 9 of 10 with dose 1",
        facts(dose1=9, dose2=0, last_data_update_at=local(2021, 10, 1, 6)),
        WARNING,
        ((DOSE1_BEHIND, WARNING),),
        as_of=local(2021, 10, 1, 8),
    ),
    Case(
        "§2.1 DOSE2_BEHIND: on 1 Nov, 8 of 10 with dose 2",
        facts(dose2=8, last_data_update_at=local(2021, 11, 1, 6)),
        WARNING,
        ((DOSE2_BEHIND, WARNING),),
        as_of=local(2021, 11, 1, 8),
    ),
    Case(
        "§2.1 with a coverage floor of 80% set, 5 of 10 after 30 Sep is a violation",
        facts(dose1=5, dose2=0, last_data_update_at=local(2021, 10, 1, 6)),
        VIOLATION,
        ((DOSE1_BEHIND, VIOLATION),),
        as_of=local(2021, 10, 1, 8),
        policy=strict_doses(SEPT, 0.8),
    ),
    Case(
        "July 2021 plan: no dose deadlines yet",
        facts(dose1=0, dose2=0),
        COMPLIANT,
        (),
        as_of=local(2021, 8, 1, 8),
        policy=JULY,
    ),
    Case(
        "no active workers: no coverage or overdue findings",
        facts(active_workers=0, workers_with_device=0, dose1=0, dose2=0, last_data_update_at=local(2021, 11, 1, 6)),
        COMPLIANT,
        (),
        as_of=local(2021, 11, 1, 8),
    ),
    Case(
        "several findings: the status is the worst of them",
        facts(zone_type="OUTSIDE", account_devices=0, last_data_update_at=None, overdue=3),
        VIOLATION,
        ((APP_NOT_INSTALLED, WARNING), (TESTS_OVERDUE, VIOLATION)),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_compliance_rule(case: Case) -> None:
    result = assess(case.policy, case.as_of, case.facts)
    assert result.status == case.status, case.rule
    assert tuple((f.code, f.severity) for f in result.findings) == case.findings, case.rule
    assert result.reasons == tuple(code for code, _ in case.findings), case.rule


def test_a_device_synced_after_as_of_counts_as_fresh_then() -> None:
    """The registry keeps the latest sync only: for a past as_of it cannot be older than as_of."""
    result = assess(SEPT, MONDAY_20_SEP, facts(last_data_update_at=local(2021, 9, 25, 8)))
    assert result.status == COMPLIANT
