"""Who sees which part of the vaccine queue and plan (docs/ARCHITECTURE.md, tenant scope).

- authority of the province, and system: every district and enterprise
- authority of a district: that district only
- enterprise: its own people only
- lab, worker: not allowed (403 ``role_not_allowed``)

A filter that names another tenant's district or enterprise is *not found* (404), as on every
other route, so a caller learns nothing about what lies outside its scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from safework_common.errors import Forbidden, NotFound
from safework_common.internal_auth import Caller

ALLOWED_ROLES = frozenset({"authority", "enterprise", "system"})


@dataclass(frozen=True)
class VaccineScope:
    """The rows a request may read: None means no restriction on that column."""

    district: str | None = None
    enterprise_id: uuid.UUID | None = None


def caller_scope(caller: Caller) -> VaccineScope:
    """The scope a caller's role and claims grant, before any filter."""
    if caller.role not in ALLOWED_ROLES:
        raise Forbidden(f"Role {caller.role!r} may not read the vaccine queue or plan.", code="role_not_allowed")
    if caller.role == "enterprise":
        try:
            enterprise_id = uuid.UUID(caller.enterprise_id or "")
        except ValueError:
            raise Forbidden("Enterprise token without an enterprise scope.", code="scope_missing") from None
        return VaccineScope(enterprise_id=enterprise_id)
    if caller.role == "authority" and caller.district is not None:
        return VaccineScope(district=caller.district)
    return VaccineScope()


def narrow(scope: VaccineScope, district: str | None, enterprise_id: uuid.UUID | None) -> VaccineScope:
    """The caller's scope intersected with the request's filters; a filter outside the scope is
    404 (the enterprise's district is checked by the service against the database)."""
    if district is not None:
        if scope.district is not None and district != scope.district:
            raise NotFound("No such district.", code="district_not_found", field="query.district")
        scope = VaccineScope(district=district, enterprise_id=scope.enterprise_id)
    if enterprise_id is not None:
        if scope.enterprise_id is not None and enterprise_id != scope.enterprise_id:
            raise NotFound("No such enterprise.", code="enterprise_not_found", field="query.enterprise_id")
        scope = VaccineScope(district=scope.district, enterprise_id=enterprise_id)
    return scope
