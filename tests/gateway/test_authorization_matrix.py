"""The authorization matrix: every public route, every role, own and another tenant.

``MATRIX`` is the expected table, one row per route. The route table is read from the app, so a
route added without a row (or a row left without its route, or a route whose declared roles or
scope differ from its row) fails here. Each row is then driven against the real registry and
scheduler with real data: a role that may not call a route gets 403 ``role_not_allowed`` and
nothing reaches an upstream; another tenant's object answers 404; an allowed call answers 2xx
(anything else, a 409, a 422 or a 500, is a failure) and reaches the upstream as the internal
caller the token stands for, never with the public token. The one exception is the gateway's own
pass re-check after a write (issue 17), which asks as ``PASSES_SUBJECT`` for the pass's enterprise
and never with the public token."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter, InternalTokenVerifier
from safework_gateway.app import create_app
from safework_gateway.auth.access import api_routes
from safework_gateway.passes.service import PASSES_SUBJECT
from safework_gateway.settings import GatewaySettings
from tests.callers import As
from tests.conftest import running
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, DISTRICT_B, app_info, enterprise, lab, national_id, new_device_id, tax_code
from tests.support import apps
from tests.support.apps import asgi

PUBLIC = frozenset[str]()
A = frozenset({"authority"})
EA = frozenset({"enterprise", "authority"})
LA = frozenset({"lab", "authority"})
E = frozenset({"enterprise"})
W = frozenset({"worker"})
ALL = frozenset({"authority", "enterprise", "lab", "worker"})

# (method, path) -> (roles, scope). Scopes: none, enterprise, lab, self, upstream, district, province.
MATRIX: dict[tuple[str, str], tuple[frozenset[str], str]] = {
    ("GET", "/healthz"): (PUBLIC, "public"),
    ("GET", "/readyz"): (PUBLIC, "public"),
    ("GET", "/.well-known/jwks.json"): (PUBLIC, "public"),
    ("GET", "/health-cards/.well-known/jwks.json"): (PUBLIC, "public"),
    ("GET", "/api/v1/codes"): (PUBLIC, "public"),
    # The API's documentation pages, their scripts served by the gateway itself (fastapi-offline).
    ("GET", "/docs"): (PUBLIC, "public"),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, "public"),
    ("GET", "/redoc"): (PUBLIC, "public"),
    ("POST", "/api/v1/auth/token"): (PUBLIC, "public"),
    ("POST", "/api/v1/app/activate"): (PUBLIC, "public"),
    ("POST", "/api/v1/app/refresh"): (PUBLIC, "public"),
    ("POST", "/api/v1/clients"): (A, "district"),
    ("GET", "/api/v1/clients"): (A, "district"),
    ("GET", "/api/v1/clients/{client_id}"): (A, "district"),
    ("POST", "/api/v1/clients/{client_id}/rotate-secret"): (A, "district"),
    ("POST", "/api/v1/clients/{client_id}/disable"): (A, "district"),
    ("POST", "/api/v1/enterprises/{enterprise_id}/activation-codes"): (EA, "enterprise"),
    ("POST", "/api/v1/enterprises/{enterprise_id}/app/sync"): (E, "enterprise"),
    ("POST", "/api/v1/devices/{device_id}/revoke"): (EA, "upstream"),
    ("GET", "/api/v1/me"): (W, "self"),
    ("GET", "/api/v1/me/status"): (W, "self"),
    ("POST", "/api/v1/me/pass"): (W, "self"),
    ("GET", "/api/v1/me/passes/{pass_id}/qr"): (W, "self"),
    ("POST", "/api/v1/passes/verify"): (EA, "none"),
    ("GET", "/api/v1/me/health-card"): (W, "self"),
    ("GET", "/api/v1/me/health-card/qr"): (W, "self"),
    ("GET", "/api/v1/passes/revocations"): (EA, "none"),
    ("POST", "/api/v1/me/sync"): (W, "self"),
    ("POST", "/api/v1/me/declarations"): (W, "self"),
    ("GET", "/api/v1/me/declarations"): (W, "self"),
    ("POST", "/api/v1/me/travels"): (W, "self"),
    ("PATCH", "/api/v1/me/travels/{travel_id}"): (W, "self"),
    ("GET", "/api/v1/me/travels"): (W, "self"),
    ("POST", "/api/v1/me/checkins"): (W, "self"),
    ("GET", "/api/v1/me/checkins"): (W, "self"),
    ("POST", "/api/v1/labs/{lab_id}/results"): (LA, "lab"),
    ("GET", "/api/v1/labs/{lab_id}/results"): (LA, "lab"),
    # Upload templates (issue 16): files, scoped as the upload route they serve.
    ("GET", "/api/v1/labs/{lab_id}/results/template.csv"): (LA, "lab"),
    ("GET", "/api/v1/labs/{lab_id}/results/template.xlsx"): (LA, "lab"),
    ("GET", "/api/v1/labs/{lab_id}"): (LA, "lab"),
    ("PATCH", "/api/v1/labs/{lab_id}"): (A, "province"),
    ("POST", "/api/v1/labs"): (A, "province"),
    ("GET", "/api/v1/labs"): (A, "none"),
    ("GET", "/api/v1/enterprises/{enterprise_id}"): (EA, "enterprise"),
    ("PATCH", "/api/v1/enterprises/{enterprise_id}"): (A, "enterprise"),
    ("POST", "/api/v1/enterprises/{enterprise_id}/status"): (A, "enterprise"),
    ("PUT", "/api/v1/enterprises/{enterprise_id}/roster"): (EA, "enterprise"),
    ("GET", "/api/v1/enterprises/{enterprise_id}/roster"): (EA, "enterprise"),
    ("GET", "/api/v1/enterprises/{enterprise_id}/roster/template.csv"): (EA, "enterprise"),
    ("GET", "/api/v1/enterprises/{enterprise_id}/roster/template.xlsx"): (EA, "enterprise"),
    ("GET", "/api/v1/enterprises/{enterprise_id}/due"): (EA, "enterprise"),
    ("GET", "/api/v1/enterprises/{enterprise_id}/compliance"): (EA, "enterprise"),
    ("GET", "/api/v1/enterprises/{enterprise_id}/installations"): (EA, "enterprise"),
    ("POST", "/api/v1/enterprises/{enterprise_id}/venues"): (EA, "enterprise"),
    ("GET", "/api/v1/enterprises/{enterprise_id}/venues"): (EA, "enterprise"),
    ("GET", "/api/v1/venues/{venue_id}"): (EA, "upstream"),
    ("PATCH", "/api/v1/venues/{venue_id}"): (EA, "upstream"),
    ("POST", "/api/v1/accommodations"): (EA, "none"),
    ("GET", "/api/v1/accommodations"): (EA, "none"),
    ("GET", "/api/v1/accommodations/{accommodation_id}"): (EA, "upstream"),
    ("PATCH", "/api/v1/accommodations/{accommodation_id}"): (EA, "upstream"),
    ("POST", "/api/v1/accommodations/{accommodation_id}/managers"): (A, "upstream"),
    ("GET", "/api/v1/accommodations/{accommodation_id}/managers"): (A, "upstream"),
    ("DELETE", "/api/v1/accommodations/{accommodation_id}/managers/{person_id}"): (A, "upstream"),
    ("POST", "/api/v1/districts/{district}/ratios"): (A, "upstream"),
    ("GET", "/api/v1/districts/{district}/ratios"): (A, "upstream"),
    ("GET", "/api/v1/districts/{district}/boarding-house-sample"): (A, "upstream"),
    ("POST", "/api/v1/persons"): (EA, "none"),
    ("GET", "/api/v1/persons/{person_id}"): (EA, "upstream"),
    ("PATCH", "/api/v1/persons/{person_id}"): (EA, "upstream"),
    ("GET", "/api/v1/persons/{person_id}/summary"): (EA, "upstream"),
    ("GET", "/api/v1/persons/{person_id}/due"): (EA, "upstream"),
    ("GET", "/api/v1/persons/{person_id}/results"): (EA, "upstream"),
    ("GET", "/api/v1/persons/{person_id}/doses"): (EA, "upstream"),
    ("POST", "/api/v1/persons/{person_id}/doses"): (A, "upstream"),
    ("GET", "/api/v1/persons/{person_id}/declarations"): (EA, "upstream"),
    ("GET", "/api/v1/persons/{person_id}/travels"): (EA, "upstream"),
    ("GET", "/api/v1/persons/{person_id}/checkins"): (EA, "upstream"),
    ("POST", "/api/v1/persons/lookup"): (A, "none"),
    ("GET", "/api/v1/audit"): (A, "province"),
    ("GET", "/api/v1/persons/{person_id}/audit"): (A, "province"),
    ("POST", "/api/v1/enterprises"): (A, "none"),
    ("GET", "/api/v1/enterprises"): (A, "none"),
    ("POST", "/api/v1/vaccine-products"): (A, "province"),
    ("GET", "/api/v1/vaccine-products"): (ALL, "none"),
    ("GET", "/api/v1/vaccine-products/{code}"): (ALL, "none"),
    ("PATCH", "/api/v1/vaccine-products/{code}"): (A, "province"),
    ("GET", "/api/v1/vaccines/queue"): (A, "none"),
    ("POST", "/api/v1/vaccines/plan"): (A, "none"),
    ("GET", "/api/v1/compliance/violations"): (A, "none"),
    ("GET", "/api/v1/due"): (A, "none"),
    ("GET", "/api/v1/due/people"): (A, "none"),
    # Exports and FHIR (issue 16): the JSON routes' roles and scope.
    ("GET", "/api/v1/due/people/export"): (A, "none"),
    ("GET", "/api/v1/enterprises/{enterprise_id}/due/export"): (EA, "enterprise"),
    ("GET", "/api/v1/compliance/violations/export"): (A, "none"),
    ("GET", "/api/v1/coverage/export"): (A, "none"),
    ("GET", "/api/v1/vaccines/queue/export"): (A, "none"),
    ("POST", "/api/v1/vaccines/plan/export"): (A, "none"),
    ("GET", "/api/v1/fhir/Patient/{person_id}"): (EA, "upstream"),
    ("GET", "/api/v1/fhir/Patient/{person_id}/$everything"): (EA, "upstream"),
    ("GET", "/api/v1/fhir/export"): (EA, "none"),
    ("POST", "/api/v1/labs/{lab_id}/results/fhir"): (LA, "lab"),
    ("GET", "/api/v1/policies"): (A, "none"),
    ("GET", "/api/v1/policies/active"): (ALL, "none"),
    ("GET", "/api/v1/public/safe-enterprises"): (PUBLIC, "public"),
    ("GET", "/api/v1/public/safe-enterprises.geojson"): (PUBLIC, "public"),
    ("POST", "/api/v1/cases"): (A, "none"),
    ("GET", "/api/v1/cases"): (A, "none"),
    ("GET", "/api/v1/cases/{case_id}"): (A, "upstream"),
    ("GET", "/api/v1/cases/{case_id}/contacts"): (A, "upstream"),
    ("POST", "/api/v1/cases/{case_id}/contacts"): (A, "upstream"),
    ("POST", "/api/v1/cases/{case_id}/trace"): (A, "upstream"),
    ("POST", "/api/v1/cases/{case_id}/close"): (A, "upstream"),
    ("GET", "/api/v1/districts/{district}/outbreak"): (A, "upstream"),
    ("POST", "/api/v1/isolation/facilities"): (A, "none"),
    ("GET", "/api/v1/isolation/facilities"): (A, "none"),
    ("GET", "/api/v1/isolation/facilities/{facility_id}"): (A, "upstream"),
    ("POST", "/api/v1/isolation/facilities/{facility_id}/assignments"): (A, "upstream"),
    ("DELETE", "/api/v1/isolation/facilities/{facility_id}/assignments/{person_id}"): (A, "upstream"),
    ("POST", "/api/v1/isolation/facilities/{facility_id}/suggest"): (A, "upstream"),
}

# People with a positive rapid test, each made a case by one allowed POST /cases (confirmed; a
# positive is one case).
_POSITIVES: list[str] = []

ROLES = ("province", "district", "enterprise", "lab", "worker")
_PRINCIPAL_ROLE = {"province": "authority", "district": "authority"}


def test_every_route_has_a_row_and_declares_what_its_row_says(gateway_app: FastAPI) -> None:
    app = gateway_app
    seen: dict[tuple[str, str], tuple[frozenset[str], str]] = {}
    for info in api_routes(app):
        if info.method == "HEAD":
            continue
        if info.access is None:
            seen[(info.method, info.path)] = (PUBLIC, "public")
        else:
            seen[(info.method, info.path)] = (info.access.roles, str(info.access.scope))
    missing = sorted(set(seen) - set(MATRIX))
    assert not missing, f"routes without a row in MATRIX: {missing}"
    stale = sorted(set(MATRIX) - set(seen))
    assert not stale, f"rows without a route: {stale}"
    differs = {key: (seen[key], MATRIX[key]) for key in MATRIX if seen[key] != MATRIX[key]}
    assert not differs, f"declared (roles, scope) differ from the matrix: {differs}"


class Recorder(httpx.AsyncBaseTransport):
    """Passes each request to the real app and remembers what reached it."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = asgi(app)
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await self.inner.handle_async_request(request)


