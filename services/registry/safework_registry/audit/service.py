"""Writes to the append-only audit log: who (client and role), what, which record, when."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, text
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


_RECORD_MANY = text(
    """
    INSERT INTO audit_log (client_id, role, subject, action, entity, entity_id, request_id, details)
    SELECT :client_id, :role, :subject, :action, :entity, ids.id, :request_id, CAST(:details AS jsonb)
    FROM unnest(CAST(:ids AS text[])) AS ids(id)
    """
)


async def record_many(
    session: AsyncSession,
    caller: Caller,
    action: str,
    entity: str,
    entity_ids: Iterable[object],
    details: dict[str, Any] | None = None,
) -> None:
    """One row per record for a batch, in one statement: the ids travel as one array, so
    10,000 rows cost one round trip and no per-row parameter binding."""
    ids = [str(eid) for eid in entity_ids]
    if not ids:
        return
    await session.execute(
        _RECORD_MANY,
        {
            "client_id": caller.client_id,
            "role": caller.role,
            "subject": caller.subject,
            "action": action,
            "entity": entity,
            "request_id": request_id_var.get(),
            "details": None if details is None else json.dumps(details),
            "ids": ids,
        },
    )
