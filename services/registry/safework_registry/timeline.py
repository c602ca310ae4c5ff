"""Newest-first keyset pages over ``(instant, id)``: a person's results, declarations, travels
and check-ins. The cursor holds the last row's instant and ID."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from safework_registry.pagination import decode_keys, encode_cursor

Ts = TypeVarTuple("Ts")


def after(cursor: str | None) -> tuple[datetime, int] | None:
    """The ``(instant, id)`` a cursor points after, or None for the first page."""
    keys = decode_keys(cursor, datetime, int)
    return None if keys is None else (keys[0], keys[1])


def newest_first(
    stmt: Select[*Ts],
    instant: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[int],
    cursor: str | None,
    limit: int,
) -> Select[*Ts]:
    """``stmt`` ordered newest first, after the cursor, one row more than ``limit`` (to tell
    whether another page follows)."""
    point = after(cursor)
    if point is not None:
        at, last_id = point
        cond: ColumnElement[bool] = or_(instant < at, and_(instant == at, row_id < last_id))
        stmt = stmt.where(cond)
    return stmt.order_by(instant.desc(), row_id.desc()).limit(limit + 1)


def next_cursor(instants_and_ids: list[tuple[datetime, int]], limit: int) -> str | None:
    """The cursor for the page after these rows (fetched with ``limit + 1``), or None."""
    if len(instants_and_ids) <= limit:
        return None
    at, last_id = instants_and_ids[limit - 1]
    return encode_cursor([at.isoformat(), last_id])
