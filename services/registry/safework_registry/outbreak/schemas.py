"""Bodies and answers of the outbreak routes (authority only: F0 identities appear here and
nowhere else)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Link = Literal["venue", "accommodation", "declared"]


class CaseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"person_id": "7f0c2a4e-8d51-4c0e-9a51-3b1d2f0e6a10"}]},
    )

    person_id: uuid.UUID
    result_id: int | None = Field(
        default=None,
        ge=1,
        description="The positive result that counts; default: the person's latest individual positive PCR.",
    )
    confirmed: bool = Field(
        default=False,
        description="The authority confirms a positive that is not an individual PCR (a rapid test, a pool).",
    )
    isolated_at: AwareDatetime | None = Field(default=None, description="When the F0 was isolated (ends the window).")
    at: AwareDatetime | None = Field(default=None, description="When the trace is made; default now.")


class CaseClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = None


class DeclaredContacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    at: AwareDatetime | None = None


class AssumptionOut(BaseModel):
    parameter: str
    value: Any
    source: str


class CaseOut(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    full_name: str
    result_id: int | None
    basis: str
    collected_at: datetime
    infectious_from: datetime
    window_end: datetime
    isolated_at: datetime | None
    traced_at: datetime
    enterprise_id: uuid.UUID | None
    district: str | None
    status: str
    closed_at: datetime | None
    contacts: int
    new_contacts: int | None = None
    assumptions: list[AssumptionOut]


class EnterpriseCount(BaseModel):
    enterprise_id: uuid.UUID | None
    name: str | None
    contacts: int


class VenueCount(BaseModel):
    venue_id: uuid.UUID
    name: str
    kind: str
    contacts: int


class TraceOut(CaseOut):
    as_of: datetime
    by_link: dict[str, int]
    by_enterprise: list[EnterpriseCount]
    by_venue: list[VenueCount]


class ContactOut(BaseModel):
    ring: int
    person_id: uuid.UUID
    full_name: str
    enterprise_id: uuid.UUID | None
    link: str
    venue_id: uuid.UUID | None
    venue_name: str | None
    venue_kind: str | None
    accommodation_id: uuid.UUID | None
    exposed_at: datetime | None
    traced_at: datetime | None
    via_person_id: uuid.UUID | None = Field(default=None, description="Ring 2: the F1 who links this person.")


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None = None
    assumptions: list[AssumptionOut]


class CaseListItem(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    enterprise_id: uuid.UUID | None
    district: str | None
    collected_at: datetime
    traced_at: datetime
    status: str
    contacts: int


class CasePage(BaseModel):
    items: list[CaseListItem]
    next_cursor: str | None = None


class DistrictEnterprise(BaseModel):
    enterprise_id: uuid.UUID
    name: str
    open_cases: int
    contacts: int


class DistrictOutbreakOut(BaseModel):
    district: str
    as_of: datetime
    open_cases: int
    contacts: int
    enterprises: list[DistrictEnterprise]
    next_cursor: str | None = None
