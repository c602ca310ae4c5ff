"""Response shapes of the compliance routes."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from safework_common.contract.fields import Instant

Status = Literal["compliant", "warning", "violation"]


class FindingOut(BaseModel):
    code: str
    severity: Literal["warning", "violation"]
    message: str
    value: float | None
    threshold: float | None


class ComplianceFigures(BaseModel):
    zone_type: str
    operating_status: str
    app_enforced: bool
    account_devices: int
    last_data_update_at: Instant | None
    active_workers: int
    workers_with_device: int
    device_coverage: float | None
    overdue_tests: int
    overdue_share: float | None
    dose1_coverage: float | None
    dose2_coverage: float | None


class ComplianceOut(BaseModel):
    """An enterprise's status with the reason codes behind it (seeds/000 §2.1, §2.2, §2.4)."""

    enterprise_id: uuid.UUID
    policy_version: str
    status: Status
    reasons: list[str]
    findings: list[FindingOut]
    figures: ComplianceFigures


class ViolationOut(BaseModel):
    enterprise_id: uuid.UUID
    name: str
    district: str
    zone_type: str
    status: Status
    reasons: list[str]
    findings: list[FindingOut]


class ViolationsOut(BaseModel):
    as_of: Instant
    policy_version: str
    status: Literal["warning", "violation"]
    items: list[ViolationOut]
    next_cursor: str | None
