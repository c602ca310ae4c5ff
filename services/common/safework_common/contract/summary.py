"""A person at a glance: doses, latest results, recent declarations and travels, risk flags."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from safework_common.contract.fields import Instant

Flag = Literal[
    "positive_result",
    "pool_positive_pending",
    "symptoms_declared",
    "contact_with_confirmed_case",
    "travelling",
    "recent_return",
    "high_risk",
    "unvaccinated",
]


class DoseBrief(BaseModel):
    dose_number: int
    product_code: str
    administered_at: Instant
    doses_in_primary_series: int


class Vaccination(BaseModel):
    doses: int
    last_dose_at: Instant | None
    primary_series_complete: bool = Field(description="As many doses as dose 1's product's primary series.")


class ResultBrief(BaseModel):
    id: int
    lab_id: uuid.UUID
    sample_id: str
    kind: str
    collected_at: Instant
    resulted_at: Instant
    result: str
    pooled: bool


class DeclarationBrief(BaseModel):
    id: int
    declared_at: Instant
    symptoms: list[str]
    contact_with_confirmed_case: bool


class TravelBrief(BaseModel):
    id: int
    left_at: Instant
    destination_province: str
    returned_at: Instant | None
    returned_to_boarding_house: bool


class PoolBrief(BaseModel):
    lab_id: uuid.UUID
    pool_sample_id: str
    result: str
    collected_at: Instant
    resulted_at: Instant


class PersonSummary(BaseModel):
    person_id: uuid.UUID
    as_of: Instant
    enterprise_id: uuid.UUID | None
    status: str
    doses: list[DoseBrief]
    vaccination: Vaccination
    latest_results: list[ResultBrief] = Field(description="The last 10 results up to as_of, newest sample first.")
    recent_declarations: list[DeclarationBrief] = Field(description="Declarations of the 14 days before as_of.")
    travels: list[TravelBrief] = Field(description="Trips open at as_of, and trips returned in the 7 days before.")
    pending_pools: list[PoolBrief] = Field(
        description="Positive or invalid pools the person was in with no individual PCR since (seeds/001)."
    )
    flags: list[Flag]
