"""FHIR R4 answers as named schemas for the OpenAPI. The resources themselves follow the FHIR
specification (https://hl7.org/fhir/R4/); these models document the parts clients rely on and
let every other element through (``extra="allow"``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FhirResource(BaseModel):
    """A FHIR R4 resource (Patient, Immunization, Observation, Organization)."""

    model_config = ConfigDict(extra="allow")

    resourceType: str
    id: str | None = None


class FhirBundleEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    fullUrl: str | None = None
    resource: FhirResource


class FhirBundle(BaseModel):
    """A FHIR R4 Bundle: a person's everything (``collection``), or a lab's results to post
    (``Observation`` entries)."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["Bundle"]
    type: str = Field(description="collection, batch, transaction, message...: not interpreted when posted.")
    entry: list[FhirBundleEntry] = Field(default_factory=list)
    total: int | None = None


class FhirResultsBundle(BaseModel):
    """A lab's results as a FHIR R4 Bundle of ``Observation`` entries (any Bundle type). The
    Bundle's own elements are R4's, and no other (an element R4 does not define is refused, as
    an unknown field is on every other body); each entry is read as ``results_batch`` says."""

    model_config = ConfigDict(extra="forbid")

    resourceType: Literal["Bundle"]
    id: str | None = None
    meta: dict[str, Any] | None = None
    implicitRules: str | None = None
    language: str | None = None
    identifier: dict[str, Any] | None = None
    type: str | None = None
    timestamp: str | None = None
    total: int | None = None
    link: list[dict[str, Any]] | None = None
    signature: dict[str, Any] | None = None
    entry: list[dict[str, Any]] = Field(
        description="Observations: code LOINC 94500-6 or 94558-4, subject Patient/<id> or a national ID identifier "
        "(urn:safework:vn-national-id), effectiveDateTime, issued, valueCodeableConcept SNOMED CT, identifier[0] "
        "the sample ID."
    )
