"""Tenant scope: who may see and name what. The one module deciding it, for the gateway, the
registry and the scheduler alike (docs/ARCHITECTURE.md, "Internal trust and the caller").

Who sees what:

- system (CLI jobs) and the province authority (no district): everything;
- a district authority: the enterprises of its district, their people and those people's
  records, its district's boarding houses; the province's labs and reference data (read);
- an enterprise: itself, its roster and their records, its venues, its sites and unclaimed ones;
- a lab: itself and its own submissions (it may name any person when posting results);
- a worker: their own person record and its records.

One answer to each question, wherever the object is named (path, query string or body):

- a role with no business on a route at all: 403 ``role_not_allowed``;
- a province-only action by a district authority: 403 ``province_only``;
- an enterprise, person, lab, boarding house or district outside the caller's scope: 404, as if
  it did not exist, with its not-found code and the field that named it; in a batch, that item
  is rejected with the same code and field and the rest of the batch goes on;
- a district that does not exist at all: 422 ``unknown_district`` (:mod:`safework_common.geo`).

Districts are compared in their canonical spelling (:func:`safework_common.geo.canonical_district`).
A district authority whose claim names no known district reaches nothing (never everything).

The functions take any object with the caller's claims: the services' internal
:class:`~safework_common.internal_auth.Caller` or the gateway's verified ``Principal``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

from safework_common.errors import Forbidden, NotFound, Unprocessable
from safework_common.geo import canonical_district, unknown_district_message

AUTHORITY = "authority"
ENTERPRISE = "enterprise"
LAB = "lab"
WORKER = "worker"
SYSTEM = "system"


class Party(Protocol):
    """The claims scope is decided on (``Caller`` and the gateway's ``Principal`` have them)."""

    @property
    def role(self) -> str: ...
    @property
    def district(self) -> str | None: ...
    @property
    def enterprise_id(self) -> str | None: ...
    @property
    def lab_id(self) -> str | None: ...
    @property
    def person_id(self) -> str | None: ...


def as_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Roles


def sees_everything(caller: Party) -> bool:
    return caller.role == SYSTEM or (caller.role == AUTHORITY and caller.district is None)


def require_role(caller: Party, *roles: str) -> None:
    """403 ``role_not_allowed`` unless the caller's role may use the route at all (system may)."""
    if caller.role == SYSTEM or caller.role in roles:
        return
    raise Forbidden(f"Role {caller.role!r} may not do this.", code="role_not_allowed")


def require_province(caller: Party, field: str | None = None) -> None:
    """The province authority only (licensing labs, reference data, authority clients): another
    role 403 ``role_not_allowed``, a district authority 403 ``province_only``."""
    require_role(caller, AUTHORITY)
    if not sees_everything(caller):
        raise Forbidden("Only the province authority may do this.", code="province_only", field=field)


# ---------------------------------------------------------------------------------------------
# The tenant a caller is bound to


def caller_enterprise(caller: Party) -> uuid.UUID | None:
    """The one enterprise an enterprise caller is limited to, else None."""
    if caller.role != ENTERPRISE:
        return None
    eid = as_uuid(caller.enterprise_id)
    if eid is None:
        raise Forbidden("Enterprise token without an enterprise scope.", code="scope_missing")
    return eid


def caller_district(caller: Party) -> str | None:
    """The district a district authority is limited to, canonical; None for everyone else. A
    claim naming no known district is returned as it is: it matches no stored district, so such
    an authority reaches nothing (it must never become province-wide)."""
    if caller.role != AUTHORITY or caller.district is None:
        return None
    return canonical_district(caller.district) or caller.district


def in_district(caller: Party, district: str | None) -> bool:
    """Whether an authority's reach covers ``district``: the province authority (and system) any,
    a district authority its own. Other roles do not reach by district: False."""
    if sees_everything(caller):
        return True
    own = caller_district(caller)
    return own is not None and district is not None and canonical_district(district) == own


def claims_other_tenant(caller: Party, kind: Literal["enterprise", "lab"], wanted: uuid.UUID) -> bool:
    """The gateway's early check of a path's tenant: True when the caller's token binds it to
    another enterprise (lab) than ``wanted``. An authority's reach depends on districts, which the
    registry and the scheduler know: never decided here (False)."""
    if caller.role in (AUTHORITY, SYSTEM):
        return False
    own = as_uuid(caller.enterprise_id if kind == ENTERPRISE else caller.lab_id)
    return own is None or own != wanted


# ---------------------------------------------------------------------------------------------
# Objects


def may_see_enterprise(caller: Party, enterprise_id: uuid.UUID, district: str | None) -> bool:
    if sees_everything(caller):
        return True
    if caller.role == AUTHORITY:
        return in_district(caller, district)
    if caller.role == ENTERPRISE:
        return caller_enterprise(caller) == enterprise_id
    return False


def may_see_person(caller: Party, person_id: uuid.UUID, enterprise_id: uuid.UUID | None, district: str | None) -> bool:
    """``enterprise_id``/``district``: the person's employer and its district, if any (a person
    without an employer is the province's)."""
    if sees_everything(caller):
        return True
    if caller.role == WORKER:
        return as_uuid(caller.person_id) == person_id
    if enterprise_id is None:
        return False
    return caller.role in (AUTHORITY, ENTERPRISE) and may_see_enterprise(caller, enterprise_id, district)


def may_see_lab(caller: Party, lab_id: uuid.UUID) -> bool:
    """Labs are the province's: every authority reads any; a lab only itself."""
    if caller.role in (SYSTEM, AUTHORITY):
        return True
    return caller.role == LAB and as_uuid(caller.lab_id) == lab_id


def may_name_any_person(caller: Party) -> bool:
    """A lab names any person when posting results (it tests whoever comes); so do the province
    authority and the system. A district authority posting on a lab's behalf names only the
    people it may see (:func:`may_see_person`)."""
    return caller.role == LAB or sees_everything(caller)


def may_see_site(caller: Party, site_enterprise_id: uuid.UUID | None, site_district: str | None) -> bool:
    """A boarding house: an authority's in its district; an enterprise's own and unclaimed ones
    (so it can house workers there)."""
    if sees_everything(caller):
        return True
    if caller.role == AUTHORITY:
        return in_district(caller, site_district)
    if caller.role == ENTERPRISE:
        return site_enterprise_id is None or site_enterprise_id == caller_enterprise(caller)
    return False


def may_name_site(caller: Party, site_district: str | None) -> bool:
    """A boarding house named in a person, a roster item or a site change: a district authority
    only its district's (another district's is not found). For an enterprise the one-site-one-
    enterprise rule decides (409 ``accommodation_other_enterprise``)."""
    return caller.role != AUTHORITY or in_district(caller, site_district)


# ---------------------------------------------------------------------------------------------
# Answers


def enterprise_not_found(field: str | None = "path.enterprise_id") -> NotFound:
    return NotFound("No such enterprise.", code="enterprise_not_found", field=field)


def person_not_found(field: str | None = "path.person_id") -> NotFound:
    return NotFound("No such person.", code="person_not_found", field=field)


def lab_not_found(field: str | None = "path.lab_id") -> NotFound:
    return NotFound("No such lab.", code="lab_not_found", field=field)


def district_not_found(field: str) -> NotFound:
    return NotFound("No such district.", code="district_not_found", field=field)


def unknown_district(field: str) -> Unprocessable:
    return Unprocessable(unknown_district_message(), code="unknown_district", field=field)


def require_enterprise_visible(
    caller: Party, enterprise_id: uuid.UUID, district: str | None, field: str | None = "path.enterprise_id"
) -> None:
    if not may_see_enterprise(caller, enterprise_id, district):
        raise enterprise_not_found(field)


def district_filter(caller: Party, district: str | None, field: str = "query.district") -> str | None:
    """The district a province-wide read is limited to, canonical: a district authority's own
    (naming another one is 404 ``district_not_found``), or the one asked for, or None (all)."""
    wanted = None
    if district is not None:
        wanted = canonical_district(district)
        if wanted is None:
            raise unknown_district(field)
    own = caller_district(caller)
    if own is None:
        return wanted
    if wanted is not None and wanted != own:
        raise district_not_found(field)
    return own


def require_in_district(caller: Party, district: str, field: str = "body.district") -> str:
    """A district a write puts something in (an enterprise, a boarding house), canonical: a
    district authority only its own (another is 404 ``district_not_found``)."""
    wanted = canonical_district(district)
    if wanted is None:
        raise unknown_district(field)
    own = caller_district(caller)
    if own is not None and wanted != own:
        raise district_not_found(field)
    return wanted


@dataclass(frozen=True)
class Reach:
    """The rows a province-wide read may return: None means no restriction on that column."""

    district: str | None = None
    enterprise_id: uuid.UUID | None = None


def caller_reach(caller: Party, *roles: str) -> Reach:
    """The reach a caller's role and claims grant, before any filter (403 for other roles)."""
    require_role(caller, *roles)
    enterprise_id = caller_enterprise(caller)
    if enterprise_id is not None:
        return Reach(enterprise_id=enterprise_id)
    return Reach(district=caller_district(caller))


def narrow(reach: Reach, district: str | None, enterprise_id: uuid.UUID | None) -> Reach:
    """A reach intersected with the request's filters; a filter outside it is 404 (whether an
    enterprise filter's own district is in reach is checked against the database by the caller
    of this function)."""
    if district is not None:
        wanted = canonical_district(district)
        if wanted is None:
            raise unknown_district("query.district")
        if reach.district is not None and wanted != reach.district:
            raise district_not_found("query.district")
        reach = Reach(district=wanted, enterprise_id=reach.enterprise_id)
    if enterprise_id is not None:
        if reach.enterprise_id is not None and enterprise_id != reach.enterprise_id:
            raise enterprise_not_found("query.enterprise_id")
        reach = Reach(district=reach.district, enterprise_id=enterprise_id)
    return reach
