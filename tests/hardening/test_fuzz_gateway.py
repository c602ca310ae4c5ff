"""Schemathesis against the gateway's OpenAPI, in-process, on the real database (issue
"Hardening", item 1).

The schema is the one the running gateway serves. Every operation is fuzzed in three phases: its
declared examples, positive data (valid by the schema) and negative data (invalid by the schema).
Each case is sent through the gateway to the real registry and scheduler with a real token of a
role the route allows (drawn per case), with path parameters naming seeded objects of tenant A
(negative cases also get generated ones). Checks, each named after the rule it proves:

* ``not_a_server_error``: no answer is 5xx;
* ``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance``,
  ``response_schema_conformance``: every answer is one the OpenAPI document declares, in the shape
  it declares; a forwarded answer is also checked against the upstream's own response schema
  (the contract the gateway relays);
* ``negative_data_rejection``: a request the schema calls invalid is refused with a 4xx. Two
  documented exceptions: a batch (roster, lab results) answers 200 with the invalid items
  rejected, and JSON types pydantic's lax mode converts (``1`` for ``true``, ``2.0`` for ``2``,
  epoch seconds for an instant) are accepted as the value they stand for;
* auth is never ignored: the same request without a token and with a garbage token is 401, with
  a token of a role the route does not allow is 403, and (for routes naming an object) with a
  token of the same role from another tenant is 404 or 403 -- never 2xx.

Besides, every forwarded route's OpenAPI entry is checked against its upstream's (request body,
Idempotency-Key, success statuses), so the document the fuzzer trusts is the contract served.

Examples per operation and phase: ``SAFEWORK_FUZZ_EXAMPLES`` (default 5, derandomized so CI is
repeatable). Setting it runs a larger, randomized search: ``SAFEWORK_FUZZ_EXAMPLES=150 pytest
tests/hardening/test_fuzz_gateway.py`` (about 6 minutes on 2 cores).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from safework_common.internal_auth import InternalTokenMinter
from safework_gateway.app import api_router, create_app
from safework_gateway.auth.access import Access, api_routes
from safework_gateway.forwarding.routes import FORWARDS, Forward
from tests.callers import As
from tests.conftest import running
from tests.gateway.conftest import Stack, bearer, gateway_settings_for
from tests.gateway.world import DISTRICT_A, DISTRICT_B, app_info, enterprise, lab, new_device_id, ok
from tests.support import database
from tests.support.apps import asgi

T = TypeVar("T")
Case = schemathesis.Case[Any]
Operation = APIOperation[Any, Any, Any, Any]

_ENV_EXAMPLES = os.environ.get("SAFEWORK_FUZZ_EXAMPLES")
EXAMPLES = int(_ENV_EXAMPLES) if _ENV_EXAMPLES else 5
BASE_URL = "http://test"
ROLES = ("worker", "lab", "enterprise", "authority")
# A JWT that is not ours: unsigned (alg none), unknown key, no claims the gateway asks for.
GARBAGE_TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6In0.bm90LWEtc2lnbmF0dXJl"
PUBLIC_OPERATIONS = (
    "GET /healthz",
    "GET /readyz",
    "GET /.well-known/jwks.json",
    "GET /health-cards/.well-known/jwks.json",
)
# The fuzzer sets the Authorization header itself (a valid token, then the wrong ones): the
# schema's security schemes are not generated as parameters.
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
# Batches answer 200 with a per-item outcome; an invalid item is rejected, not the batch.
BATCHES = frozenset({"PUT /api/v1/enterprises/{enterprise_id}/roster", "POST /api/v1/labs/{lab_id}/results"})


def _operations() -> list[str]:
    """Every operation of the public API, read from the gateway's route table."""
    app = FastAPI()
    app.include_router(api_router())
    return [*PUBLIC_OPERATIONS, *(f"{info.method} {info.path}" for info in api_routes(app))]


OPERATIONS = _operations()
FORWARDED: dict[str, Forward] = {f"{spec.method} /api/v1{spec.path}": spec for spec in FORWARDS}


# --- the world the cases run in --------------------------------------------------------------