@dataclass
class Matrixed:
    stack: Stack
    recorders: list[Recorder]
    verifier: InternalTokenVerifier

    def reached(self) -> list[httpx.Request]:
        return [r for rec in self.recorders for r in rec.seen if r.url.path != "/v1/policies/active"]

    def clear(self) -> None:
        for rec in self.recorders:
            rec.seen.clear()


_BUILT: dict[Hashable, tuple[FastAPI, tuple[Recorder, Recorder]]] = {}


@pytest.fixture
async def matrixed(
    registry_app: FastAPI,
    scheduler_app: FastAPI,
    gateway_settings: GatewaySettings,
    minter: InternalTokenMinter,
    keys_dir: Path,
) -> AsyncIterator[Matrixed]:
    # Built once per process (tests.support.apps explains why), with its recording transports.
    key = (apps.settings_key(gateway_settings), id(registry_app), id(scheduler_app))
    if key not in _BUILT:
        recorders = Recorder(registry_app), Recorder(scheduler_app)
        app = create_app(
            gateway_settings, configure_logs=False, registry_transport=recorders[0], scheduler_transport=recorders[1]
        )
        _BUILT[key] = app, recorders
    app, (registry, scheduler) = _BUILT[key]
    registry.seen.clear()
    scheduler.seen.clear()
    async with (
        registry_app.router.lifespan_context(registry_app),
        scheduler_app.router.lifespan_context(scheduler_app),
        running(app) as http,
        httpx.AsyncClient(transport=asgi(registry_app), base_url="http://registry") as reg,
    ):
        verifier = InternalTokenVerifier((keys_dir / "internal_ed25519.pub.pem").read_bytes())
        yield Matrixed(Stack(app=app, http=http, registry=As(reg, minter)), [registry, scheduler], verifier)


