"""The queue's keyset cursor: the sort key of the last item returned, opaque to clients.

The scheduler keeps its own (it must not import the registry's pagination)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date

from safework_common.errors import Unprocessable
from safework_scheduler.vaccines.rules import QueueKey


def encode_cursor(key: QueueKey) -> str:
    tier, rank, since, person_id = key
    raw = json.dumps([tier, rank, since.isoformat(), str(person_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid() -> Unprocessable:
    return Unprocessable("The cursor is not valid.", code="invalid_cursor", field="query.cursor")


def decode_cursor(cursor: str | None) -> QueueKey | None:
    """None for the first page; 422 ``invalid_cursor`` for anything this module did not make."""
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise _invalid() from None
    if not isinstance(values, list) or len(values) != 4:
        raise _invalid()
    tier, rank, since, person_id = values
    if type(tier) is not int or type(rank) is not int or not isinstance(since, str) or not isinstance(person_id, str):
        raise _invalid()
    try:
        return (tier, rank, date.fromisoformat(since), uuid.UUID(person_id))
    except ValueError:
        raise _invalid() from None
