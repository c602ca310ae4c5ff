"""Enterprises: registration, updates, operating status, and the scoped look-ups every
enterprise-level route starts from."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.enterprises import EnterpriseCreate, EnterpriseStatusChange, EnterpriseUpdate
from safework_common.errors import Conflict, NotFound, Unprocessable
from safework_common.internal_auth import Caller
from safework_common.scope import (
    caller_enterprise,
    district_filter,
    require_enterprise_visible,
    require_in_district,
    require_role,
)
from safework_common.timezone import now_local
from safework_registry.audit.service import record
from safework_registry.constraints import flush_or_conflict
from safework_registry.enterprises.models import Enterprise
from safework_registry.events.service import emit
from safework_registry.pagination import decode_keys, encode_cursor
from safework_registry.validation import not_in_future, patch_values

TAX_CODE_UNIQUE = "uq_enterprise_tax_code"


def enterprise_not_found(field: str = "path.enterprise_id") -> NotFound:
    return NotFound("No such enterprise.", code="enterprise_not_found", field=field)


def tax_code_taken() -> Conflict:
    return Conflict("Another enterprise has this tax code.", code="tax_code_taken", field="body.tax_code")


async def enterprise_in_scope(
    session: AsyncSession,
    caller: Caller,
    enterprise_id: uuid.UUID,
    *,
    for_update: bool = False,
    field: str = "path.enterprise_id",
) -> Enterprise:
    """The enterprise if the caller's scope covers it, else 404 (as if it did not exist).
    ``for_update`` locks the row: every write to an enterprise's roster takes this lock, so
    cohort balancing and employee-code checks see a stable roster."""
    stmt = select(Enterprise).where(Enterprise.id == enterprise_id)
    if for_update:
        stmt = stmt.with_for_update()
    enterprise = (await session.execute(stmt)).scalar_one_or_none()
    if enterprise is None:
        raise enterprise_not_found(field)
    try:
        require_enterprise_visible(caller, enterprise.id, enterprise.district)
    except NotFound:
        raise enterprise_not_found(field) from None
    return enterprise


def _check_zone(zone_type: str, zone_name: str | None) -> None:
    """A park (KCN) or cluster (CCN) enterprise names its zone; one outside both has none."""
    if zone_type in ("KCN", "CCN") and zone_name is None:
        raise Unprocessable(
            "An enterprise in a park or cluster names its zone.", code="zone_name_required", field="body.zone_name"
        )
    if zone_type == "OUTSIDE" and zone_name is not None:
        raise Unprocessable(
            "An enterprise outside parks and clusters has no zone name.",
            code="zone_name_not_allowed",
            field="body.zone_name",
        )


def _check_coordinates(latitude: float | None, longitude: float | None) -> None:
    """A position is both coordinates or none."""
    if (latitude is None) != (longitude is None):
        field = "body.longitude" if longitude is None else "body.latitude"
        raise Unprocessable("Give both latitude and longitude, or neither.", code="coordinates_incomplete", field=field)


async def _tax_code_free(session: AsyncSession, tax_code: str, exclude: uuid.UUID | None = None) -> None:
    stmt = select(Enterprise.id).where(Enterprise.tax_code == tax_code)
    if exclude is not None:
        stmt = stmt.where(Enterprise.id != exclude)
    if await session.scalar(stmt.limit(1)) is not None:
        raise tax_code_taken()


async def create_enterprise(session: AsyncSession, caller: Caller, body: EnterpriseCreate) -> Enterprise:
    require_role(caller, "authority")
    # A district authority registers enterprises only in its own district.
    district = require_in_district(caller, body.district)
    _check_zone(body.zone_type, body.zone_name)
    _check_coordinates(body.latitude, body.longitude)
    await _tax_code_free(session, body.tax_code)
    enterprise = Enterprise(**{**body.model_dump(), "district": district}, operating_status="cleared")
    session.add(enterprise)
    await flush_or_conflict(session, {TAX_CODE_UNIQUE: tax_code_taken()})
    await record(session, caller, "enterprise.create", "enterprise", enterprise.id, {"tax_code": enterprise.tax_code})
    await session.refresh(enterprise)
    return enterprise


async def update_enterprise(
    session: AsyncSession, caller: Caller, enterprise_id: uuid.UUID, body: EnterpriseUpdate
) -> Enterprise:
    require_role(caller, "authority")
    values = patch_values(body)
    enterprise = await enterprise_in_scope(session, caller, enterprise_id, for_update=True)
    if "district" in values:
        # ... and moves them only within it.
        values["district"] = require_in_district(caller, values["district"])
    zone_type = values.get("zone_type", enterprise.zone_type)
    if zone_type == "OUTSIDE" and "zone_name" not in values:
        values["zone_name"] = None  # moving outside the zones drops the old zone name
    _check_zone(zone_type, values.get("zone_name", enterprise.zone_name))
    _check_coordinates(values.get("latitude", enterprise.latitude), values.get("longitude", enterprise.longitude))
    if "tax_code" in values and values["tax_code"] != enterprise.tax_code:
        await _tax_code_free(session, values["tax_code"], exclude=enterprise.id)
    changed = sorted(k for k, v in values.items() if getattr(enterprise, k) != v)
    if changed:
        for key in changed:
            setattr(enterprise, key, values[key])
        await flush_or_conflict(session, {TAX_CODE_UNIQUE: tax_code_taken()})
        await record(session, caller, "enterprise.update", "enterprise", enterprise.id, {"fields": changed})
        await session.refresh(enterprise)
    return enterprise


async def change_status(
    session: AsyncSession, caller: Caller, enterprise_id: uuid.UUID, body: EnterpriseStatusChange
) -> Enterprise:
    """Suspend (reason required) or clear an enterprise, with the time it took effect."""
    require_role(caller, "authority")
    if body.status == "suspended" and body.reason is None:
        raise Unprocessable("A suspension needs a reason.", code="status_reason_required", field="body.reason")
    now = now_local()
    at = body.at or now
    not_in_future(at, code="status_time_in_future", field="body.at", now=now)
    enterprise = await enterprise_in_scope(session, caller, enterprise_id, for_update=True)
    enterprise.operating_status = body.status
    enterprise.status_reason = body.reason
    enterprise.status_changed_at = at
    await session.flush()
    await record(session, caller, f"enterprise.{body.status}", "enterprise", enterprise.id, {"status": body.status})
    # seeds/004 §II.6 (stop unsafe enterprises) and seeds/002 §2 (publish the safe ones): the fact, once.
    await emit(
        session,
        f"enterprise.{body.status}",
        "enterprise",
        enterprise.id,
        at,
        {"enterprise_id": str(enterprise.id), "district": enterprise.district, "status": body.status},
    )
    await session.refresh(enterprise)
    return enterprise


async def list_enterprises(
    session: AsyncSession,
    caller: Caller,
    *,
    district: str | None,
    zone_type: str | None,
    operating_status: str | None,
    industry: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Enterprise], str | None]:
    """Enterprises in the caller's scope, by tax code (keyset on the unique tax code)."""
    require_role(caller, "authority", "enterprise")
    stmt = select(Enterprise)
    own = caller_enterprise(caller)
    if own is not None:
        stmt = stmt.where(Enterprise.id == own)
    filters: dict[str, Any] = {
        "district": district_filter(caller, district),
        "zone_type": zone_type,
        "operating_status": operating_status,
        "industry": industry,
    }
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(Enterprise, name) == value)
    after = decode_keys(cursor, str)
    if after is not None:
        stmt = stmt.where(Enterprise.tax_code > after[0])
    rows = list((await session.execute(stmt.order_by(Enterprise.tax_code).limit(limit + 1))).scalars())
    next_cursor = encode_cursor([rows[limit - 1].tax_code]) if len(rows) > limit else None
    return rows[:limit], next_cursor