@dataclass
class World:
    ids: dict[str, dict[str, str]]  # tenant ("own"/"other") -> path parameter -> value
    lab_ids: tuple[str, str]
    tokens: dict[str, str]
    callers: dict[str, Caller]


async def build_world(m: Matrixed) -> World:
    stack = m.stack
    assert stack.registry is not None
    a = await enterprise(stack, DISTRICT_A, people=4)
    b = await enterprise(stack, DISTRICT_B, people=2)
    lab1, lab2 = await lab(stack), await lab(stack)
    province = stack.province()
    # Individual positive PCRs make the world's cases (their F0s: people[1]) as the lab posts
    # them; positive rapid tests, the people the allowed POST /cases calls make cases of (tenant
    # a's people[2:], confirmed by the authority).
    positives = [(pid, "PCR") for pid in (a.people[1], b.people[1])] + [(pid, "RAPID_ANTIGEN") for pid in a.people[2:]]
    items = [{"sample_id": f"S-{uuid.uuid4().hex[:10]}", "person_id": pid, "kind": kind, "collected_at": WHEN,
              "resulted_at": WHEN, "result": "POSITIVE"} for pid, kind in positives]  # fmt: skip
    posted = await stack.http.post(f"/api/v1/labs/{lab1}/results", json={"items": items}, headers=province)
    assert posted.status_code == 200, posted.text
    _POSITIVES[:] = a.people[2:]
    ids: dict[str, dict[str, str]] = {"own": {}, "other": {}}
    for tenant, key in ((a, "own"), (b, "other")):
        eid, pid = tenant.enterprise_id, tenant.people[0]
        venue = await stack.http.post(
            f"/api/v1/enterprises/{eid}/venues", json={"name": "Cổng", "kind": "gate"}, headers=province
        )
        site = await stack.http.post(
            "/api/v1/accommodations",
            json={"name": "Nhà trọ", "address": "Thôn Đông", "district": tenant.district, "enterprise_id": eid},
            headers=province,
        )
        # Two devices: one the revoke rows revoke, one the worker's token keeps using.
        device, worker_device = new_device_id(), new_device_id()
        worker = Caller(subject=f"device:{device}", role="worker", person_id=pid, enterprise_id=eid)
        for d in (device, worker_device):
            synced = await stack.registry(worker).post(
                "/v1/installations/sync",
                json={"device_id": d, "app_id": "vn.gov.bluezone", "app_version": "4.2.1", "platform": "android"},
            )
            assert synced.status_code in (200, 201), synced.text
        trip = {"left_at": "2021-09-10T17:00:00+07:00", "destination_province": "Hà Nội"}
        travel = await stack.registry(worker).post(f"/v1/persons/{pid}/travels", json=trip)
        client_id, _ = await stack.new_client(
            "enterprise", enterprise_id=uuid.UUID(eid), owner_district=tenant.district
        )
        cases = await stack.http.get("/api/v1/cases", params={"district": tenant.district}, headers=province)
        (case_id,) = [c["id"] for c in cases.json()["items"] if c["person_id"] == tenant.people[1]]
        facility = await stack.http.post(
            "/api/v1/isolation/facilities",
            json={"name": "KTX", "address": "x", "district": tenant.district, "rooms": [{"code": "A1", "capacity": 9}]},
            headers=province,
        )
        for r in (venue, site, synced, travel, cases, facility):
            assert r.status_code in (200, 201), r.text
        ids[key] = {
            "enterprise_id": eid,
            "person_id": pid,
            "venue_id": venue.json()["id"],
            "accommodation_id": site.json()["id"],
            "device_id": device,
            "worker_device": worker_device,
            "travel_id": str(travel.json()["id"]),
            "client_id": client_id,
            "lab_id": lab1 if key == "own" else lab2,
            "code": "AZD1222",
            "qr_code": venue.json()["qr_code"],
            "district": tenant.district,
            "national_id": tenant.national_ids[0],
            "case_id": case_id,
            "facility_id": facility.json()["id"],
            "room_id": facility.json()["rooms"][0]["id"],
        }
    product = {"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 56}
    assert (await stack.http.post("/api/v1/vaccine-products", json=product, headers=province)).status_code == 201
    own = ids["own"]
    claims: dict[str, dict[str, str]] = {
        "province": {},
        "district": {"district": DISTRICT_A},
        "enterprise": {"enterprise_id": own["enterprise_id"]},
        "lab": {"lab_id": lab1},
        "worker": {
            "person_id": own["person_id"],
            "enterprise_id": own["enterprise_id"],
            "device_id": own["worker_device"],
        },
    }
    tokens = {role: stack.token(_PRINCIPAL_ROLE.get(role, role), **c) for role, c in claims.items()}
    # The own worker is cleared to work (a negative PCR an hour ago) and holds a gate pass, so the
    # pass rows' allowed calls are 2xx and the revocation hooks have a live pass to re-check.
    now = datetime.now(UTC)
    negative = {"sample_id": f"S-{uuid.uuid4().hex[:10]}", "person_id": own["person_id"], "kind": "PCR",
                "collected_at": (now - timedelta(hours=2)).isoformat(),
                "resulted_at": (now - timedelta(hours=1)).isoformat(), "result": "NEGATIVE"}  # fmt: skip
    posted = await stack.http.post(
        f"/api/v1/labs/{lab1}/results", json={"items": [negative]}, headers=bearer(stack.token("lab", lab_id=lab1))
    )
    assert posted.status_code in (200, 201), posted.text
    issued = await stack.http.post("/api/v1/me/pass", headers=bearer(tokens["worker"]))
    assert issued.status_code == 201, issued.text
    own["pass_id"], own["pass_token"] = issued.json()["pass_id"], issued.json()["token"]
    callers = {
        role: stack.tokens.verify(tokens[role]).caller()  # what the upstream must receive
        for role in ROLES
    }
    return World(ids=ids, lab_ids=(lab1, lab2), tokens=tokens, callers=callers)


_PARAM = re.compile(r"{(\w+)}")
WHEN = "2021-09-15T07:30:00+07:00"


def person_body(ids: dict[str, str]) -> dict[str, Any]:
    return {"national_id": national_id(), "full_name": "Trần Thị B", "date_of_birth": "1990-01-02", "sex": "female",
            "enterprise_id": ids["enterprise_id"], "employee_code": f"NV-{uuid.uuid4().hex[:6]}"}  # fmt: skip


# Valid bodies, so that what decides the answer is who asks, not a validation error.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/clients"): lambda ids: {"name": "x", "role": "enterprise", "enterprise_id": ids["enterprise_id"]},
    ("POST", "/api/v1/enterprises/{enterprise_id}/activation-codes"): lambda ids: {"person_ids": [ids["person_id"]]},
    ("POST", "/api/v1/enterprises/{enterprise_id}/app/sync"): lambda ids: {"device_id": new_device_id(), **app_info()},
    ("POST", "/api/v1/me/sync"): lambda ids: app_info(),
    ("POST", "/api/v1/me/declarations"): lambda ids: {"declared_at": WHEN, "symptoms": []},
    ("POST", "/api/v1/me/travels"): lambda ids: {"left_at": WHEN, "destination_province": "Bắc Ninh"},
    ("PATCH", "/api/v1/me/travels/{travel_id}"): lambda ids: {"returned_at": WHEN},
    ("POST", "/api/v1/me/checkins"): lambda ids: {"qr_code": ids["qr_code"], "checked_in_at": WHEN},
    ("POST", "/api/v1/labs/{lab_id}/results"): lambda ids: {
        "items": [
            {
                "sample_id": f"S-{uuid.uuid4().hex[:10]}",
                "person_id": ids["person_id"],
                "kind": "RAPID_ANTIGEN",
                "collected_at": WHEN,
                "resulted_at": WHEN,
                "result": "NEGATIVE",
            }
        ]
    },
    ("PATCH", "/api/v1/labs/{lab_id}"): lambda ids: {"active": True},
    ("POST", "/api/v1/labs"): lambda ids: {"name": "Lab", "licence_code": f"BG-{uuid.uuid4().hex[:8]}"},
    ("PATCH", "/api/v1/enterprises/{enterprise_id}"): lambda ids: {"headcount": 5},
    ("POST", "/api/v1/enterprises/{enterprise_id}/status"): lambda ids: {"status": "cleared"},
    ("PUT", "/api/v1/enterprises/{enterprise_id}/roster"): lambda ids: {"items": [person_body(ids)]},
    ("POST", "/api/v1/enterprises/{enterprise_id}/venues"): lambda ids: {"name": "Nhà ăn", "kind": "canteen"},
    ("PATCH", "/api/v1/venues/{venue_id}"): lambda ids: {"active": True},
    ("POST", "/api/v1/accommodations"): lambda ids: {
        "name": "KTX",
        "address": "Số 2",
        "district": ids["district"],
        "enterprise_id": ids["enterprise_id"],
    },
    ("PATCH", "/api/v1/accommodations/{accommodation_id}"): lambda ids: {"owner_name": "Lê Văn C"},
    ("POST", "/api/v1/accommodations/{accommodation_id}/managers"): lambda ids: {
        "person_id": ids["person_id"],
        "role": "manager",
    },
    ("POST", "/api/v1/districts/{district}/ratios"): lambda ids: {
        "kind": "boarding_house",
        "ratio": 0.2,
        "effective_from": "2021-09-20",
    },
    ("POST", "/api/v1/persons"): person_body,
    ("PATCH", "/api/v1/persons/{person_id}"): lambda ids: {"phone": "0912345678"},
    ("POST", "/api/v1/persons/{person_id}/doses"): lambda ids: {
        "dose_number": 1,
        "product_code": "AZD1222",
        "administered_at": WHEN,
    },
    ("POST", "/api/v1/persons/lookup"): lambda ids: {"national_id": ids["national_id"]},
    ("POST", "/api/v1/enterprises"): lambda ids: {
        "tax_code": tax_code(),
        "name": "Công ty C",
        "district": ids["district"],
        "zone_type": "OUTSIDE",
    },
    ("POST", "/api/v1/vaccine-products"): lambda ids: {
        "code": f"V{uuid.uuid4().hex[:6].upper()}",
        "name": "Vero",
        "min_interval_days": 21,
    },
    ("PATCH", "/api/v1/vaccine-products/{code}"): lambda ids: {"min_interval_days": 56},
    ("POST", "/api/v1/vaccines/plan"): lambda ids: {"daily_capacity": 500, "as_of": WHEN},
    ("POST", "/api/v1/vaccines/plan/export"): lambda ids: {"daily_capacity": 500, "as_of": WHEN},
    ("POST", "/api/v1/labs/{lab_id}/results/fhir"): lambda ids: {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "identifier": [{"value": f"F-{uuid.uuid4().hex[:10]}"}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": "94558-4"}]},
                    "subject": {"reference": f"Patient/{ids['person_id']}"},
                    "effectiveDateTime": WHEN,
                    "issued": WHEN,
                    "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "260415000"}]},
                }
            }
        ],
    },
    ("POST", "/api/v1/cases"): lambda ids: {
        "person_id": _POSITIVES.pop(0) if _POSITIVES else ids["person_id"],
        "confirmed": True,
    },
    ("POST", "/api/v1/cases/{case_id}/contacts"): lambda ids: {"person_ids": [ids["person_id"]]},
    ("POST", "/api/v1/cases/{case_id}/close"): lambda ids: {},
    ("POST", "/api/v1/isolation/facilities"): lambda ids: {
        "name": "KTX",
        "address": "Bích Sơn",
        "district": ids["district"],
        "rooms": [{"code": "A1", "capacity": 4}],
    },
    ("POST", "/api/v1/isolation/facilities/{facility_id}/assignments"): lambda ids: {
        "room_id": ids["room_id"],
        "person_id": ids["person_id"],
    },
    ("POST", "/api/v1/isolation/facilities/{facility_id}/suggest"): lambda ids: {"person_ids": [ids["person_id"]]},
    ("POST", "/api/v1/passes/verify"): lambda ids: {"token": ids["pass_token"]},
}


