"""Keyset cursors, one codec for every list of every service: the sort key of the last item
returned, as a base64url (unpadded) JSON array, opaque to clients.

A cursor is read back against the kinds of its keys (``decode_keys(cursor, str, uuid.UUID)``):
anything else, a cursor not made here, edited, cut short or of another list, is 422
``invalid_cursor`` on ``query.cursor`` and the query never runs. Cursors handed out before this
module (each service had its own codec, all of them base64url JSON arrays) read the same."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from safework_common.errors import Unprocessable

Kind = type[str] | type[int] | type[uuid.UUID] | type[date] | type[datetime]


def invalid_cursor() -> Unprocessable:
    return Unprocessable("The cursor is not valid.", code="invalid_cursor", field="query.cursor")


def _plain(value: object) -> object:
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def encode_cursor(values: Iterable[object]) -> str:
    """The cursor after a row whose sort key is ``values`` (str, int, None, UUID, date, datetime)."""
    raw = json.dumps([_plain(v) for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The cursor's JSON array as it was encoded (None for the first page); 422 if it is not one.
    Prefer :func:`decode_keys`, which also checks each key's kind."""
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise invalid_cursor() from None
    if not isinstance(values, list):
        raise invalid_cursor()
    return values


def decode_keys(cursor: str | None, *kinds: Kind) -> tuple[Any, ...] | None:
    """The cursor's keys read as ``kinds``, one each in order (None for the first page); 422
    ``invalid_cursor`` for a cursor of another length or a key of another kind. A datetime key
    must carry its offset."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != len(kinds):
        raise invalid_cursor()
    return tuple(_read(value, kind) for value, kind in zip(values, kinds, strict=True))


def _read(value: object, kind: Kind) -> Any:
    if kind is int:
        if type(value) is not int:  # not a bool, not a float
            raise invalid_cursor()
        return value
    if not isinstance(value, str):
        raise invalid_cursor()
    if kind is str:
        return value
    try:
        if kind is uuid.UUID:
            return uuid.UUID(value)
        if kind is datetime:
            at = datetime.fromisoformat(value)
            if at.tzinfo is None:
                raise ValueError(value)
            return at
        if kind is date:
            return date.fromisoformat(value)
    except ValueError:
        raise invalid_cursor() from None
    raise TypeError(f"no cursor key kind {kind!r}")