@dataclass
class World:
    """The stack and tenants A and B: a token per role and tenant, and tenant A's seeded objects
    to name in paths (none of them the token holders' own client or device, so fuzzing a revoke or
    a disable cannot lock the fuzzer out)."""

    stack: Stack
    schema: OpenApiSchema
    raw_schema: dict[str, Any]
    upstream_schemas: dict[str, OpenApiSchema]
    raw_upstream: dict[str, dict[str, Any]]
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = None
    # How to get each token again (client credentials, or a worker's refresh token), and when.
    renew: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    issued_at: float = 0.0

    def headers(self, role: str, tenant: str = "A") -> dict[str, str]:
        return bearer(self.tokens[(role, tenant)])

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the test's event loop, from the thread Hypothesis runs in."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)


async def _client_token(world: World, key: tuple[str, str], **scope: Any) -> None:
    client_id, secret = await world.stack.new_client(key[0], **scope)
    world.renew[key] = (client_id, secret)
    world.tokens[key] = str((await ok(await world.stack.grant(client_id, secret)))["access_token"])


async def _fresh_tokens(world: World) -> None:
    """Tokens last an hour (clients) or a day (devices); a long run gets new ones on the way."""
    if time.monotonic() - world.issued_at < 45 * 60:
        return
    for key, (first, second) in world.renew.items():
        if key[0] == "worker":
            body = await ok(await world.stack.http.post("/api/v1/app/refresh", json={"refresh_token": second}))
            world.renew[key] = (first, str(body["refresh_token"]))
        else:
            body = await ok(await world.stack.grant(first, second))
        world.tokens[key] = str(body["access_token"])
    world.issued_at = time.monotonic()


async def _device(stack: Stack, enterprise_id: str, token: str, person_id: str) -> dict[str, Any]:
    """A worker's device activated the way the app does it: code from the enterprise, then activate."""
    issued = await ok(
        await stack.http.post(
            f"/api/v1/enterprises/{enterprise_id}/activation-codes",
            json={"person_ids": [person_id]},
            headers=bearer(token),
        ),
        201,
    )
    device_id = new_device_id()
    body = {"code": issued["items"][0]["code"], "device_id": device_id, **app_info()}
    tokens: dict[str, Any] = await ok(await stack.http.post("/api/v1/app/activate", json=body))
    return tokens