def expected(roles: frozenset[str], scope: str, role: str, tenant: str) -> str:
    """``forbidden`` (403 by the gateway), ``hidden`` (404) or ``allowed``."""
    if _PRINCIPAL_ROLE.get(role, role) not in roles:
        return "forbidden"
    if scope == "province" and role == "district":
        return "forbidden"
    if tenant == "own" or role == "province":
        return "allowed"
    if scope == "lab" and role == "district":
        return "allowed"  # labs are province-wide; a district authority reads any lab
    return "hidden"


def answer_matches(outcome: str, status: int, code: str | None) -> bool:
    """``forbidden``: 403 ``role_not_allowed``/``province_only``; ``hidden``: 404; ``allowed``:
    2xx and nothing else (a 409, a 422 or a 500 is not "allowed", it is a failed call)."""
    if outcome == "forbidden":
        return status == 403 and code in ("role_not_allowed", "province_only")
    if outcome == "hidden":
        return status == 404
    return 200 <= status < 300


@pytest.mark.parametrize(
    ("outcome", "status", "code", "matches"),
    [
        ("allowed", 200, None, True),
        ("allowed", 201, None, True),
        ("allowed", 500, "internal_error", False),
        ("allowed", 503, "upstream_unavailable", False),
        ("allowed", 422, "validation_error", False),
        ("allowed", 409, "travel_open_exists", False),
        ("hidden", 404, "person_not_found", True),
        ("hidden", 403, "district_out_of_scope", False),
        ("hidden", 200, None, False),
        ("forbidden", 403, "role_not_allowed", True),
        ("forbidden", 403, "scope_missing", False),
        ("forbidden", 404, "not_found", False),
    ],
)
def test_allowed_means_2xx(outcome: str, status: int, code: str | None, matches: bool) -> None:
    """Session 3: "allowed" used to mean "not 401/403/404", so a route answering 500 to every
    allowed caller passed the matrix."""
    assert answer_matches(outcome, status, code) is matches


