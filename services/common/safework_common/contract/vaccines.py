"""Vaccine products (reference data) and doses."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from safework_common.contract.fields import Instant, NotNull

ProductCode = Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_\-]*$")]


class VaccineProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ProductCode = Field(description="Stable code, e.g. AZD1222, BNT162B2, VERO-CELL.")
    name: str = Field(min_length=1, max_length=255)
    min_interval_days: int = Field(ge=0, le=365, description="Minimum days between dose n-1 and dose n.")
    doses_in_primary_series: int = Field(default=2, ge=1, le=3)
    active: bool = True


class VaccineProductPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NotNull[Annotated[str, Field(min_length=1, max_length=255)]] = None
    min_interval_days: NotNull[Annotated[int, Field(ge=0, le=365)]] = None
    doses_in_primary_series: NotNull[Annotated[int, Field(ge=1, le=3)]] = None
    active: NotNull[bool] = None


class VaccineProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    min_interval_days: int
    doses_in_primary_series: int
    active: bool


class DoseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dose_number: int = Field(ge=1, le=10)
    product_code: ProductCode
    administered_at: AwareDatetime
    site: str | None = Field(default=None, max_length=255, description="Where it was given (vaccination site).")
    lot: str | None = Field(default=None, max_length=64)


class DoseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: uuid.UUID
    dose_number: int
    product_code: str
    administered_at: Instant
    site: str | None
    lot: str | None
    created_at: Instant