async def _seed(world: World) -> None:
    stack = world.stack
    tenant_a = await enterprise(stack, DISTRICT_A, people=3)
    tenant_b = await enterprise(stack, DISTRICT_B, people=1)
    lab_a, lab_b = await lab(stack), await lab(stack)
    await _client_token(world, ("authority", "A"))
    await _client_token(world, ("authority", "B"), district=DISTRICT_B)
    await _client_token(world, ("enterprise", "A"), enterprise_id=tenant_a.enterprise_id)
    await _client_token(world, ("enterprise", "B"), enterprise_id=tenant_b.enterprise_id)
    await _client_token(world, ("lab", "A"), lab_id=lab_a)
    await _client_token(world, ("lab", "B"), lab_id=lab_b)
    t = world.tokens
    for key, tenant in ((("worker", "A"), tenant_a), (("worker", "B"), tenant_b)):
        device = await _device(stack, tenant.enterprise_id, t["enterprise", key[1]], tenant.people[0])
        t[key] = str(device["access_token"])
        world.renew[key] = (str(device["device_id"]), str(device["refresh_token"]))
    world.issued_at = time.monotonic()
    spare_device = await _device(stack, tenant_a.enterprise_id, t["enterprise", "A"], tenant_a.people[2])
    a = world.headers("enterprise", "A")
    spare_client, _ = await stack.new_client(
        "enterprise", enterprise_id=tenant_a.enterprise_id, owner_district=DISTRICT_A
    )

    venue = await ok(
        await stack.http.post(
            f"/api/v1/enterprises/{tenant_a.enterprise_id}/venues", json={"name": "Cổng 1", "kind": "gate"}, headers=a
        ),
        201,
    )
    home = {"name": "Nhà trọ Hương Sen", "address": "Thôn Đông, Vân Trung", "district": DISTRICT_A}
    accommodation = await ok(await stack.http.post("/api/v1/accommodations", json=home, headers=a), 201)
    product = {"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 28, "doses_in_primary_series": 2}
    await ok(await stack.http.post("/api/v1/vaccine-products", json=product, headers=world.headers("authority")), 201)
    trip = {"left_at": "2021-09-10T17:00:00+07:00", "destination_province": "Hà Nội"}
    travel = await ok(await stack.http.post("/api/v1/me/travels", json=trip, headers=world.headers("worker")), 201)
    result = {
        "type": "single",
        "sample_id": "FUZZ-0001",
        "person_id": tenant_a.people[1],
        "kind": "PCR",
        "collected_at": "2021-09-15T07:30:00+07:00",
        "resulted_at": "2021-09-15T15:00:00+07:00",
        "result": "NEGATIVE",
    }
    await ok(
        await stack.http.post(f"/api/v1/labs/{lab_a}/results", json={"items": [result]}, headers=world.headers("lab"))
    )
    positive = {**result, "sample_id": "FUZZ-F0", "person_id": tenant_a.people[2], "result": "POSITIVE"}
    await ok(
        await stack.http.post(f"/api/v1/labs/{lab_a}/results", json={"items": [positive]}, headers=world.headers("lab"))
    )
    # The individual positive PCR made the person a case as the lab posted it.
    listed = await ok(
        await stack.http.get("/api/v1/cases", params={"district": DISTRICT_A}, headers=world.headers("authority"))
    )
    (case,) = [c for c in listed["items"] if c["person_id"] == tenant_a.people[2]]
    facility = await ok(
        await stack.http.post(
            "/api/v1/isolation/facilities",
            json={
                "name": "KTX",
                "address": "Bích Sơn",
                "district": DISTRICT_A,
                "rooms": [{"code": "A1", "capacity": 4}],
            },
            headers=world.headers("authority"),
        ),
        201,
    )
    # Worker A is cleared to work (a negative PCR an hour ago) and holds a gate pass to name.
    now = datetime.now(UTC)
    negative = {**result, "sample_id": f"FUZZ-{uuid.uuid4().hex[:8]}", "person_id": tenant_a.people[0],
                "collected_at": (now - timedelta(hours=2)).isoformat(),
                "resulted_at": (now - timedelta(hours=1)).isoformat()}  # fmt: skip
    await ok(
        await stack.http.post(f"/api/v1/labs/{lab_a}/results", json={"items": [negative]}, headers=world.headers("lab"))
    )
    issued = await ok(await stack.http.post("/api/v1/me/pass", headers=world.headers("worker")), 201)
    world.paths.update(
        case_id=str(case["id"]),
        facility_id=str(facility["id"]),
        pass_id=str(issued["pass_id"]),
        enterprise_id=tenant_a.enterprise_id,
        lab_id=lab_a,
        person_id=tenant_a.people[1],
        venue_id=str(venue["id"]),
        accommodation_id=str(accommodation["id"]),
        code="AZD1222",
        travel_id=str(travel["id"]),
        client_id=spare_client,
        device_id=str(spare_device["device_id"]),
        district=DISTRICT_A,
    )


@pytest.fixture(scope="module")
async def world(
    database_url: str, keys_dir: Path, common_settings: dict[str, Any], minter: InternalTokenMinter
) -> AsyncIterator[World]:
    """One stack and one seeded world for the whole module (seeding per operation would cost
    more than the fuzzing); the tables are emptied after it."""
    from safework_registry.app import create_app as create_registry
    from safework_registry.settings import RegistrySettings
    from safework_scheduler.app import create_app as create_scheduler
    from safework_scheduler.settings import SchedulerSettings

    registry_app = create_registry(
        RegistrySettings(
            database_url=database_url, national_id_key_file=keys_dir / "national_id_hmac.key", **common_settings
        ),
        configure_logs=False,
    )
    scheduler_app = create_scheduler(
        SchedulerSettings(database_url=database_url, **common_settings), configure_logs=False
    )
    settings_ = gateway_settings_for(
        database_url,
        keys_dir,
        rate_limit_burst=10_000_000,
        client_token_ttl_seconds=3600,
        device_token_ttl_seconds=24 * 3600,
    )
    try:
        async with (
            registry_app.router.lifespan_context(registry_app),
            scheduler_app.router.lifespan_context(scheduler_app),
        ):
            app = create_app(
                settings_,
                configure_logs=False,
                registry_transport=asgi(registry_app),
                scheduler_transport=asgi(scheduler_app),
            )
            async with (
                running(app, BASE_URL) as http,
                httpx.AsyncClient(transport=asgi(registry_app), base_url="http://registry") as reg,
                httpx.AsyncClient(transport=asgi(scheduler_app), base_url="http://scheduler") as sch,
            ):
                stack = Stack(app=app, http=http, registry=As(reg, minter), scheduler=As(sch, minter))
                world = World(
                    stack=stack,
                    schema=schemathesis.openapi.from_dict(app.openapi(), config=CONFIG),
                    raw_schema=app.openapi(),
                    upstream_schemas={
                        "registry": schemathesis.openapi.from_dict(registry_app.openapi(), config=CONFIG),
                        "scheduler": schemathesis.openapi.from_dict(scheduler_app.openapi(), config=CONFIG),
                    },
                    raw_upstream={"registry": registry_app.openapi(), "scheduler": scheduler_app.openapi()},
                )
                await _seed(world)
                yield world
    finally:
        await database.truncate_all(database_url)


# --- one case: send it, check it, and replay it with the wrong credentials ------------------


def _request_kwargs(case: Case, headers: dict[str, str]) -> dict[str, Any]:
    """The case as httpx arguments (schemathesis serializes it the way requests would send it)."""
    kw = case.as_transport_kwargs(base_url=BASE_URL)
    sent = {k: str(v) for k, v in (kw.get("headers") or {}).items() if k.lower() != "authorization"}
    out: dict[str, Any] = {
        "method": kw["method"],
        "url": kw["url"],
        "params": kw.get("params") or None,
        "headers": {**sent, **headers},
    }
    if "json" in kw:
        out["content"] = json.dumps(kw["json"]).encode()
    elif isinstance(kw.get("data"), dict):
        out["data"] = kw["data"]
    elif kw.get("data") is not None:
        data = kw["data"]
        out["content"] = data.encode() if isinstance(data, str) else data
    return out


def _send(world: World, kw: dict[str, Any]) -> httpx.Response:
    return world.run(world.stack.http.request(**kw))


def _access(world: World, label: str) -> Access | None:
    for info in api_routes(world.stack.app):
        if f"{info.method} {info.path}" == label:
            return info.access
    return None


# Whose objects a path names, by role: another tenant of that role must not reach them. Labs
# are province-wide reference data for every authority (docs/ARCHITECTURE.md), so a district
# authority naming a lab is not another tenant.
_TENANT_SCOPES = {
    "authority": frozenset({"enterprise", "upstream", "district"}),
    "enterprise": frozenset({"enterprise", "upstream"}),
    "lab": frozenset({"lab"}),
    "worker": frozenset({"self"}),
}
_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _check_upstream_contract(world: World, label: str, response: httpx.Response) -> None:
    """A forwarded 2xx answer matches the upstream's declared response schema."""
    spec = FORWARDED.get(label)
    if spec is None or not 200 <= response.status_code < 300:
        return
    upstream = world.upstream_schemas[spec.upstream]
    upstream.validate_response(upstream[spec.target][spec.method], schemathesis.Response.from_any(response))


def _check_batch_refused_items(label: str, response: httpx.Response) -> None:
    """An invalid batch is refused whole (4xx) or answered with the invalid items rejected."""
    if label in BATCHES and response.status_code == 200:
        counts = response.json()["counts"]
        assert counts["rejected"] >= 1, f"{label} accepted an invalid item: {response.text[:500]}"


def _auth_is_never_ignored(
    world: World,
    label: str,
    access: Access,
    kw: dict[str, Any],
    role: str,
    wrong_role: str | None,
    primary: httpx.Response,
) -> None:
    """The same request with the wrong credentials is refused: 401 without a token or with a
    garbage one, 403 with a role the route does not allow, 404 (or 403) with the same role from
    another tenant when the path names one of tenant A's objects; never 2xx. (A body that cannot
    be parsed is refused with 400 before the token is looked at, on the routes whose body the
    gateway parses itself: the expected statuses apply once the request is well-formed.)"""

    def status(headers: dict[str, str]) -> int:
        sent = {k: v for k, v in kw["headers"].items() if k.lower() != "authorization"}
        return _send(world, {**kw, "headers": {**sent, **headers}}).status_code

    malformed = primary.status_code == 400
    variants: list[tuple[str, dict[str, str], tuple[int, ...]]] = [
        ("no token", {}, (401,)),
        ("a garbage token", bearer(GARBAGE_TOKEN), (401,)),
    ]
    if wrong_role is not None:
        variants.append((f"a {wrong_role} token", world.headers(wrong_role), (403,)))
    names_object = "{" in label.removeprefix("GET ").split("/api/v1/")[-1] and (
        access.scope in _TENANT_SCOPES[role] and (access.scope != "self" or "{" in label)
    )
    if names_object:
        expected = (403, 404) if 200 <= primary.status_code < 300 else ()
        variants.append((f"another tenant's {role} token", world.headers(role, "B"), expected))
    for name, headers, wanted in variants:
        got = status(headers)
        assert not 200 <= got < 300, f"{label} with {name} answered {got}: auth ignored"
        if wanted and not malformed:
            assert got in wanted, (
                f"{label} with {name} answered {got}, expected {wanted} (with the right token: "
                f"{primary.status_code} {primary.text[:300]})"
            )


def _deref(document: dict[str, Any], schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _pointer(document: dict[str, Any], schema: Any, pointer: str) -> Any:
    """The sub-schema at a JSON pointer, following ``$ref`` on the way."""
    for part in [p for p in pointer.split("/") if p]:
        schema = _deref(document, schema)
        schema = schema[int(part)] if isinstance(schema, list) else schema.get(part, {})
    return _deref(document, schema)


def _value_at(container: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        container = container[step]
    return container


_BOOL_TEXT = frozenset({"0", "1", "t", "f", "y", "n", "on", "off", "yes", "no", "true", "false"})


def _coercible(schema: dict[str, Any], value: Any) -> bool:
    """pydantic's lax mode, JSON types only: 0/1 and yes/no words for booleans, integral numbers,
    booleans and numeric text for integers, numbers (epoch seconds) for instants and dates; and
    text the registry strips of surrounding white space before it checks the length."""
    kind = schema.get("type")
    if kind == "string" and isinstance(value, str) and value != value.strip():
        return bool(schema.get("minLength", 0) <= len(value.strip()) <= schema.get("maxLength", len(value)))
    if kind == "boolean":
        return value in (0, 1) or (isinstance(value, str) and value.strip().lower() in _BOOL_TEXT)
    if kind == "integer":
        if isinstance(value, bool | int):
            return True
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, str) and value.strip().lstrip("+-").isdigit()
    if kind == "string" and schema.get("format") in ("date", "date-time"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return False


def _lax_json_coercion(world: World, operation: Operation, case: Case) -> bool:
    """Whether the case's only faults are ones the upstream resolves on purpose: JSON types
    pydantic's lax mode converts (``true`` for ``1``, ``1.0`` for ``1``, epoch seconds for an
    instant) and white space around text, stripped before the length is checked. Those are
    accepted, not refused; every other invalid input must be refused."""
    meta = case.meta
    mutations = meta.phase.data.mutations if meta is not None else ()
    if not mutations or any(
        m.parameter_location.value != "body" or not set(m.keywords) <= {"type", "anyOf", "maxLength", "minLength"}
        for m in mutations
    ):
        return False
    method, path = operation.method.lower(), operation.path
    body_schema = world.raw_schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    for mutation in mutations:
        try:
            value = _value_at(case.body, tuple(mutation.path))
        except (KeyError, IndexError, TypeError):
            return False
        # A nullable field's mutation names its null branch: judge the field as a whole.
        pointer = re.sub(r"/anyOf/\d+$", "", mutation.schema_pointer)
        schema = _pointer(world.raw_schema, body_schema, pointer)
        branches = [_deref(world.raw_schema, b) for b in [schema, *schema.get("anyOf", [])]]
        if not any(_coercible(b, value) for b in branches if isinstance(b, dict)):
            return False
    return True


def _error_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _negatable(operation: Operation) -> bool:
    return bool(len(operation.path_parameters) or len(operation.query) or len(operation.headers) or operation.body)


def _run(world: World, label: str, mode: str) -> int:
    """Fuzz one operation in one phase; returns how many cases were sent."""
    method, path = label.split(" ", 1)
    operation: Operation = world.schema[path][method]
    access = _access(world, label)
    allowed = sorted(access.roles) if access is not None else []
    wrong = [r for r in ROLES if r not in allowed] if access is not None else []
    seeded = {p.name: world.paths[p.name] for p in operation.path_parameters}
    sent = 0

    cases: st.SearchStrategy[Case]
    if mode == "examples":
        strategies = operation.get_strategies_from_examples()
        if not strategies:
            return 0
        cases = st.one_of(strategies)
    elif mode == "positive":
        cases = operation.as_strategy(GenerationMode.POSITIVE, path_parameters=seeded or None)
    else:
        if not _negatable(operation):
            return 0  # nothing in the request can be made invalid
        negative = [operation.as_strategy(GenerationMode.NEGATIVE)]
        if seeded and (len(operation.query) or len(operation.headers) or operation.body):
            negative.append(operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=seeded))
        cases = st.one_of(negative)

    @given(
        case=cases,
        role=st.sampled_from(allowed) if allowed else st.none(),
        wrong_role=st.sampled_from(wrong) if wrong else st.none(),
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=_ENV_EXAMPLES is None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Case, role: str | None, wrong_role: str | None) -> None:
        nonlocal sent
        if mode == "examples" and seeded:
            case.path_parameters = {**(case.path_parameters or {}), **seeded}
        headers = world.headers(role) if role is not None else {}
        kw = _request_kwargs(case, headers)
        response = _send(world, kw)
        sent += 1
        case.validate_response(response, checks=_CHECKS, headers=kw["headers"])
        if mode == "negative" and label in BATCHES:
            _check_batch_refused_items(label, response)
        elif mode == "negative" and not _lax_json_coercion(world, operation, case):
            case.validate_response(response, checks=[negative_data_rejection], headers=kw["headers"])
        _check_upstream_contract(world, label, response)
        if access is not None and role is not None:
            _auth_is_never_ignored(world, label, access, kw, role, wrong_role, response)

    try:
        fuzz()
    except Unsatisfiable:
        # Every parameter is a free-form string (a client ID, say): no value breaks the schema.
        assert mode == "negative" and sent == 0
    return sent


def test_every_operation_is_fuzzed(world: World) -> None:
    """Rule: the fuzzer's operation list is the OpenAPI document's, so a new route is fuzzed too."""
    loaded = list(world.schema.get_all_operations())
    served = [r.ok() for r in loaded if isinstance(r, Ok)]
    assert len(served) == len(loaded)
    assert sorted(f"{op.method.upper()} {op.path}" for op in served) == sorted(OPERATIONS)
    assert set(world.paths) >= {p.name for op in served for p in op.path_parameters}


def _split_null(document: dict[str, Any], schema: Any) -> tuple[Any, bool]:
    """A schema without its ``null`` branch, and whether it had one."""
    schema = _deref(document, schema)
    branches = [_deref(document, b) for b in schema.get("anyOf", [])]
    rest = [b for b in branches if b.get("type") != "null"]
    if branches and len(rest) < len(branches):
        return (rest[0] if len(rest) == 1 else {"anyOf": rest}), True
    return schema, False


def _drift(gw_doc: dict[str, Any], gw: Any, up_doc: dict[str, Any], up: Any, where: str) -> list[str]:
    """Where the gateway's declared body differs from the upstream's: properties, required ones,
    nullability, unknown properties refused, JSON types; recursively."""
    gw, gw_null = _split_null(gw_doc, gw)
    up, up_null = _split_null(up_doc, up)
    out = [f"{where}: nullable {gw_null} here, {up_null} upstream"] if gw_null != up_null else []
    if "type" in gw and "type" in up and gw["type"] != up["type"]:
        out.append(f"{where}: type {gw['type']} here, {up['type']} upstream")
    if "properties" in gw or "properties" in up:
        mine, theirs = gw.get("properties", {}), up.get("properties", {})
        if set(mine) != set(theirs):
            out.append(f"{where}: properties {sorted(set(mine) ^ set(theirs))} on one side only")
        if set(gw.get("required", [])) != set(up.get("required", [])):
            out.append(f"{where}: required {sorted(gw.get('required', []))} here, {sorted(up.get('required', []))}")
        if gw.get("additionalProperties") is not False or up.get("additionalProperties") is not False:
            out.append(f"{where}: unknown properties are not refused on both sides")
        for name in sorted(set(mine) & set(theirs)):
            out += _drift(gw_doc, mine[name], up_doc, theirs[name], f"{where}.{name}")
    if "items" in gw and "items" in up:
        out += _drift(gw_doc, gw["items"], up_doc, up["items"], f"{where}[]")
    mine_of = gw.get("oneOf") or gw.get("anyOf") or []
    theirs_of = up.get("oneOf") or up.get("anyOf") or []
    if mine_of and theirs_of and len(mine_of) == len(theirs_of):
        for n, (m, t) in enumerate(zip(mine_of, theirs_of, strict=True)):
            out += _drift(gw_doc, m, up_doc, t, f"{where}<{n}>")
    return out


def test_forwarded_routes_are_declared_as_the_upstream_serves_them(world: World) -> None:
    """Rule: a forwarded route in the public OpenAPI is its upstream's contract: the request body
    it validates (same properties, required ones, nullability and types; unknown properties
    refused on both sides), Idempotency-Key where the upstream honours it (and nowhere else), and
    the success statuses and body kinds (object or array) it answers with."""
    drift = []
    for label, spec in FORWARDED.items():
        method, path = label.split(" ", 1)
        mine = world.raw_schema["paths"][path][method.lower()]
        up_doc = world.raw_upstream[spec.upstream]
        theirs = up_doc["paths"][spec.target][method.lower()]
        if spec.body is not None:
            body, up_body = (op["requestBody"]["content"]["application/json"]["schema"] for op in (mine, theirs))
            drift += _drift(world.raw_schema, body, up_doc, up_body, label)
        keyed = [any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])) for op in (mine, theirs)]
        if keyed[0] != keyed[1]:
            drift.append(f"{label}: Idempotency-Key declared {keyed[0]} here, honoured {keyed[1]} upstream")
        for kind, op, doc in (("here", mine, world.raw_schema), ("upstream", theirs, up_doc)):
            ok = {c: _deref(doc, r.get("content", {}).get("application/json", {}).get("schema", {})).get("type")
                  for c, r in op["responses"].items() if c.startswith("2")}  # fmt: skip
            if kind == "here":
                declared = ok
            elif declared != ok:
                drift.append(f"{label}: success answers {declared} here, {ok} upstream")
    assert not drift, "\n".join(drift)