def tenants_for(path: str, scope: str) -> tuple[str, ...]:
    params = set(_PARAM.findall(path)) - {"code"}
    if scope == "self" or not params:
        return ("own",)
    return ("own", "other")


def _run_last(row: tuple[tuple[str, str], Any]) -> bool:
    """A worker has at most one open trip: the world's trip is closed by the PATCH row before
    the POST row opens a new one (``sorted`` is stable: every other row keeps its place)."""
    return row[0] == ("POST", "/api/v1/me/travels")


async def test_authorization_matrix(matrixed: Matrixed) -> None:
    world = await build_world(matrixed)
    failures: list[str] = []
    calls = 0
    for (method, path), (roles, scope) in sorted(MATRIX.items(), key=_run_last):
        if scope == "public":
            continue
        for role in ROLES:
            for tenant in tenants_for(path, scope):
                url = _PARAM.sub(lambda m, t=tenant: world.ids[t][m.group(1)], path)  # type: ignore[misc]
                kw: dict[str, Any] = {"headers": bearer(world.tokens[role])}
                body = BODIES.get((method, path))
                if body is not None:
                    kw["json"] = body(world.ids[tenant])
                matrixed.clear()
                r = await matrixed.stack.http.request(method, url, **kw)
                calls += 1
                outcome = expected(roles, scope, role, tenant)
                label = f"{method} {path} as {role} ({tenant}) expected {outcome}, got {r.status_code}: {r.text[:160]}"
                reached = matrixed.reached()
                code = r.json()["error"]["code"] if r.status_code >= 400 else None
                if not answer_matches(outcome, r.status_code, code):
                    failures.append(label)
                elif outcome == "forbidden" and reached:
                    failures.append(label + " (but it reached an upstream)")
                for request in reached:
                    if "authorization" in request.headers:
                        failures.append(label + " (the public token was forwarded)")
                    caller = matrixed.verifier.verify(request.headers[INTERNAL_HEADER])
                    own_pass_check = (PASSES_SUBJECT, "enterprise", world.ids["own"]["enterprise_id"])
                    if outcome == "allowed" and (caller.subject, caller.role, caller.enterprise_id) == own_pass_check:
                        continue  # the gateway re-checking the live pass after a write, as its enterprise
                    if outcome == "allowed" and (request.method, request.url.path, caller.role) == (
                        "GET",
                        "/v1/events",
                        "system",
                    ):
                        continue  # the gateway reading the registry's revoking facts (passes/facts.py)
                    if caller != world.callers[role]:
                        failures.append(label + f" (upstream saw {caller})")
    assert calls > 300
    assert not failures, "\n".join(failures)


async def test_request_id_and_idempotency_key_reach_the_upstream_not_the_public_token(matrixed: Matrixed) -> None:
    """Request IDs end to end; a lab's Idempotency-Key is passed on; only the internal token
    carries the caller."""
    stack = matrixed.stack
    lab_id = await lab(stack)
    token = stack.token("lab", lab_id=lab_id)
    matrixed.clear()
    r = await stack.http.post(
        f"/api/v1/labs/{lab_id}/results",
        json={"items": []},
        headers={**bearer(token), "X-Request-ID": "lab-batch-0042", "Idempotency-Key": "batch-0042"},
    )
    assert r.headers["x-request-id"] == "lab-batch-0042"
    (sent,) = matrixed.reached()
    assert sent.headers["x-request-id"] == "lab-batch-0042"
    assert sent.headers["idempotency-key"] == "batch-0042"
    assert "authorization" not in sent.headers
    caller = matrixed.verifier.verify(sent.headers[INTERNAL_HEADER])
    assert (caller.role, caller.lab_id) == ("lab", lab_id)
