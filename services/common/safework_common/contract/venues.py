"""QR check-in venues at an enterprise (seeds/004: QR-code check-in at premises)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from safework_common.contract.fields import Instant, NotNull

VenueKind = Literal["gate", "production_unit", "canteen", "shuttle_bus"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
QrCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=4, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]

VENUE_EXAMPLE: dict[str, Any] = {"name": "Cổng số 1", "kind": "gate"}


class VenueCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [VENUE_EXAMPLE]})

    name: Name
    kind: VenueKind
    qr_code: QrCode | None = Field(default=None, description="Unique; generated (`SW-` + random) when left out.")
    active: bool = True


class VenueUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    name: NotNull[Name] = None
    kind: NotNull[VenueKind] = None
    qr_code: NotNull[QrCode] = None
    active: NotNull[bool] = None


class VenueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    enterprise_id: uuid.UUID
    name: str
    kind: VenueKind
    qr_code: str
    active: bool
    created_at: Instant
    updated_at: Instant


class CheckInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    qr_code: str = Field(min_length=1, max_length=128)
    checked_in_at: AwareDatetime


class CheckInOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: uuid.UUID
    venue_id: uuid.UUID
    venue_name: str
    venue_kind: str
    checked_in_at: Instant
