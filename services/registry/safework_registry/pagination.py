"""Keyset pagination: an opaque cursor holding the sort key of the last row returned."""

from __future__ import annotations

import base64
import json
from typing import Any

from safework_common.contract.fields import Page as Page
from safework_common.errors import Unprocessable


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable("The cursor is not valid.", code="invalid_cursor", field="query.cursor") from exc
    if not isinstance(values, list):
        raise Unprocessable("The cursor is not valid.", code="invalid_cursor", field="query.cursor")
    return values
