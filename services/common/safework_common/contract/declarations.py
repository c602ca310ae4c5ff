"""Health declarations (khai báo y tế) and travels."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from safework_common.contract.fields import Instant, NotNull
from safework_common.geo import Province

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
    declared_at: Instant
    symptoms: list[str]
    contact_with_confirmed_case: bool
    note: str | None
    created_at: Instant


class TravelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    left_at: AwareDatetime
    destination_province: Province = Field(
        description="Where the trip went: a province of 2021 (Bắc Giang itself for a trip to a home town inside it)."
    )
    returned_at: AwareDatetime | None = Field(default=None, description="Empty while the trip is open.")
    returned_to_boarding_house: bool = False
    to_home_town: bool = Field(
        default=False, description="The trip was to the person's home town (seeds/000 §2.3 'ở quê xuống')."
    )


class TravelPatch(BaseModel):
    """Close the open trip: when the person came back, whether to a boarding house, and whether
    the trip was to their home town."""

    model_config = ConfigDict(extra="forbid")

    returned_at: AwareDatetime | None = None
    returned_to_boarding_house: NotNull[bool] = None
    to_home_town: NotNull[bool] = None


class TravelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: uuid.UUID
    left_at: Instant
    destination_province: str
    returned_at: Instant | None
    returned_to_boarding_house: bool
    to_home_town: bool
    created_at: Instant
