"""Tenant scope in the scheduler (docs/ARCHITECTURE.md, "Internal trust and the caller").

Another tenant's enterprise or person is *not found* (404), as in the registry; a role that has
no business on a route at all is *forbidden* (403):

- province authority (no district) and system: everything
- district authority: the enterprises of its district and their people
- enterprise: its own enterprise, roster, due list and compliance
- worker: their own due tests only
- lab: nothing here but the policies
"""

from __future__ import annotations

import uuid

from safework_common.errors import Forbidden, NotFound
from safework_common.internal_auth import Caller

AUTHORITY = "authority"
ENTERPRISE = "enterprise"
WORKER = "worker"
SYSTEM = "system"


def as_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def sees_everything(caller: Caller) -> bool:
    return caller.role == SYSTEM or caller.is_province_authority


def require_role(caller: Caller, *roles: str) -> None:
    """403 unless the caller's role may use the route at all (system always may)."""
    if caller.role == SYSTEM or caller.role in roles:
        return
    raise Forbidden(f"Role {caller.role!r} may not call this.", code="role_not_allowed")


def caller_enterprise(caller: Caller) -> uuid.UUID | None:
    """The one enterprise an enterprise caller is limited to, else None."""
    if caller.role != ENTERPRISE:
        return None
    eid = as_uuid(caller.enterprise_id)
    if eid is None:
        raise Forbidden("Enterprise token without an enterprise scope.", code="scope_missing")
    return eid


def caller_district(caller: Caller) -> str | None:
    return caller.district if caller.role == AUTHORITY else None


def may_see_enterprise(caller: Caller, enterprise_id: uuid.UUID, district: str) -> bool:
    if sees_everything(caller):
        return True
    if caller.role == AUTHORITY:
        return caller.district == district
    if caller.role == ENTERPRISE:
        return caller_enterprise(caller) == enterprise_id
    return False


def enterprise_not_found() -> NotFound:
    return NotFound("No such enterprise.", code="enterprise_not_found", field="path.enterprise_id")


def person_not_found() -> NotFound:
    return NotFound("No such person.", code="person_not_found", field="path.person_id")


def require_enterprise_visible(caller: Caller, enterprise_id: uuid.UUID, district: str) -> None:
    if not may_see_enterprise(caller, enterprise_id, district):
        raise enterprise_not_found()


def may_see_person(caller: Caller, person_id: uuid.UUID, enterprise_id: uuid.UUID | None, district: str | None) -> bool:
    """``enterprise_id``/``district``: the person's employer and its district, if any."""
    if sees_everything(caller):
        return True
    if caller.role == WORKER:
        return as_uuid(caller.person_id) == person_id
    if enterprise_id is None or district is None:
        return False
    return caller.role in (AUTHORITY, ENTERPRISE) and may_see_enterprise(caller, enterprise_id, district)


def area(caller: Caller, district: str | None) -> str | None:
    """The district a province-wide query is limited to: a district authority's own (asking for
    another is refused), or the one asked for."""
    own = caller_district(caller)
    if own is None:
        return district
    if district is not None and district != own:
        raise Forbidden("This caller sees its own district only.", code="district_out_of_scope", field="query.district")
    return own
