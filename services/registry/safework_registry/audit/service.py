"""Writes to the append-only audit log: who (client and role), what, which record, when."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.internal_auth import Caller
from safework_common.logging import request_id_var
from safework_registry.audit.models import AuditLog


def _row(caller: Caller, action: str, entity: str, entity_id: object, details: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "client_id": caller.client_id,
        "role": caller.role,
        "subject": caller.subject,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "request_id": request_id_var.get(),
        "details": details,
    }


async def record(
    session: AsyncSession,
    caller: Caller,
    action: str,
    entity: str,
    entity_id: object = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One audit row in the caller's transaction. Never put national IDs or health data in
    ``details``."""
    await session.execute(insert(AuditLog).values(_row(caller, action, entity, entity_id, details)))


async def record_many(
    session: AsyncSession,
    caller: Caller,
    action: str,
    entity: str,
    entity_ids: Iterable[object],
    details: dict[str, Any] | None = None,
) -> None:
    """One row per record for a batch, in one multi-row INSERT."""
    rows = [_row(caller, action, entity, eid, details) for eid in entity_ids]
    if rows:
        await session.execute(insert(AuditLog), rows)
