"""Writes to the outbox (``events.models``), in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from safework_registry.events.models import EVENT_KINDS, OutboxEvent


async def emit(
    session: AsyncSession, kind: str, entity: str, entity_id: object, occurred_at: datetime, payload: dict[str, Any]
) -> None:
    """One fact. ``payload``: ids and codes only, never personal or health data."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    await session.execute(
        insert(OutboxEvent).values(
            kind=kind, entity=entity, entity_id=str(entity_id), occurred_at=occurred_at, payload=payload
        )
    )
