"""Reading the audit log (the province authority): filters, newest first, keyset pages on ``id``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.audit import AuditEntry
from safework_common.contract.fields import Page
from safework_common.internal_auth import Caller
from safework_common.scope import person_not_found, require_province
from safework_registry.audit.models import AuditLog
from safework_registry.pagination import decode_keys, encode_cursor
from safework_registry.persons.models import Person

AUDIT = AuditLog.__table__


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    client_id: str | None = None
    role: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _after(cursor: str | None) -> int | None:
    keys = decode_keys(cursor, int)
    return None if keys is None else int(keys[0])


async def read(
    session: AsyncSession, caller: Caller, wanted: AuditFilter, *, cursor: str | None, limit: int
) -> Page[AuditEntry]:
    """The entries matching every filter given, newest first (``since`` inclusive, ``until``
    exclusive)."""
    require_province(caller)
    stmt = select(AUDIT)
    for column in ("action", "entity", "entity_id", "client_id", "role", "subject"):
        value = getattr(wanted, column)
        if value is not None:
            stmt = stmt.where(AUDIT.c[column] == value)
    if wanted.since is not None:
        stmt = stmt.where(AUDIT.c.at >= wanted.since)
    if wanted.until is not None:
        stmt = stmt.where(AUDIT.c.at < wanted.until)
    after = _after(cursor)
    if after is not None:
        stmt = stmt.where(AUDIT.c.id < after)
    rows = (await session.execute(stmt.order_by(AUDIT.c.id.desc()).limit(limit + 1))).mappings().all()
    items = [AuditEntry.model_validate(dict(row)) for row in rows[:limit]]
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return Page[AuditEntry](items=items, next_cursor=next_cursor)


async def person_trail(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[AuditEntry]:
    """Who did what to one person's record, and who looked the person up by national ID."""
    require_province(caller)
    if (await session.execute(select(Person.id).where(Person.id == person_id))).first() is None:
        raise person_not_found()
    wanted = AuditFilter(entity="person", entity_id=str(person_id))
    return await read(session, caller, wanted, cursor=cursor, limit=limit)
