"""Small checks shared by the registry's write paths (PATCH bodies, instants in the past)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from safework_common.contract.fields import NOT_NULL as _NOT_NULL
from safework_common.contract.fields import NotNull as NotNull
from safework_common.errors import Unprocessable
from safework_common.timezone import now_local

# Clocks of phones and lab systems drift: an instant up to this far ahead is still "now".
FUTURE_SKEW = timedelta(minutes=5)
# Nothing this programme records (a dose, a declaration, a check-in, a sample) happened before
# 1900, the earliest date of birth a person may have (safework_common/contract/persons.py).
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)


def patch_values(body: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body actually sent. :data:`NotNull` fields may be left out but not set
    to null (422 ``null_not_allowed``)."""
    values = body.model_dump(exclude_unset=True)
    fields = type(body).model_fields
    for name, value in values.items():
        if value is None and _NOT_NULL in fields[name].metadata:
            raise Unprocessable(f"{name} cannot be null.", code="null_not_allowed", field=f"body.{name}")
    return values


def not_in_future(value: datetime, *, code: str, field: str, now: datetime | None = None) -> None:
    """Refuse instants in the future (beyond :data:`FUTURE_SKEW`), and before 1900
    (``time_before_1900``: a typo of the year, or a sentinel like 0001-01-01)."""
    if value > (now or now_local()) + FUTURE_SKEW:
        raise Unprocessable("The time is in the future.", code=code, field=field)
    if value < EARLIEST_INSTANT:
        raise Unprocessable("The time is before 1900.", code="time_before_1900", field=field)
