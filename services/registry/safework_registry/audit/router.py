"""``/v1/audit``: the audit log, read by the province authority; ``/v1/persons/{id}/audit``: one
person's trail (who looked them up by national ID, who changed their record)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from safework_common.contract.audit import AuditEntry
from safework_common.paging import Limit
from safework_registry.audit import reader
from safework_registry.deps import CallerDep, Session
from safework_registry.pagination import Page

router = APIRouter(tags=["audit"])

Text = Annotated[str | None, Query(max_length=128)]
Cursor = Annotated[str | None, Query(max_length=512)]


@router.get("/audit", response_model=Page[AuditEntry], summary="The audit log, newest first (province authority)")
async def list_audit(
    session: Session,
    caller: CallerDep,
    action: Text = None,
    entity: Text = None,
    entity_id: Text = None,
    client_id: Text = None,
    role: Text = None,
    subject: Text = None,
    since: Annotated[AwareDatetime | None, Query(description="From this instant (inclusive).")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Before this instant.")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[AuditEntry]:
    wanted = reader.AuditFilter(action, entity, entity_id, client_id, role, subject, since, until)
    return await reader.read(session, caller, wanted, cursor=cursor, limit=limit)


@router.get(
    "/persons/{person_id}/audit",
    response_model=Page[AuditEntry],
    summary="One person's audit trail: national-ID look-ups and changes (province authority)",
)
async def person_audit(
    session: Session, caller: CallerDep, person_id: uuid.UUID, cursor: Cursor = None, limit: Limit = 100
) -> Page[AuditEntry]:
    return await reader.person_trail(session, caller, person_id, cursor=cursor, limit=limit)
