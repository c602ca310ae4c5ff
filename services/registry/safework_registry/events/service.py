"""Writes to the outbox (``events.models``), in the caller's transaction; reads it for the other services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.events import OutboxFact, OutboxFactPage
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


async def facts(
    session: AsyncSession, *, after: int | None, since: datetime | None, kinds: list[str] | None, limit: int
) -> OutboxFactPage:
    """Facts with an id above ``after`` (or, without it, written from ``since`` on; or all), in id
    order, at most ``limit``. ``since`` is found by walking the primary key back from the newest
    fact to the last one written before it: as cheap as the facts it returns."""
    as_of = (await session.execute(select(func.now()))).scalar_one()
    if after is None and since is not None:
        before = await session.scalar(
            select(OutboxEvent.id).where(OutboxEvent.created_at < since).order_by(OutboxEvent.id.desc()).limit(1)
        )
        after = before or 0
    after = after or 0
    q = select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id).limit(limit)
    if kinds:
        q = q.where(OutboxEvent.kind.in_(kinds))
    rows = (await session.execute(q)).scalars().all()
    return OutboxFactPage(
        as_of=as_of,
        after=after,
        items=[
            OutboxFact(
                id=r.id,
                kind=r.kind,
                entity=r.entity,
                entity_id=r.entity_id,
                occurred_at=r.occurred_at,
                created_at=r.created_at,
                payload=r.payload,
            )
            for r in rows
        ],
    )
