"""The forwarded routes as one table: public path, success model, upstream, roles, scope, body model.

Each row becomes a route whose handler authenticates and authorizes the caller (its
:func:`allow` dependency), then passes the body through as bytes and relays the upstream's answer
unchanged. Handlers stay cheap: no re-validation of big batches here, the upstream does it with
the same models (``safework_common.contract``), from which this route's OpenAPI entry is made."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from safework_common import contract as c
from safework_common.contract import Page
from safework_common.contract.files import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from safework_common.errors import ERROR_RESPONSES, Unprocessable
from safework_common.fhir import FHIR_JSON
from safework_common.geo import DISTRICT_SCHEMA, canonical_district, unknown_district_message
from safework_common.paging import MAX_LIMIT
from safework_gateway.auth.access import Scope, allow
from safework_gateway.auth.principal import Principal
from safework_gateway.forwarding import schemas as s
from safework_gateway.operation_ids import BODY_MODELS, operation_id
from safework_gateway.passes.hooks import HOOKS, after_write
from safework_gateway.upstream import Upstream, pass_on, relay, relay_stream

ALL = ("authority", "enterprise", "lab", "worker")
AUTHORITY = ("authority",)
ENTERPRISE_OR_AUTHORITY = ("enterprise", "authority")

TAG_APP = "worker app"
TAG_LAB = "lab"
TAG_ENTERPRISE = "enterprise"
TAG_AUTHORITY = "authority"
TAG_REFERENCE = "reference data"
TAG_OUTBREAK = "outbreak response"
TAG_EXPORT = "exports"
TAG_FHIR = "fhir"


@dataclass(frozen=True)
class Query:
    name: str
    schema: s.Schema
    description: str = ""


@dataclass(frozen=True)
class Forward:
    method: str
    path: str
    # The success body's model (None: 204, no content), as the upstream answers it.
    response: Any
    upstream: Literal["registry", "scheduler"]
    roles: tuple[str, ...]
    scope: Scope
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: tuple[Query, ...] = ()
    status_code: int = 200
    upstream_path: str | None = None
    # Other success statuses the upstream answers with (a replay of a stored record: 200).
    also: tuple[int, ...] = ()
    # The upstream honours Idempotency-Key on this route (a retry replays the first answer).
    idempotent: bool = False
    # The body may also be a CSV or XLSX file, raw or multipart (issue 16): the upstream reads it.
    uploads: bool = False
    # The success answer is a file of this media type (a template), not JSON.
    media: str | None = None
    # A file answer (an export: CSV, XLSX, NDJSON): its media types. Relayed as a stream, as it
    # comes, never held whole (``response`` is then None).
    files: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        return self.upstream_path or "/v1" + self.path


CURSOR = (
    Query("cursor", {"type": "string"}, "Opaque keyset cursor from the previous page's next_cursor."),
    Query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, f"Items per page, 1 to {MAX_LIMIT}."),
)
AS_OF = Query("as_of", s.INSTANT, "The instant the rules are applied at (default: now).")
DISTRICT = Query(
    "district",
    DISTRICT_SCHEMA,
    "A district authority: its own only (another is 404 district_not_found); unknown: 422 unknown_district.",
)
ZONE = Query("zone_type", s.ZONE_TYPE)
TEXT: s.Schema = {"type": "string", "maxLength": 128}
# Exports (issue 16): the JSON route's filters and as_of, the whole list, streamed.
SPREADSHEET = ("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
FORMAT = Query(
    "format",
    {"type": "string", "enum": ["csv", "xlsx"], "default": "csv"},
    "csv (UTF-8 with a byte-order mark, streamed) or xlsx (one sheet, the same columns).",
)
EXPORT_STATUS = Query(
    "status",
    {"type": "string", "enum": ["due", "overdue", "not_cleared", "all"]},
    "Whose rows: as the JSON route (default overdue), or all: every active person with their verdict.",
)

FORWARDS: tuple[Forward, ...] = (
    # The worker's own records: the person is the token's, never the path's.
    Forward("GET", "/me", c.PersonOut, "registry", ("worker",), Scope.SELF, "My person record", TAG_APP,
            upstream_path="/v1/persons/{person_id}"),
    Forward("POST", "/me/declarations", c.DeclarationOut,
            "registry", ("worker",), Scope.SELF, "Declare my health (symptoms)", TAG_APP,
            body=c.DeclarationIn, status_code=201, upstream_path="/v1/persons/{person_id}/declarations",
            idempotent=True),
    Forward("GET", "/me/declarations", Page[c.DeclarationOut],
            "registry", ("worker",), Scope.SELF, "My health declarations", TAG_APP,
            query=CURSOR, upstream_path="/v1/persons/{person_id}/declarations"),
    Forward("POST", "/me/travels", c.TravelOut,
            "registry", ("worker",), Scope.SELF, "Report a travel or a return", TAG_APP,
            body=c.TravelIn, status_code=201, upstream_path="/v1/persons/{person_id}/travels", idempotent=True),
    Forward("PATCH", "/me/travels/{travel_id}", c.TravelOut,
            "registry", ("worker",), Scope.SELF, "Record my return", TAG_APP,
            body=c.TravelPatch, upstream_path="/v1/persons/{person_id}/travels/{travel_id}"),
    Forward("GET", "/me/travels", Page[c.TravelOut], "registry", ("worker",), Scope.SELF, "My travels", TAG_APP,
            query=CURSOR, upstream_path="/v1/persons/{person_id}/travels"),
    Forward("POST", "/me/checkins", c.CheckInOut,
            "registry", ("worker",), Scope.SELF, "Check in at a venue's QR code", TAG_APP,
            body=c.CheckInIn, status_code=201, upstream_path="/v1/persons/{person_id}/checkins", idempotent=True),
    Forward("GET", "/me/checkins", Page[c.CheckInOut], "registry", ("worker",), Scope.SELF, "My check-ins", TAG_APP,
            query=CURSOR, upstream_path="/v1/persons/{person_id}/checkins"),
    # Labs.
    Forward("POST", "/labs/{lab_id}/results", c.BatchOutcome, "registry", ("lab", "authority"), Scope.LAB,
            "Post a batch of results (single and pooled), up to 10,000 items, as JSON or a CSV/XLSX file; "
            "per-item outcomes", TAG_LAB, body=c.ResultsBatchIn, idempotent=True, uploads=True),
    Forward("GET", "/labs/{lab_id}/results/template.csv", None, "registry", ("lab", "authority"), Scope.LAB,
            "The lab-results upload template, CSV (Vietnamese headers, one example row)", TAG_LAB,
            media=CSV_MEDIA_TYPE),
    Forward("GET", "/labs/{lab_id}/results/template.xlsx", None, "registry", ("lab", "authority"), Scope.LAB,
            "The lab-results upload template, XLSX (Vietnamese headers, one example row)", TAG_LAB,
            media=XLSX_MEDIA_TYPE),
    Forward("GET", "/labs/{lab_id}/results", Page[c.ResultOut], "registry", ("lab", "authority"), Scope.LAB,
            "Read back this lab's submissions", TAG_LAB, query=CURSOR),
    Forward("POST", "/labs/{lab_id}/results/fhir", c.BatchOutcome, "registry", ("lab", "authority"), Scope.LAB,
            "Post results as a FHIR R4 Bundle of Observations (LOINC 94500-6 RT-PCR, 94558-4 rapid antigen); "
            "the JSON batch's checks and per-item outcomes", TAG_FHIR, body=c.FhirResultsBundle, idempotent=True),
    # Enterprises: their own roster, venues, due list.
    Forward("GET", "/enterprises/{enterprise_id}", c.EnterpriseOut,
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "One enterprise", TAG_ENTERPRISE),
    Forward("PUT", "/enterprises/{enterprise_id}/roster", c.RosterResult,
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "Upsert the roster (up to 10,000 people, matched by employee code) from JSON or a CSV/XLSX file; "
            "per-item outcomes", TAG_ENTERPRISE, body=c.RosterUpsert, idempotent=True, uploads=True),
    Forward("GET", "/enterprises/{enterprise_id}/roster/template.csv", None,
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "The roster upload template, CSV (Vietnamese headers, one example row)", TAG_ENTERPRISE,
            media=CSV_MEDIA_TYPE),
    Forward("GET", "/enterprises/{enterprise_id}/roster/template.xlsx", None,
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "The roster upload template, XLSX (Vietnamese headers, one example row)", TAG_ENTERPRISE,
            media=XLSX_MEDIA_TYPE),
    Forward("GET", "/enterprises/{enterprise_id}/roster", Page[c.PersonOut],
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "The roster, a page at a time", TAG_ENTERPRISE,
            query=(Query("status", {"type": "string", "enum": ["active", "left"]}),
                   Query("job_role", {"type": "string"}), Query("q", {"type": "string"}), *CURSOR)),
    Forward("GET", "/enterprises/{enterprise_id}/due", c.EnterpriseDueOut,
            "scheduler", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "Who is due a test that day, with reasons", TAG_ENTERPRISE,
            query=(Query("date", s.DATE, "Local date (Asia/Ho_Chi_Minh); default: the date of as_of."), AS_OF)),
    Forward("GET", "/enterprises/{enterprise_id}/installations", c.InstallationSummary,
            "registry", ENTERPRISE_OR_AUTHORITY,
            Scope.ENTERPRISE, "The enterprise's app installations, as counted for the single-app rule",
            TAG_ENTERPRISE),
    Forward("POST", "/enterprises/{enterprise_id}/venues", c.VenueOut,
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "Add a QR check-in venue", TAG_ENTERPRISE, body=c.VenueCreate, status_code=201),
    Forward("GET", "/enterprises/{enterprise_id}/venues", Page[c.VenueOut],
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "The enterprise's venues", TAG_ENTERPRISE, query=CURSOR),
    Forward("GET", "/venues/{venue_id}", c.VenueOut, "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "One venue", TAG_ENTERPRISE),
    Forward("PATCH", "/venues/{venue_id}", c.VenueOut, "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "Change a venue", TAG_ENTERPRISE, body=c.VenueUpdate),
    Forward("POST", "/accommodations", c.AccommodationOut, "registry", ENTERPRISE_OR_AUTHORITY, Scope.NONE,
            "Register a boarding house or dormitory (one enterprise per site)", TAG_ENTERPRISE,
            body=c.AccommodationCreate, status_code=201),
    Forward("GET", "/accommodations", Page[c.AccommodationOut], "registry", ENTERPRISE_OR_AUTHORITY, Scope.NONE,
            "Boarding houses and dormitories in scope", TAG_ENTERPRISE, query=(DISTRICT, *CURSOR)),
    Forward("GET", "/accommodations/{accommodation_id}", c.AccommodationOut,
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "One boarding house", TAG_ENTERPRISE),
    Forward("PATCH", "/accommodations/{accommodation_id}", c.AccommodationOut,
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "Change a boarding house", TAG_ENTERPRISE, body=c.AccommodationUpdate),
    # seeds/000 §2.3: owners and managers (chủ quản lý) are drawn into the random tests too.
    Forward("POST", "/accommodations/{accommodation_id}/managers", c.ManagerOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "Link an owner or manager to a boarding house", TAG_AUTHORITY, body=c.ManagerIn,
            status_code=201),
    Forward("GET", "/accommodations/{accommodation_id}/managers", c.ManagersOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "A boarding house's owners and managers", TAG_AUTHORITY),
    Forward("DELETE", "/accommodations/{accommodation_id}/managers/{person_id}", None, "registry", AUTHORITY,
            Scope.UPSTREAM, "Unlink an owner or manager", TAG_AUTHORITY, status_code=204),
    # People in scope.
    Forward("POST", "/persons", c.PersonOut, "registry", ENTERPRISE_OR_AUTHORITY, Scope.NONE,
            "Add a person (an enterprise: to its own roster)", TAG_ENTERPRISE, body=c.PersonCreate, status_code=201),
    Forward("GET", "/persons/{person_id}", c.PersonOut, "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "A person in scope (national ID masked except to the authority)", TAG_ENTERPRISE),
    Forward("PATCH", "/persons/{person_id}", c.PersonOut, "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "Change a person in scope", TAG_ENTERPRISE, body=c.PersonUpdate),
    Forward("GET", "/persons/{person_id}/summary", c.PersonSummary, "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "Doses, latest results, open declarations and travels, flags", TAG_ENTERPRISE, query=(AS_OF,)),
    Forward("GET", "/persons/{person_id}/due", c.PersonDueOut, "scheduler", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "Next test due, overdue, cleared to work, with reasons", TAG_ENTERPRISE, query=(AS_OF,)),
    Forward("GET", "/persons/{person_id}/results", Page[c.ResultOut],
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "A person's test results", TAG_ENTERPRISE, query=CURSOR),
    Forward("GET", "/persons/{person_id}/doses", Page[c.DoseOut], "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "A person's vaccine doses", TAG_ENTERPRISE),
    Forward("GET", "/persons/{person_id}/declarations", Page[c.DeclarationOut],
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "A person's health declarations", TAG_ENTERPRISE, query=CURSOR),
    Forward("GET", "/persons/{person_id}/travels", Page[c.TravelOut],
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "A person's travels", TAG_ENTERPRISE, query=CURSOR),
    Forward("GET", "/persons/{person_id}/checkins", Page[c.CheckInOut],
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "A person's check-ins", TAG_ENTERPRISE, query=CURSOR),
    # The authority.
    Forward("POST", "/persons/{person_id}/doses", c.DoseOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "Record a vaccine dose (the same dose again: 200, the stored one)", TAG_AUTHORITY, body=c.DoseIn,
            status_code=201, also=(200,), idempotent=True),
    Forward("POST", "/persons/lookup", c.PersonOut, "registry", AUTHORITY, Scope.NONE,
            "Find a person by national ID", TAG_AUTHORITY, body=c.LookupRequest),
    # The audit trail (who, what, which record, when): the province authority reads it.
    Forward("GET", "/audit", Page[c.AuditEntry], "registry", AUTHORITY, Scope.PROVINCE,
            "The audit log, newest first, filtered", TAG_AUTHORITY,
            query=(Query("action", TEXT, "e.g. person.lookup"), Query("entity", TEXT, "e.g. person"),
                   Query("entity_id", TEXT), Query("client_id", TEXT), Query("role", TEXT),
                   Query("subject", TEXT), Query("since", s.INSTANT, "From this instant (inclusive)."),
                   Query("until", s.INSTANT, "Before this instant."), *CURSOR)),
    Forward("GET", "/persons/{person_id}/audit", Page[c.AuditEntry], "registry", AUTHORITY, Scope.PROVINCE,
            "Who looked this person up by national ID, and who changed their record", TAG_AUTHORITY,
            query=CURSOR),
    Forward("POST", "/enterprises", c.EnterpriseOut, "registry", AUTHORITY, Scope.NONE,
            "Register an enterprise", TAG_AUTHORITY, body=c.EnterpriseCreate, status_code=201),
    Forward("GET", "/enterprises", Page[c.EnterpriseOut], "registry", AUTHORITY, Scope.NONE,
            "Enterprises in scope", TAG_AUTHORITY,
            query=(DISTRICT, ZONE, Query("operating_status", {"type": "string", "enum": ["cleared", "suspended"]}),
                   *CURSOR)),
    Forward("PATCH", "/enterprises/{enterprise_id}", c.EnterpriseOut, "registry", AUTHORITY, Scope.ENTERPRISE,
            "Change an enterprise", TAG_AUTHORITY, body=c.EnterpriseUpdate),
    Forward("POST", "/enterprises/{enterprise_id}/status", c.EnterpriseOut, "registry", AUTHORITY, Scope.ENTERPRISE,
            "Suspend an enterprise or clear it to operate, with the reason", TAG_AUTHORITY,
            body=c.EnterpriseStatusChange),
    Forward("POST", "/labs", c.LabOut, "registry", AUTHORITY, Scope.PROVINCE,
            "Register a lab", TAG_AUTHORITY, body=c.LabCreate, status_code=201),
    Forward("GET", "/labs", Page[c.LabOut], "registry", AUTHORITY, Scope.NONE, "Labs", TAG_AUTHORITY, query=CURSOR),
    Forward("GET", "/labs/{lab_id}", c.LabOut,
            "registry", ("lab", "authority"), Scope.LAB, "One lab (a lab: itself)", TAG_LAB),
    Forward("PATCH", "/labs/{lab_id}", c.LabOut, "registry", AUTHORITY, Scope.PROVINCE, "Change a lab", TAG_AUTHORITY,
            body=c.LabUpdate),
    Forward("POST", "/vaccine-products", c.VaccineProductOut, "registry", AUTHORITY, Scope.PROVINCE,
            "Add a vaccine product", TAG_REFERENCE, body=c.VaccineProductIn, status_code=201, idempotent=True),
    Forward("GET", "/vaccine-products", Page[c.VaccineProductOut],
            "registry", ALL, Scope.NONE, "Vaccine products", TAG_REFERENCE,
            query=(Query("active", {"type": "boolean"}),)),
    Forward("GET", "/vaccine-products/{code}", c.VaccineProductOut,
            "registry", ALL, Scope.NONE, "One vaccine product", TAG_REFERENCE),
    Forward("PATCH", "/vaccine-products/{code}", c.VaccineProductOut, "registry", AUTHORITY, Scope.PROVINCE,
            "Change a vaccine product", TAG_REFERENCE, body=c.VaccineProductPatch),
    Forward("GET", "/vaccines/queue", c.QueuePage, "scheduler", AUTHORITY, Scope.NONE,
            "Vaccine priority queue (parks first, then clusters, then outside)", TAG_AUTHORITY,
            query=(AS_OF, DISTRICT, Query("enterprise_id", s.UUID), Query("tier", {"type": "integer"}),
                   Query("dose", {"type": "integer", "minimum": 1}), *CURSOR)),
    Forward("POST", "/vaccines/plan", c.PlanResponse, "scheduler", AUTHORITY, Scope.NONE,
            "Capacity plan against the dose 1 and dose 2 deadlines", TAG_AUTHORITY, body=c.PlanRequest),
    Forward("GET", "/compliance/violations", c.ViolationsOut, "scheduler", AUTHORITY, Scope.NONE,
            "Enterprises in violation (or warning) of the single-app and testing rules", TAG_AUTHORITY,
            query=(AS_OF, ZONE, DISTRICT, Query("status", {"type": "string", "enum": ["violation", "warning"]}),
                   *CURSOR)),
    Forward("GET", "/due", c.ProvinceDueOut, "scheduler", AUTHORITY, Scope.NONE,
            "Due, overdue and not-cleared counts by enterprise, province- or district-wide", TAG_AUTHORITY,
            query=(AS_OF, DISTRICT, ZONE)),
    Forward("GET", "/due/people", c.ProvincePeopleOut, "scheduler", AUTHORITY, Scope.NONE,
            "The people behind those counts, a page at a time", TAG_AUTHORITY,
            query=(AS_OF, DISTRICT,
                   Query("status", {"type": "string", "enum": ["due", "overdue", "not_cleared"]}), *CURSOR)),
    # Exports (issue 16): the same filters and as_of as the JSON routes, the whole list, streamed.
    Forward("GET", "/due/people/export", None, "scheduler", AUTHORITY, Scope.NONE,
            "The due list, whole, as CSV or XLSX (by enterprise then person)", TAG_EXPORT,
            query=(FORMAT, AS_OF, DISTRICT, ZONE, EXPORT_STATUS), files=SPREADSHEET),
    Forward("GET", "/enterprises/{enterprise_id}/due/export", None,
            "scheduler", ENTERPRISE_OR_AUTHORITY, Scope.ENTERPRISE,
            "An enterprise's due list, whole, as CSV or XLSX", TAG_EXPORT,
            query=(FORMAT, Query("date", s.DATE, "Local date (Asia/Ho_Chi_Minh); default: the date of as_of."),
                   AS_OF, EXPORT_STATUS), files=SPREADSHEET),
    Forward("GET", "/compliance/violations/export", None, "scheduler", AUTHORITY, Scope.NONE,
            "Enterprises in violation (or warning), whole, as CSV or XLSX", TAG_EXPORT,
            query=(FORMAT, AS_OF, ZONE, DISTRICT,
                   Query("status", {"type": "string", "enum": ["violation", "warning"]})), files=SPREADSHEET),
    Forward("GET", "/coverage/export", None, "scheduler", AUTHORITY, Scope.NONE,
            "Testing and vaccine coverage by enterprise, district or zone, as CSV or XLSX", TAG_EXPORT,
            query=(FORMAT, AS_OF, DISTRICT, ZONE,
                   Query("by", {"type": "string", "enum": ["enterprise", "district", "zone", "district_zone"]},
                         "One row per enterprise (default), or summed by district, zone type, or both.")),
            files=SPREADSHEET),
    Forward("GET", "/vaccines/queue/export", None, "scheduler", AUTHORITY, Scope.NONE,
            "The vaccine priority queue, whole, as CSV or XLSX", TAG_EXPORT,
            query=(FORMAT, AS_OF, DISTRICT, Query("enterprise_id", s.UUID), Query("tier", {"type": "integer"}),
                   Query("dose", {"type": "integer", "minimum": 1})), files=SPREADSHEET),
    Forward("POST", "/vaccines/plan/export", None, "scheduler", AUTHORITY, Scope.NONE,
            "A capacity plan's groups and totals as CSV or XLSX", TAG_EXPORT, body=c.PlanRequest,
            query=(FORMAT,), files=SPREADSHEET),
    # FHIR R4 (issue 16): a person, everything about them, and everyone in scope as NDJSON.
    Forward("GET", "/fhir/Patient/{person_id}", c.FhirResource, "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "A person as a FHIR R4 Patient (national ID masked except to the authority)", TAG_FHIR),
    Forward("GET", "/fhir/Patient/{person_id}/$everything", c.FhirBundle,
            "registry", ENTERPRISE_OR_AUTHORITY, Scope.UPSTREAM,
            "A person's Patient, employer, labs, Immunizations and Observations as a FHIR R4 Bundle", TAG_FHIR),
    Forward("GET", "/fhir/export", None, "registry", ENTERPRISE_OR_AUTHORITY, Scope.NONE,
            "Everyone in scope as FHIR R4 NDJSON (Organization, Patient, Immunization, Observation), streamed",
            TAG_FHIR, query=(Query("_type", {"type": "string", "maxLength": 200},
                                   "Comma-separated resource types (default: all four)."),),
            files=("application/fhir+ndjson",)),
    # seeds/000 §2.2: each district's steering committee sets its sampling ratios, period by period.
    Forward("POST", "/districts/{district}/ratios", c.RatioOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "Set a district's sampling ratio from a date (a district authority: its own; the province: any)",
            TAG_AUTHORITY, body=c.RatioIn, status_code=201),
    Forward("GET", "/districts/{district}/ratios", c.RatiosOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "A district's sampling ratios, newest first", TAG_AUTHORITY),
    Forward("GET", "/districts/{district}/boarding-house-sample", c.BoardingHouseSampleOut,
            "scheduler", AUTHORITY, Scope.UPSTREAM,
            "The round's random sample of a district's boarding-house renters and owners (seeds/000 §2.3)",
            TAG_AUTHORITY,
            query=(Query("date", s.DATE, "Local date (Asia/Ho_Chi_Minh); default: the date of as_of."), AS_OF,
                   *CURSOR)),
    # Outbreak response (seeds/004 §II.3, seeds/002): cases, tracing, a district's picture, isolation.
    Forward("POST", "/cases", c.CaseOut, "registry", AUTHORITY, Scope.NONE,
            "Record a confirmed case (F0) and trace its contacts (F1) at once", TAG_OUTBREAK, body=c.CaseCreate,
            status_code=201),
    Forward("GET", "/cases", Page[c.CaseListItem], "registry", AUTHORITY, Scope.NONE,
            "Cases in scope, newest specimen first", TAG_OUTBREAK,
            query=(DISTRICT, Query("status", {"type": "string", "enum": ["open", "closed"]}), AS_OF, *CURSOR)),
    Forward("GET", "/cases/{case_id}", c.TraceOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "A case's trace: contacts counted by link, enterprise and venue", TAG_OUTBREAK, query=(AS_OF,)),
    Forward("GET", "/cases/{case_id}/contacts", c.ContactPage, "registry", AUTHORITY, Scope.UPSTREAM,
            "A case's contacts with their links (ring 1), or the second ring on request", TAG_OUTBREAK,
            query=(Query("ring", {"type": "integer", "minimum": 1, "maximum": 2}),
                   Query("link", {"type": "string", "enum": ["venue", "accommodation", "declared"]}),
                   Query("enterprise_id", s.UUID), AS_OF, *CURSOR)),
    Forward("POST", "/cases/{case_id}/contacts", c.CaseOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "Declare contacts of a case (found by interview)", TAG_OUTBREAK, body=c.DeclaredContacts),
    Forward("POST", "/cases/{case_id}/trace", c.CaseOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "Trace a case again (check-ins that arrived late)", TAG_OUTBREAK),
    Forward("POST", "/cases/{case_id}/close", c.CaseOut, "registry", AUTHORITY, Scope.UPSTREAM, "Close a case",
            TAG_OUTBREAK, body=c.CaseClose),
    Forward("GET", "/districts/{district}/outbreak", c.DistrictOutbreakOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "A district's open cases and contacts, and a page of the enterprises that have one", TAG_OUTBREAK,
            query=(AS_OF, *CURSOR)),
    # seeds/002 §4: quarantine rooms never mix high-risk and low-risk people.
    Forward("POST", "/isolation/facilities", c.FacilityOut, "registry", AUTHORITY, Scope.NONE,
            "Record a quarantine facility and its rooms", TAG_OUTBREAK, body=c.FacilityCreate, status_code=201),
    Forward("GET", "/isolation/facilities", Page[c.FacilityOut], "registry", AUTHORITY, Scope.NONE,
            "Quarantine facilities in scope, with each room's occupancy and risk class", TAG_OUTBREAK,
            query=(DISTRICT, *CURSOR)),
    Forward("GET", "/isolation/facilities/{facility_id}", c.FacilityOut, "registry", AUTHORITY, Scope.UPSTREAM,
            "One quarantine facility", TAG_OUTBREAK),
    Forward("POST", "/isolation/facilities/{facility_id}/assignments", c.AssignmentOut, "registry", AUTHORITY,
            Scope.UPSTREAM, "Put a person in a room (409 room_risk_mix, room_full, person_already_assigned; "
            "already in that room: 200, the stored assignment)", TAG_OUTBREAK,
            body=c.AssignmentIn, status_code=201, also=(200,)),
    Forward("DELETE", "/isolation/facilities/{facility_id}/assignments/{person_id}", None, "registry", AUTHORITY,
            Scope.UPSTREAM, "Release a person from their room", TAG_OUTBREAK, status_code=204),
    Forward("POST", "/isolation/facilities/{facility_id}/suggest", c.SuggestOut, "registry", AUTHORITY,
            Scope.UPSTREAM, "Suggest rooms for people, never mixing risk classes", TAG_OUTBREAK, body=c.SuggestIn),
    Forward("GET", "/policies", c.PolicyHistoryOut,
            "scheduler", AUTHORITY, Scope.NONE, "Policy versions", TAG_REFERENCE),
    Forward("GET", "/policies/active", c.ActivePolicyOut, "scheduler", ALL, Scope.NONE,
            "The policy in force (testing, vaccine and single-app rules)", TAG_REFERENCE, query=(AS_OF,)),
)  # fmt: skip

_PARAM = re.compile(r"{(\w+)}")
_INTEGER_PARAMS = frozenset({"travel_id"})
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_\-:]+(\.[A-Za-z0-9_\-:]+)*$")


def _path_value(name: str, raw: str) -> str:
    """Path parameters are UUIDs (``*_id``) or plain codes; anything else (``..``, odd bytes) is
    refused before it can reshape the upstream path."""
    if name in _INTEGER_PARAMS:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise Unprocessable("Not a valid id.", code="invalid_path_parameter", field=f"path.{name}")
        return str(int(raw))
    if name == "district":
        district = canonical_district(raw)
        if district is None:
            raise Unprocessable(unknown_district_message(), code="unknown_district", field="path.district")
        return quote(district, safe="")
    if name.endswith("_id"):
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise Unprocessable("Not a valid UUID.", code="invalid_uuid", field=f"path.{name}") from None
    if len(raw) > 64 or not _SAFE_SEGMENT.match(raw):
        raise Unprocessable("Not a valid code.", code="invalid_path_parameter", field=f"path.{name}")
    return quote(raw, safe="")


def _handler(spec: Forward) -> Callable[..., Awaitable[Response]]:
    names = _PARAM.findall(spec.target)
    has_body = spec.body is not None
    # Content-Type only with a body, Idempotency-Key only where the upstream honours it.
    headers_on = ["accept"]
    if has_body:
        headers_on.append("content-type")
    if spec.idempotent:
        headers_on.append("idempotency-key")
    key = (spec.method, spec.path)
    hooked = key in HOOKS
    streamed = bool(spec.files)

    async def forward(request: Request, principal: Principal) -> Response:
        values = {}
        for name in names:
            if spec.scope is Scope.SELF and name == "person_id":
                values[name] = str(principal.person_id)
            else:
                values[name] = _path_value(name, request.path_params[name])
        path = spec.target.format(**values)
        query = request.url.query
        if query:
            path = f"{path}?{query}"
        headers = pass_on(request.headers, headers_on)
        upstream: Upstream = getattr(request.app.state, spec.upstream)
        content = await request.body() if has_body else None
        if streamed:
            return await relay_stream(
                await upstream.stream(spec.method, path, principal.caller(), headers=headers, content=content)
            )
        answer = await upstream.request(spec.method, path, principal.caller(), headers=headers, content=content)
        if hooked and answer.status_code < 300:
            await after_write(getattr(request.app.state, "passes", None), key, values, content, answer.content)
        return relay(answer)

    # Real objects, not strings: the dependency is built here, per row, so it cannot be named
    # from the module's globals the way postponed annotations are resolved.
    forward.__annotations__ = {
        "request": Request,
        "principal": Annotated[Principal, allow(*spec.roles, scope=spec.scope)],
        "return": Response,
    }
    forward.__name__ = operation_id(spec.method, spec.path)
    forward.__doc__ = f"{spec.summary}. Forwarded to the {spec.upstream}."
    return forward


def _openapi(spec: Forward) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    for name in _PARAM.findall(spec.path):
        if name in _INTEGER_PARAMS:
            schema: s.Schema = {"type": "integer", "minimum": 1}
        elif name.endswith("_id"):
            schema = s.UUID
        else:
            schema = {"type": "string", "maxLength": 64}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    params += [{"name": q.name, "in": "query", "required": False, "schema": q.schema, "description": q.description}
               for q in spec.query]  # fmt: skip
    if spec.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": s.IDEMPOTENCY_KEY,
                "description": "Retrying with the same key replays the first answer instead of posting twice.",
            }
        )
    extra: dict[str, Any] = {"parameters": params}
    if spec.body is not None:
        # Filled in with the model's schema by safework_gateway.openapi (BODY_MODELS).
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": {}}}}
        if spec.uploads:
            # The same rows as a file (issue 16). Listed as an extension rather than as more
            # requestBody media types: openapi-python-client (0.29) generates a client that does
            # not import for an operation with several body media types (its template's
            # ``body_required`` never leaves its loop), and client authors generate from here.
            extra["x-safework-file-uploads"] = {
                "media_types": [CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, "multipart/form-data"],
                "multipart_field": "file",
                "templates": [f"{spec.path}/template.csv", f"{spec.path}/template.xlsx"],
            }
            extra["description"] = f"{spec.summary}. Forwarded to the {spec.upstream}.\n\n{_UPLOADS_NOTE}"
    return extra


_UPLOADS_NOTE = (
    "The same batch may be sent as a CSV or XLSX file: as the raw body (`Content-Type: text/csv` or "
    f"`{XLSX_MEDIA_TYPE}`) or as `multipart/form-data` with the file in the `file` part (listed in "
    "`x-safework-file-uploads`). The columns are the template's (`.../template.csv`, `.../template.xlsx`, "
    "Vietnamese headers, English aliases). Each row is judged as the JSON item would be; its outcome also "
    "gives the spreadsheet `row` (header = row 1) and the offending `column`. A time without an offset is "
    "Asia/Ho_Chi_Minh in a file (JSON requires the offset). A file that is not a batch (encoding, header, "
    "more than 10,000 rows, an XLSX that unpacks too large) is refused whole and changes nothing."
)


def _answer(spec: Forward) -> dict[str, Any]:
    if spec.files:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {"description": "The file, streamed", "content": dict.fromkeys(spec.files, binary)}
    if spec.media is not None:
        return {"description": "A file", "content": {spec.media: {"schema": {"type": "string", "format": "binary"}}}}
    if spec.response is None:
        return {"description": "Done: no content"}
    if spec.path.startswith("/fhir/"):  # FHIR's own JSON media type, as the registry answers it
        ref = {"schema": {"$ref": f"#/components/schemas/{spec.response.__name__}"}}
        return {"description": "Success", "model": spec.response, "content": {FHIR_JSON: ref}}
    return {"description": "Success", "model": spec.response}


def build_router() -> APIRouter:
    """One sub-router per first path segment: FastAPI then tries only the routes under the
    matching prefix, which keeps routing cheap with this many routes."""
    router = APIRouter(responses=ERROR_RESPONSES)
    groups: dict[str, APIRouter] = {}
    for spec in FORWARDS:
        segment = spec.path.split("/")[1]
        group = groups.setdefault(segment, APIRouter(prefix=f"/{segment}"))
        handler = _handler(spec)
        if spec.body is not None:
            BODY_MODELS[handler] = spec.body
        group.add_api_route(
            spec.path[len(segment) + 1 :],
            handler,
            methods=[spec.method],
            status_code=spec.status_code,
            summary=spec.summary,
            tags=[spec.tag],
            openapi_extra=_openapi(spec),
            response_class=Response,
            responses={status: _answer(spec) for status in (spec.status_code, *spec.also)},
        )
    for group in groups.values():
        router.include_router(group)
    return router
