"""Tenant scope: what a caller may see. The registry applies it in every query, so another
tenant's object is simply not found (404), whichever route is used.

- authority, province-wide (no district): everything
- authority of a district: enterprises in that district and their people
- enterprise: its own enterprise and roster
- lab: its own submissions (and the people it names, to post results)
- worker: their own person record
- system (CLI jobs): everything
"""

from __future__ import annotations

import uuid

from safework_common.errors import Forbidden, NotFound
from safework_common.internal_auth import Caller


def as_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def sees_everything(caller: Caller) -> bool:
    return caller.role == "system" or caller.is_province_authority


def enterprise_scope(caller: Caller) -> uuid.UUID | None:
    """The one enterprise an enterprise caller is limited to, else None."""
    if caller.role == "enterprise":
        eid = as_uuid(caller.enterprise_id)
        if eid is None:
            raise Forbidden("Enterprise token without an enterprise scope.", code="scope_missing")
        return eid
    return None


def district_scope(caller: Caller) -> str | None:
    if caller.role == "authority" and caller.district is not None:
        return caller.district
    return None


def require_enterprise_visible(caller: Caller, enterprise_id: uuid.UUID, district: str) -> None:
    """Raise 404 unless the caller may see this enterprise."""
    if sees_everything(caller):
        return
    if caller.role == "authority" and caller.district == district:
        return
    if caller.role == "enterprise" and enterprise_scope(caller) == enterprise_id:
        return
    raise NotFound("No such enterprise.", code="enterprise_not_found")


def require_role(caller: Caller, *roles: str) -> None:
    if caller.role == "system" or caller.role in roles:
        return
    raise Forbidden(f"Role {caller.role!r} may not do this.", code="role_not_allowed")
