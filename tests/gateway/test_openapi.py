"""The public API describes itself: security schemes, audiences as tags, each operation's roles
and scope, request schemas for the forwarded bodies, the error envelope."""

from __future__ import annotations

from typing import Any

from safework_gateway.app import create_app
from safework_gateway.settings import GatewaySettings
from tests.gateway.conftest import Stack

PUBLIC_OPERATIONS = {
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/app/activate"),
    ("post", "/api/v1/app/refresh"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/v1/public/safe-enterprises"),
    ("get", "/api/v1/public/safe-enterprises.geojson"),
}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in schema["paths"].items() for m, op in item.items()]


def test_security_schemes_and_per_operation_requirements(gateway_settings: GatewaySettings) -> None:
    schema = create_app(gateway_settings, configure_logs=False).openapi()
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


def test_tags_per_audience_and_bodies_described(gateway_settings: GatewaySettings) -> None:
    schema = create_app(gateway_settings, configure_logs=False).openapi()
    assert {t["name"] for t in schema["tags"]} >= {"auth", "worker app", "lab", "enterprise", "authority"}
    for method, path, op in operations(schema):
        assert op.get("tags"), (method, path)
        bodyless = ("/rotate-secret", "/disable", "/revoke", "/trace")
        if method in ("post", "put", "patch") and not path.endswith(bodyless):
            content = op["requestBody"]["content"]
            (media,) = content
            assert content[media]["schema"], (method, path)
    batch = schema["paths"]["/api/v1/labs/{lab_id}/results"]["post"]
    body = batch["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["items"]["maxItems"] == 10_000
    assert any(p["name"] == "Idempotency-Key" for p in batch["parameters"])
    token = schema["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token


async def test_docs_and_schema_are_served(gateway: Stack) -> None:
    r = await gateway.http.get("/openapi.json")
    assert r.status_code == 200 and r.json()["info"]["title"] == "Safework API"
    assert (await gateway.http.get("/docs")).status_code == 200
