"""The district's boarding-house sample (seeds/000 §2.3)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from safework_common.contract.due import DistrictRatioOut


class LodgerOut(BaseModel):
    person_id: uuid.UUID
    full_name: str
    role: Literal["renter", "owner", "manager"]
    accommodation_id: uuid.UUID
    accommodation_name: str


class SampleRoundOut(BaseModel):
    index: int
    starts_on: date
    ends_on: date


class BoardingHouseSampleOut(BaseModel):
    """seeds/000 §2.3: the round's random sample of a district's boarding-house renters and
    owners/managers, drawn reproducibly; the ratio that applied and who set it."""

    district: str
    date: date
    policy_version: str
    round: SampleRoundOut
    district_ratio: DistrictRatioOut
    population: int
    sample_size: int
    items: list[LodgerOut] = Field(description="This page of the sample, by person id.")
    next_cursor: str | None
