"""Issued passes in ``gateway_pass`` (SQLAlchemy Core)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Executable, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from safework_gateway.passes.models import GatePass

T: Table = GatePass.__table__  # type: ignore[assignment]


def add(
    *,
    pass_id: str,
    person_id: uuid.UUID,
    enterprise_id: uuid.UUID,
    kid: str,
    token: str,
    issued_at: datetime,
    expires_at: datetime,
) -> Executable:
    """The one INSERT of an issued pass (idempotent: run again after a dropped connection, the
    row already written stays)."""
    return (
        pg_insert(T)
        .values(
            pass_id=pass_id,
            person_id=person_id,
            enterprise_id=enterprise_id,
            kid=kid,
            token=token,
            issued_at=issued_at,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=[T.c.pass_id])
    )


async def get(session: AsyncSession, pass_id: str) -> dict[str, object] | None:
    row = (await session.execute(select(T).where(T.c.pass_id == pass_id))).mappings().first()
    return dict(row) if row is not None else None


async def live(
    session: AsyncSession,
    now: datetime,
    *,
    person_ids: Iterable[uuid.UUID] | None = None,
    enterprise_id: uuid.UUID | None = None,
) -> list[tuple[str, uuid.UUID, uuid.UUID]]:
    """(pass_id, person_id, enterprise_id) of passes not revoked and not expired."""
    q = select(T.c.pass_id, T.c.person_id, T.c.enterprise_id).where(T.c.revoked_at.is_(None), T.c.expires_at > now)
    if person_ids is not None:
        q = q.where(T.c.person_id.in_(list(person_ids)))
    if enterprise_id is not None:
        q = q.where(T.c.enterprise_id == enterprise_id)
    return [(r[0], r[1], r[2]) for r in (await session.execute(q)).all()]


async def revoke(session: AsyncSession, pass_ids: Iterable[str], *, reason: str, now: datetime) -> int:
    ids = list(pass_ids)
    if not ids:
        return 0
    result = await session.execute(
        update(T).where(T.c.pass_id.in_(ids), T.c.revoked_at.is_(None)).values(revoked_at=now, revoked_reason=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def revoked_ids(session: AsyncSession, now: datetime, *, enterprise_id: uuid.UUID | None = None) -> list[str]:
    """Revoked passes still inside their validity (an expired pass needs no listing)."""
    q = select(T.c.pass_id).where(T.c.revoked_at.is_not(None), T.c.expires_at > now).order_by(T.c.pass_id)
    if enterprise_id is not None:
        q = q.where(T.c.enterprise_id == enterprise_id)
    return list((await session.scalars(q)).all())
