"""Licensed testing units (labs) that post results."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from safework_common.contract.fields import Instant, NotNull

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
LicenceCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9._/\-]+$")
]

LAB_EXAMPLE: dict[str, Any] = {"name": "CDC Bắc Giang", "licence_code": "BG-CDC-2021/01"}


class LabCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [LAB_EXAMPLE]})

    name: Name
    licence_code: LicenceCode
    active: bool = True


class LabUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    name: NotNull[Name] = None
    licence_code: NotNull[LicenceCode] = None
    active: NotNull[bool] = None


class LabOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    licence_code: str
    active: bool
    created_at: Instant
    updated_at: Instant
