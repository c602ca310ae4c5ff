"""Health declarations (khai báo y tế) and travels."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from safework_registry.validation import NotNull

Symptom = Literal["fever", "cough", "fatigue", "loss_of_taste_or_smell", "breathing_difficulty", "other"]


class DeclarationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    declared_at: AwareDatetime
    symptoms: list[Symptom] = Field(default_factory=list, max_length=6, description="Empty: no symptoms.")
    contact_with_confirmed_case: bool = Field(default=False, description="Contact with an F0 (confirmed case).")
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("symptoms")
    @classmethod
    def _distinct(cls, value: list[Symptom]) -> list[Symptom]:
        """A set, stored in a stable order."""
        return sorted(set(value))


class DeclarationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: uuid.UUID
    declared_at: datetime
    symptoms: list[str]
    contact_with_confirmed_case: bool
    note: str | None
    created_at: datetime


class TravelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    left_at: AwareDatetime
    destination_province: str = Field(min_length=1, max_length=64)
    returned_at: AwareDatetime | None = Field(default=None, description="Empty while the trip is open.")
    returned_to_boarding_house: bool = False


class TravelPatch(BaseModel):
    """Close the open trip: when the person came back, and whether to a boarding house."""

    model_config = ConfigDict(extra="forbid")

    returned_at: AwareDatetime | None = None
    returned_to_boarding_house: NotNull[bool] = None


class TravelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: uuid.UUID
    left_at: datetime
    destination_province: str
    returned_at: datetime | None
    returned_to_boarding_house: bool
    created_at: datetime
