"""Quarantine facilities, their rooms and who is in them (seeds/002 §4: rooms never mix high-risk
and low-risk people). Authority only."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from safework_common.contract.fields import Instant
from safework_common.geo import District

Risk = Literal["high", "low"]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

_PERSON = "7f0c2a4e-8d51-4c0e-9a51-3b1d2f0e6a10"
_ROOM = "0b7e1c1e-1111-4c0e-9a51-3b1d2f0e6a10"


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
    rooms: list[RoomIn] = Field(min_length=1, max_length=1000, description="Room codes are unique in a facility.")


class RoomOut(BaseModel):
    id: uuid.UUID
    code: str
    capacity: int
    occupied: int
    risk: Risk | None = Field(description="The risk class the room holds now (high: F0/F1; low), None when empty.")


class FacilityOut(BaseModel):
    id: uuid.UUID
    name: str
    address: str
    district: str
    rooms: list[RoomOut]


class AssignmentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"room_id": _ROOM, "person_id": _PERSON}]}
    )

    room_id: uuid.UUID
    person_id: uuid.UUID
    at: AwareDatetime | None = Field(default=None, description="When the person is put in the room; default now.")


class AssignmentOut(BaseModel):
    id: int
    room_id: uuid.UUID
    person_id: uuid.UUID
    risk: Risk
    assigned_at: Instant


class SuggestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"person_ids": [_PERSON]}]})

    person_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    as_of: AwareDatetime | None = None


class PlacementOut(BaseModel):
    person_id: uuid.UUID
    risk: Risk
    room_id: uuid.UUID | None = Field(description="None: no room left that would not mix risk classes.")
    room_code: str | None


class SuggestOut(BaseModel):
    placements: list[PlacementOut]
    unplaced: int
