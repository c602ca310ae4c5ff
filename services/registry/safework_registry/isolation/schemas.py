"""Bodies and answers of the isolation routes (authority)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from safework_common.geo import District

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class RoomIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    capacity: int = Field(ge=1, le=500)


class FacilityCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "KTX Đại học Nông Lâm", "address": "Bích Sơn", "district": "Việt Yên",
                 "rooms": [{"code": "A101", "capacity": 4}, {"code": "A102", "capacity": 4}]}
            ]
        },
    )  # fmt: skip

    name: Text
    address: Address
    district: District
    rooms: list[RoomIn] = Field(min_length=1, max_length=1000)


class RoomOut(BaseModel):
    id: uuid.UUID
    code: str
    capacity: int
    occupied: int
    risk: str | None = Field(description="The risk class the room holds now (high: F0/F1; low), None when empty.")


class FacilityOut(BaseModel):
    id: uuid.UUID
    name: str
    address: str
    district: str
    rooms: list[RoomOut]


class FacilityPage(BaseModel):
    items: list[FacilityOut]
    next_cursor: str | None = None


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room_id: uuid.UUID
    person_id: uuid.UUID
    at: AwareDatetime | None = None


class AssignmentOut(BaseModel):
    id: int
    room_id: uuid.UUID
    person_id: uuid.UUID
    risk: str
    assigned_at: datetime


class SuggestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    as_of: AwareDatetime | None = None


class PlacementOut(BaseModel):
    person_id: uuid.UUID
    risk: str
    room_id: uuid.UUID | None
    room_code: str | None


class SuggestOut(BaseModel):
    placements: list[PlacementOut]
    unplaced: int
