"""Opaque keyset cursors: the sort key of the last item returned, base64 JSON."""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from safework_common.errors import Unprocessable


def encode(*keys: uuid.UUID) -> str:
    raw = json.dumps([str(k) for k in keys]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, size: int) -> tuple[uuid.UUID, ...] | None:
    """The ``size`` UUIDs of a cursor (422 ``invalid_cursor`` if it is not one of ours)."""
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError(cursor)
        return tuple(uuid.UUID(str(v)) for v in values)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise Unprocessable("The cursor is not valid.", code="invalid_cursor", field="query.cursor") from exc
