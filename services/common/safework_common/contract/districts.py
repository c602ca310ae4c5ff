"""A district's sampling ratios (seeds/000 §2.2, §2.3)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from safework_common.contract.fields import Instant

RatioKind = Literal["small_enterprise", "boarding_house"]
Ratio = Annotated[Decimal, Field(gt=0, le=1, max_digits=5, decimal_places=4)]


class RatioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RatioKind = Field(
        description="small_enterprise: enterprises outside the parks with fewer than 20 workers (seeds/000 §2.2); "
        "boarding_house: the random tests of renters and owners/managers of boarding houses (§2.3)."
    )
    ratio: Ratio = Field(description="The share sampled each round, in (0, 1].")
    effective_from: date = Field(description="The local date it takes effect (not before the first policy version).")
    note: str | None = Field(default=None, max_length=2000, description="The committee's decision, for the record.")


class RatioOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    district: str
    kind: RatioKind
    ratio: float
    effective_from: date
    note: str | None
    set_by: str
    set_at: Instant


class RatiosOut(BaseModel):
    """A district's settings, newest first."""

    district: str
    items: list[RatioOut]
    next_cursor: str | None = Field(default=None, description="Always null: the whole list fits one page.")
