"""Issued passes in ``gateway_pass`` (SQLAlchemy Core)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.db import column_names, compiled, execute_retrying
from safework_gateway.passes.models import GatePass

T: Table = GatePass.__table__  # type: ignore[assignment]


class IssuedPass(NamedTuple):
    """One issued pass as ``gateway_pass`` records it (every column but the revocation's)."""

    pass_id: str
    person_id: uuid.UUID
    enterprise_id: uuid.UUID
    kid: str
    token: str
    issued_at: datetime
    expires_at: datetime


# What issuing writes: every column but the revocation's, in the table's order.
# (``IssuedPass`` lists the same, in the same order: a test checks.)
INSERT_COLUMNS = column_names(T, exclude=("revoked_at", "revoked_reason"))


def _insert_many_statement() -> Any:
    """The INSERT of a batch of issued passes: one array parameter per column (types from the
    table), ``INSERT ... SELECT ... FROM unnest(...)``. Idempotent (``ON CONFLICT DO NOTHING``):
    run again after a dropped connection, the rows already written stay."""
    arrays = [bindparam(name, type_=ARRAY(T.c[name].type)) for name in INSERT_COLUMNS]
    rows = func.unnest(*arrays).table_valued(*INSERT_COLUMNS).render_derived(name="issued")
    return (
        pg_insert(T)
        .from_select(list(INSERT_COLUMNS), select(rows))
        .on_conflict_do_nothing(index_elements=[T.c.pass_id])
    )


# Compiled once for asyncpg and run on the gateway's asyncpg pool: SQLAlchemy's per-execution
# compile-cache lookup and parameter processing, and its engine's checkout, cost more CPU than
# the statement (BENCHMARKS.md, gate passes).
INSERT_MANY = compiled(_insert_many_statement())


async def add_many(writer: asyncpg.Pool, passes: Sequence[IssuedPass]) -> None:
    """Record issued passes: one autocommit statement on ``writer`` (no ping, no BEGIN/COMMIT),
    whatever their number; committed when it returns."""
    columns = {name: list(column) for name, column in zip(INSERT_COLUMNS, zip(*passes, strict=True), strict=True)}
    await execute_retrying(writer, INSERT_MANY.sql, INSERT_MANY.args(**columns))


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