async def test_a_misspelt_field_is_refused_not_dropped(world: World) -> None:
    """Rule (found by the negative phase): unknown fields are refused with 422 on every body the
    registry takes, as the public OpenAPI declares (``additionalProperties: false``). A misspelt
    ``contact_with_confirmed_cases`` used to be dropped and the contact recorded as none."""
    http, worker = world.stack.http, world.headers("worker")
    declaration = {"declared_at": "2021-09-15T06:45:00+07:00", "contact_with_confirmed_cases": True}
    r = await http.post("/api/v1/me/declarations", json=declaration, headers=worker)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.contact_with_confirmed_cases"
    product = {"code": "VERO-CELL", "name": "Sinopharm", "min_interval_days": 21, "dose_count": 2}
    r = await http.post("/api/v1/vaccine-products", json=product, headers=world.headers("authority"))
    assert r.status_code == 422 and r.json()["error"]["details"][0]["code"] == "extra_forbidden"
    checkin = {"qr_code": "SW-0000", "checked_in_at": "2021-09-15T07:02:00+07:00", "venue": "gate"}
    r = await http.post("/api/v1/me/checkins", json=checkin, headers=worker)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.venue"


@pytest.mark.parametrize("mode", ["examples", "positive", "negative"])
@pytest.mark.parametrize("label", OPERATIONS)
async def test_fuzz(world: World, label: str, mode: str) -> None:
    """Rules: no 5xx; every answer declared and in its declared shape; invalid input refused with
    a 4xx; auth never ignored (no token, garbage token, wrong role, other tenant: never 2xx)."""
    world.loop = asyncio.get_running_loop()
    await _fresh_tokens(world)
    sent = await asyncio.to_thread(_run, world, label, mode)
    assert sent > 0 or mode != "positive"
