"""Compliance of one enterprise, and the enterprises in violation across a province or
district: the figures read set-based, the overdue counts from the due rules, the verdict from
``compliance.rules`` under the policy in force at ``as_of``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.answers import trusted
from safework_common.contract.compliance import (
    ComplianceFigures,
    ComplianceOut,
    FindingOut,
    ViolationOut,
    ViolationsOut,
)
from safework_common.contract.policy_document import PolicyDocument
from safework_common.cursor import decode_keys, encode_cursor
from safework_common.internal_auth import Caller
from safework_common.scope import AUTHORITY, district_filter, require_role
from safework_scheduler.compliance import repository as repo
from safework_scheduler.compliance.rules import Assessment, ComplianceFacts, assess, share
from safework_scheduler.due import repository as due_repo
from safework_scheduler.due import service as due_service
from safework_scheduler.policy.repository import PolicyStore

Verdict = Literal["violation", "warning"]


def _facts(row: repo.ComplianceRow, overdue: int) -> ComplianceFacts:
    return ComplianceFacts(
        enterprise_id=row.enterprise_id,
        zone_type=row.zone_type,
        operating_status=row.operating_status,
        active_workers=row.active_workers,
        workers_with_device=row.workers_with_device,
        account_devices=row.account_devices,
        last_data_update_at=row.last_data_update_at,
        overdue=overdue,
        dose1=row.dose1,
        dose2=row.dose2,
    )


def _findings(a: Assessment) -> list[FindingOut]:
    return [
        trusted(
            FindingOut,
            {"code": f.code, "severity": f.severity, "message": f.message, "value": f.value, "threshold": f.threshold},
        )
        for f in a.findings
    ]


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def compliance_out(
    policy: PolicyDocument, row: repo.ComplianceRow, facts: ComplianceFacts, a: Assessment
) -> ComplianceOut:
    """The answer for one enterprise. It echoes no clock (no ``as_of``, no ages), so it stays
    byte-identical while nothing changes and the gateway's ETag holds."""
    return trusted(
        ComplianceOut,
        {
            "enterprise_id": row.enterprise_id,
            "policy_version": policy.version,
            "status": a.status,
            "reasons": list(a.reasons),
            "findings": _findings(a),
            "figures": trusted(
                ComplianceFigures,
                {
                    "zone_type": row.zone_type,
                    "operating_status": row.operating_status,
                    "app_enforced": row.zone_type in policy.single_app.enforced_zone_types,
                    "account_devices": row.account_devices,
                    "last_data_update_at": due_service.local(row.last_data_update_at),
                    "active_workers": row.active_workers,
                    "workers_with_device": row.workers_with_device,
                    "device_coverage": _ratio(share(row.workers_with_device, row.active_workers)),
                    "overdue_tests": facts.overdue,
                    "overdue_share": _ratio(share(facts.overdue, row.active_workers)),
                    "dose1_coverage": _ratio(share(row.dose1, row.active_workers)),
                    "dose2_coverage": _ratio(share(row.dose2, row.active_workers)),
                },
            ),
        },
    )


async def enterprise_compliance(
    session: AsyncSession, store: PolicyStore, caller: Caller, enterprise_id: uuid.UUID, as_of: datetime
) -> ComplianceOut:
    """``GET /v1/enterprises/{id}/compliance``: authority (district: its own), enterprise (own)."""
    enterprise = await due_service.visible_enterprise(session, caller, enterprise_id)
    rules = await due_service.rules_at(session, store, as_of)
    policy = rules.policy
    (row,) = await repo.figures(session, rules.as_of, policy.single_app.sanctioned_app_ids, enterprise_id=enterprise.id)
    day = await due_service.evaluate_enterprise(session, rules, enterprise)
    facts = _facts(row, day.counts().overdue)
    return compliance_out(policy, row, facts, assess(policy, rules.as_of, facts))


async def violations(
    session: AsyncSession,
    store: PolicyStore,
    caller: Caller,
    as_of: datetime,
    district: str | None,
    zone_type: str | None,
    status: Verdict,
    cursor: str | None,
    limit: int,
) -> ViolationsOut:
    """``GET /v1/compliance/violations``: enterprises whose status is ``status``, by id, in
    keyset pages. Set-based: one statement for the figures of every enterprise in scope and one
    streamed statement for their people's due tests, whatever the number of enterprises."""
    require_role(caller, AUTHORITY)
    district = district_filter(caller, district)
    after = decode_keys(cursor, uuid.UUID)
    rules = await due_service.rules_at(session, store, as_of)
    policy = rules.policy
    rows = await repo.figures(
        session, rules.as_of, policy.single_app.sanctioned_app_ids, district=district, zone_type=zone_type
    )
    enterprises = await due_repo.list_enterprises(session, district, zone_type)
    tallies = await due_service.province_tallies(session, rules, enterprises, district=district, zone_type=zone_type)
    items: list[ViolationOut] = []
    more = False
    for row in rows:
        if after is not None and row.enterprise_id <= after[0]:
            continue
        tally = tallies.get(row.enterprise_id)
        facts = _facts(row, tally.overdue if tally is not None else 0)
        a = assess(policy, rules.as_of, facts)
        if a.status != status:
            continue
        if len(items) == limit:
            more = True
            break
        items.append(
            trusted(
                ViolationOut,
                {
                    "enterprise_id": row.enterprise_id,
                    "name": row.name,
                    "district": row.district,
                    "zone_type": row.zone_type,
                    "status": a.status,
                    "reasons": list(a.reasons),
                    "findings": _findings(a),
                },
            )
        )
    return trusted(
        ViolationsOut,
        {
            "as_of": due_service.local(as_of),
            "policy_version": policy.version,
            "status": status,
            "items": items,
            "next_cursor": encode_cursor([items[-1].enterprise_id]) if more else None,
        },
    )
