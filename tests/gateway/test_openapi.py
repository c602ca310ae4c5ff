"""The public API describes itself: security schemes, audiences as tags, each operation's roles
and scope, request schemas for the forwarded bodies, the error envelope."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from safework_common.contract import reasons
from safework_common.contract.codes import ERROR_CODES
from tests.gateway.conftest import Stack

PUBLIC_OPERATIONS = {
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/app/activate"),
    ("post", "/api/v1/app/refresh"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/health-cards/.well-known/jwks.json"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/v1/codes"),
    ("get", "/api/v1/public/safe-enterprises"),
    ("get", "/api/v1/public/safe-enterprises.geojson"),
}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in schema["paths"].items() for m, op in item.items()]


def test_security_schemes_and_per_operation_requirements(gateway_app: FastAPI) -> None:
    schema = gateway_app.openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["clientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["deviceToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["deviceToken"]["description"],
    }
    for method, path, op in operations(schema):
        if (method, path) in PUBLIC_OPERATIONS:
            assert "security" not in op, path
            continue
        access = op["x-safework-access"]
        names = {name for requirement in op["security"] for name in requirement}
        expected = set()
        if set(access["roles"]) - {"worker"}:
            expected.add("clientCredentials")
        if "worker" in access["roles"]:
            expected.add("deviceToken")
        assert names == expected, (method, path)
        assert "**Roles:**" in op["description"]
        assert {"401", "403", "429"} <= set(op["responses"]), (method, path)


# Actions that take no body: the path (or the caller's own token) says everything. Anything else
# that is a POST, PUT or PATCH must describe its body.
BODYLESS_SUFFIXES = ("/rotate-secret", "/disable", "/revoke", "/trace")
BODYLESS_OPERATIONS = {("post", "/api/v1/me/pass")}  # issue 17: made from the caller's own verdict


UPLOADS = {("post", "/api/v1/labs/{lab_id}/results"), ("put", "/api/v1/enterprises/{enterprise_id}/roster")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Answers that are files, not JSON: QR codes (issue 17), upload templates (issue 16).
FILE_ANSWERS = ("image/", "text/csv", XLSX, "application/fhir+ndjson")


def test_tags_per_audience_and_bodies_described(gateway_app: FastAPI) -> None:
    schema = gateway_app.openapi()
    assert {t["name"] for t in schema["tags"]} >= {"auth", "worker app", "lab", "enterprise", "authority"}
    for method, path, op in operations(schema):
        assert op.get("tags"), (method, path)
        if (method, path) in BODYLESS_OPERATIONS:
            assert "requestBody" not in op and "No request body" in op["description"], (method, path)
            continue
        if method in ("post", "put", "patch") and not path.endswith(BODYLESS_SUFFIXES):
            content = op["requestBody"]["content"]
            assert len(content) == 1, (method, path)
            if (method, path) in UPLOADS:  # issue 16: the JSON batch, or the same rows as a file
                files = op["x-safework-file-uploads"]["media_types"]
                assert set(files) == {"text/csv", XLSX, "multipart/form-data"}, path
            assert all(content[media]["schema"] for media in content), (method, path)
    batch = schema["paths"]["/api/v1/labs/{lab_id}/results"]["post"]
    ref = batch["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["properties"]["items"]["maxItems"] == 10_000
    assert any(p["name"] == "Idempotency-Key" for p in batch["parameters"])
    token = schema["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token


async def test_docs_and_schema_are_served(gateway: Stack) -> None:
    r = await gateway.http.get("/openapi.json")
    assert r.status_code == 200 and r.json()["info"]["title"] == "Safework API"
    assert (await gateway.http.get("/docs")).status_code == 200


def _named(schema: dict[str, Any]) -> bool:
    """A schema a generated client gets a class for: a reference to a named component (a page
    of them, for lists), never a free-form object."""
    return "$ref" in schema


def test_every_success_answer_has_a_named_schema(gateway_app: FastAPI) -> None:
    """Rule (issue 15): every operation's success answer is a named schema from the contract, so
    a generated client is typed; only 204 and 304 carry no body. A route added later without a
    model fails here."""
    schema = gateway_app.openapi()
    components = schema["components"]["schemas"]
    untyped = []
    for method, path, op in operations(schema):
        for status, answer in op["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            content = answer.get("content", {})
            if content and all(kind.startswith(FILE_ANSWERS) for kind in content):
                continue  # a QR code (issue 17), an upload template (issue 16): a file, not a JSON body
            if content and all(c.get("schema", {}).get("format") == "binary" for c in content.values()):
                continue  # an export (issue 16): a streamed file (CSV, XLSX, NDJSON), not a JSON body
            # JSON, or a JSON-based media type (the safe-enterprise map's application/geo+json).
            json_like = [c for m, c in content.items() if re.fullmatch(r"application/(.+\+)?json", m)]
            body = json_like[0].get("schema", {}) if json_like else {}
            if not _named(body):
                untyped.append(f"{method.upper()} {path} {status}")
                continue
            target = components[body["$ref"].rsplit("/", 1)[1]]
            if target.get("type") == "object" and not target.get("properties"):
                untyped.append(f"{method.upper()} {path} {status}: {body['$ref']} has no properties")
    assert not untyped, "\n".join(untyped)


def test_operation_ids_are_short_unique_and_camel_case(gateway_app: FastAPI) -> None:
    """Rule (issue 15): operation IDs are short and stable (``postLabResults``), one per operation."""
    schema = gateway_app.openapi()
    ids = [op["operationId"] for _, _, op in operations(schema)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"(get|post|put|patch|delete)[A-Z][A-Za-z0-9]*", i) and len(i) <= 40 for i in ids), ids
    by_route = {(m, p): op["operationId"] for m, p, op in operations(schema)}
    assert by_route["post", "/api/v1/labs/{lab_id}/results"] == "postLabResults"
    assert by_route["get", "/api/v1/labs/{lab_id}"] == "getLab"
    assert by_route["get", "/api/v1/labs"] == "getLabs"
    assert by_route["get", "/api/v1/me/status"] == "getMeStatus"


def test_reason_and_error_codes_are_enums(gateway_app: FastAPI) -> None:
    """Rule (issue 15): a client can switch on every code: the error envelope's ``code`` and every
    reason code are enums in the schema."""
    schema = gateway_app.openapi()
    components = schema["components"]["schemas"]
    assert set(components["ErrorBody"]["properties"]["code"]["enum"]) == set(ERROR_CODES)
    due = components["PersonDueOut"]["properties"]
    assert set(due["reasons"]["items"]["enum"]) == set(reasons.DUE_CODES)
    assert set(due["not_cleared"]["items"]["enum"]) == set(reasons.NOT_CLEARED_CODES)


def _instants_of(model: type[Any], seen: set[type[Any]]) -> list[str]:
    """The date-time fields of ``model`` and the models inside it that are not ``Instant``."""
    import datetime as dt
    import types
    import typing

    from pydantic import BaseModel, PlainSerializer

    if model in seen:
        return []
    seen.add(model)
    wrong = []
    for name, field in model.model_fields.items():
        parts = [field.annotation]
        while parts:
            t = parts.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                wrong += _instants_of(t, seen)
            elif t is dt.datetime:
                if not any(isinstance(m, PlainSerializer) for m in field.metadata):
                    wrong.append(f"{model.__name__}.{name}")
            elif typing.get_origin(t) is typing.Annotated:
                base, *marks = typing.get_args(t)
                if not (base is dt.datetime and any(isinstance(m, PlainSerializer) for m in marks)):
                    parts.append(base)
            elif isinstance(t, types.UnionType) or typing.get_origin(t) is not None:
                parts.extend(typing.get_args(t))
    return wrong


def test_every_answered_instant_is_in_one_form() -> None:
    """Issue 15: all timestamps in one documented form. Every date-time field of every success
    model the gateway forwards is ``contract.Instant`` (serialised at +07:00)."""
    from pydantic import BaseModel

    from safework_common.contract.fields import INSTANT_FORM
    from safework_gateway.forwarding.routes import FORWARDS

    seen: set[type[Any]] = set()
    wrong = []
    for forward in FORWARDS:
        if isinstance(forward.response, type) and issubclass(forward.response, BaseModel):
            wrong += _instants_of(forward.response, seen)
    assert seen and not wrong, wrong
    assert "+07:00" in INSTANT_FORM


def test_every_list_is_items_and_next_cursor(gateway_app: FastAPI) -> None:
    """Issue 15: every list is ``{items, next_cursor}``. An operation that pages (takes ``cursor``
    or ``limit``) answers a schema with both, and every read whose answer holds ``items`` gives
    ``next_cursor`` beside it (null when the whole list fits one page), so one client loop reads
    them all. (The JWKS documents keep their standard ``keys``; an enterprise's day and the
    province's counts are reports whose counts cover their whole list, not pages.)"""
    schema = gateway_app.openapi()
    components = schema["components"]["schemas"]
    wrong = []
    for method, path, op in operations(schema):
        answer = op["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" not in answer:
            continue
        properties = components[answer["$ref"].rsplit("/", 1)[1]].get("properties", {})
        pages = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"} & {"cursor", "limit"}
        if (pages or (method == "get" and "items" in properties)) and not {"items", "next_cursor"} <= set(properties):
            wrong.append(f"{method.upper()} {path}: {sorted(properties)}")
    assert not wrong, "\n".join(wrong)
