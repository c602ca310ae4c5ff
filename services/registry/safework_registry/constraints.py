"""Unique constraints hit by a write that a pre-check could not see (a concurrent request got
there first): answer the same 409 the pre-check would have, not a 500."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.errors import SafeworkError


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint PostgreSQL reported (asyncpg puts it on the driver error)."""
    cur: BaseException | None = exc.orig
    for _ in range(3):
        if cur is None:
            return None
        name = getattr(cur, "constraint_name", None)
        if isinstance(name, str):
            return name
        cur = cur.__cause__
    return None


async def flush_or_conflict(session: AsyncSession, conflicts: Mapping[str, SafeworkError]) -> None:
    """Flush; a unique violation named in ``conflicts`` becomes that error (the request's
    transaction is rolled back by the session dependency)."""
    try:
        await session.flush()
    except IntegrityError as exc:
        error = conflicts.get(violated_constraint(exc) or "")
        if error is not None:
            raise error from exc
        raise
