"""The one keyset cursor codec (issue 19): what it writes, that it reads the cursors each
service's own codec handed out before, and that anything else is 422 ``invalid_cursor``."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from safework_common.cursor import Kind, decode_cursor, decode_keys, encode_cursor
from safework_common.errors import Unprocessable

PERSON = uuid.UUID("5b0c8f0e-7a51-4c4e-9d3e-2f4a1b6c8d90")
ENTERPRISE = uuid.UUID("0e6a8a35-4f3c-4a7e-9c4d-1b2a3c4d5e6f")
AT = datetime(2021, 6, 1, 8, 30, tzinfo=UTC)


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("values", "kinds", "expected"),
    [
        (["Acme", PERSON], (str, uuid.UUID), ("Acme", PERSON)),
        ([42], (int,), (42,)),
        ([AT, 7], (datetime, int), (AT, 7)),
        ([1, 2, date(2021, 6, 1), PERSON], (int, int, date, uuid.UUID), (1, 2, date(2021, 6, 1), PERSON)),
        ([ENTERPRISE, PERSON], (uuid.UUID, uuid.UUID), (ENTERPRISE, PERSON)),
    ],
)
def test_round_trip(values: list[Any], kinds: tuple[Kind, ...], expected: tuple[Any, ...]) -> None:
    cursor = encode_cursor(values)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor  # URL-safe as it is
    assert decode_keys(cursor, *kinds) == expected


def test_no_cursor_is_the_first_page() -> None:
    assert decode_keys(None, uuid.UUID) is None
    assert decode_cursor(None) is None


def test_the_registry_and_due_cursors_already_handed_out_are_written_the_same() -> None:
    # The registry's codec: json.dumps(values, default=str); the scheduler's due lists:
    # json.dumps([str(id), ...]). Both base64url without padding.
    registry = base64.urlsafe_b64encode(json.dumps(["Acme", str(PERSON)]).encode()).decode().rstrip("=")
    due = base64.urlsafe_b64encode(json.dumps([str(ENTERPRISE), str(PERSON)]).encode()).decode().rstrip("=")
    assert encode_cursor(["Acme", PERSON]) == registry
    assert encode_cursor([ENTERPRISE, PERSON]) == due


def test_a_vaccine_queue_cursor_written_compactly_still_reads() -> None:
    old = _raw(json.dumps([1, 2, "2021-06-01", str(PERSON)], separators=(",", ":")))
    assert decode_keys(old, int, int, date, uuid.UUID) == (1, 2, date(2021, 6, 1), PERSON)


@pytest.mark.parametrize(
    ("cursor", "kinds"),
    [
        ("not-a-cursor", (str,)),  # not base64 of JSON
        ("%%%", (str,)),
        (_raw("{}"), (str,)),  # JSON, not an array
        (_raw('"x"'), (str,)),
        (_raw("[1, 2]"), (int,)),  # too long
        (_raw("[]"), (int,)),  # too short
        (_raw('["1"]'), (int,)),  # a string for an int
        (_raw("[true]"), (int,)),  # a bool for an int
        (_raw("[1.5]"), (int,)),
        (_raw("[1]"), (str,)),  # an int for a string
        (_raw('["not-a-uuid"]'), (uuid.UUID,)),
        (_raw("[null]"), (uuid.UUID,)),
        (_raw('["2021-06-01T08:30:00"]'), (datetime,)),  # no offset
        (_raw('["yesterday"]'), (datetime,)),
        (_raw('["2021-13-01"]'), (date,)),
        (encode_cursor(["Acme", PERSON])[:-3], (str, uuid.UUID)),  # cut short
    ],
)
def test_anything_else_is_invalid_cursor(cursor: str, kinds: tuple[Kind, ...]) -> None:
    with pytest.raises(Unprocessable) as caught:
        decode_keys(cursor, *kinds)
    assert caught.value.code == "invalid_cursor"
    assert caught.value.status_code == 422
    assert [d.field for d in caught.value.details] == ["query.cursor"]
