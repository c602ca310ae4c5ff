"""Field types shared by the contract's models: instants in one form, PATCH fields that may not be
cleared, keyset pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from safework_common.timezone import LOCAL_TZ

# A roster upsert or a lab batch: the registry's default REGISTRY_MAX_BATCH_ITEMS, as declared.
MAX_BATCH_ITEMS = 10_000

INSTANT_FORM = (
    "RFC 3339 with the province's offset, e.g. 2021-09-15T07:30:00+07:00 (Asia/Ho_Chi_Minh). "
    "Inputs may carry any offset; an instant without one is refused."
)


# Before 1906 the zone's offset was local mean time (+07:06:40, then +07:06:30), which RFC 3339
# cannot write; such an instant (only ever an echoed ``as_of``) is given at +07:00.
_PLUS_7 = timezone(timedelta(hours=7))


def _local_iso(value: datetime) -> str:
    local = value.astimezone(LOCAL_TZ)
    offset = local.utcoffset()
    if offset is not None and offset.seconds % 60:
        local = value.astimezone(_PLUS_7)
    return local.isoformat()


Instant = Annotated[
    datetime,
    PlainSerializer(_local_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "description": INSTANT_FORM}, mode="serialization"),
]
"""An instant as answered: always in Asia/Ho_Chi_Minh (+07:00), whatever the storage returned."""


class NotNullMarker:
    """Marks a PATCH field that may be left out but not set to null (see :data:`NotNull`)."""


NOT_NULL = NotNullMarker()


def _not_null_schema(schema: dict[str, Any]) -> None:
    """The field's JSON schema without its ``null`` branch and its ``default: null``: the
    contract says what a client may send, and null is refused."""
    schema.pop("default", None)
    branches = schema.pop("anyOf", None)
    if branches is not None:
        rest = [b for b in branches if b.get("type") != "null"]
        if len(rest) == 1:
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest


T = TypeVar("T")
NotNull = Annotated[T | None, NOT_NULL, Field(json_schema_extra=_not_null_schema)]
"""A PATCH field that keeps its value when left out and cannot be cleared: declared without
``null`` in the OpenAPI, and a null sent anyway is 422 ``null_not_allowed`` (the registry's
``patch_values``). Fields typed ``X | None`` without it take null as "clear it"."""


class Page(BaseModel, Generic[T]):
    """Every list: a page of ``items`` and the cursor of the next page (null: the last page)."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null: no more.")
