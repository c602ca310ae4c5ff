"""Outbreak response (seeds/004 §II.3, seeds/002): confirmed cases (F0), their traced and declared
contacts (F1), the trace view and a district's picture. Authority only: F0 identities appear here
and nowhere else (a contact's verdict names its case by id only, ``contact_case_id``)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from safework_common.contract.fields import Instant, Page
from safework_common.contract.venues import VenueKind

Link = Literal["venue", "accommodation", "declared"]
CaseStatus = Literal["open", "closed"]
Basis = Literal["pcr", "confirmed"]

_PERSON = "7f0c2a4e-8d51-4c0e-9a51-3b1d2f0e6a10"


class CaseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"person_id": _PERSON, "isolated_at": "2021-09-21T00:00:00+07:00"}]},
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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"at": "2021-10-05T00:00:00+07:00"}]})

    at: AwareDatetime | None = Field(default=None, description="When the case closes; default now.")


class DeclaredContacts(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"person_ids": [_PERSON]}]})

    person_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    at: AwareDatetime | None = None


class AssumptionOut(BaseModel):
    """A tracing parameter the seeds do not give, with the value used and where it comes from."""

    parameter: str
    value: Any
    source: str


class CaseOut(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    full_name: str
    result_id: int | None
    basis: Basis = Field(
        description="pcr: an individual positive PCR; confirmed: another positive the authority confirmed."
    )
    collected_at: Instant
    infectious_from: Instant
    window_end: Instant
    isolated_at: Instant | None
    traced_at: Instant
    enterprise_id: uuid.UUID | None
    district: str | None
    status: CaseStatus
    closed_at: Instant | None
    contacts: int
    new_contacts: int | None = Field(default=None, description="A trace again or a declaration: the contacts it added.")
    assumptions: list[AssumptionOut]


class EnterpriseCount(BaseModel):
    enterprise_id: uuid.UUID | None
    name: str | None
    contacts: int


class VenueCount(BaseModel):
    venue_id: uuid.UUID
    name: str
    kind: VenueKind
    contacts: int


class TraceOut(CaseOut):
    as_of: Instant
    by_link: dict[Link, int]
    by_enterprise: list[EnterpriseCount]
    by_venue: list[VenueCount]


class ContactOut(BaseModel):
    ring: int
    person_id: uuid.UUID
    full_name: str
    enterprise_id: uuid.UUID | None
    link: Link
    venue_id: uuid.UUID | None
    venue_name: str | None
    venue_kind: VenueKind | None
    accommodation_id: uuid.UUID | None
    exposed_at: Instant | None
    traced_at: Instant | None
    via_person_id: uuid.UUID | None = Field(default=None, description="Ring 2: the F1 who links this person.")


class ContactPage(Page[ContactOut]):
    """A page of a case's contacts, with the tracing parameters it rests on."""

    assumptions: list[AssumptionOut]


class CaseListItem(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    enterprise_id: uuid.UUID | None
    district: str | None
    collected_at: Instant
    traced_at: Instant
    status: CaseStatus
    contacts: int


class DistrictEnterprise(BaseModel):
    enterprise_id: uuid.UUID
    name: str
    open_cases: int
    contacts: int


class DistrictOutbreakOut(Page[DistrictEnterprise]):
    """A district's open cases and contacts, and a page of the enterprises that have one (an F0 or
    an F1 among their workers), by enterprise id."""

    district: str
    as_of: Instant
    open_cases: int
    contacts: int
