"""Foundation: health, readiness, internal trust, the error envelope, request IDs, body limits."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text

from safework_common.errors import SafeworkError
from safework_common.internal_auth import (
    INTERNAL_AUDIENCE,
    INTERNAL_HEADER,
    INTERNAL_ISSUER,
    Caller,
    InternalTokenMinter,
    generate_keypair,
)
from safework_registry.deps import Session
from tests.conftest import AUTHORITY, internal_headers, running


class Item(BaseModel):
    count: int


def assert_envelope(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)


async def test_health_and_readiness_answer_without_token(internal_client: httpx.AsyncClient) -> None:
    client = internal_client
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": True}


@pytest.mark.parametrize("path", ["/v1/enterprises", "/openapi.json", "/docs", "/no-such-route"])
async def test_internal_services_refuse_callers_without_the_internal_token(
    internal_client: httpx.AsyncClient, path: str
) -> None:
    """Internal trust: only the gateway's token opens the registry and the scheduler."""
    r = await internal_client.get(path)
    assert r.status_code == 401
    assert_envelope(r.json(), "missing_internal_token")


async def test_forged_or_public_tokens_are_refused_internally(internal_client: httpx.AsyncClient) -> None:
    client = internal_client
    other_private, _ = generate_keypair()
    forged = InternalTokenMinter(other_private).mint(AUTHORITY)
    hs = jwt.encode(
        {"sub": "x", "role": "authority", "aud": INTERNAL_AUDIENCE, "iss": INTERNAL_ISSUER, "exp": 9999999999},
        "a-shared-secret-long-enough-for-hs256!!",
        algorithm="HS256",
        headers={"typ": "internal+jwt"},
    )
    for token in (forged, hs, "not-a-jwt"):
        r = await client.get("/v1/anything", headers={INTERNAL_HEADER: token})
        assert r.status_code == 401, token
        assert_envelope(r.json(), "invalid_internal_token")


async def test_valid_internal_token_passes_and_unknown_route_is_enveloped(
    registry: httpx.AsyncClient, minter: InternalTokenMinter
) -> None:
    r = await registry.get("/no-such-route", headers=internal_headers(minter, AUTHORITY))
    assert r.status_code == 404
    assert_envelope(r.json(), "not_found")


async def test_error_envelope_for_validation_domain_and_unexpected_errors(
    registry_app: FastAPI, minter: InternalTokenMinter
) -> None:
    @registry_app.post("/_test/validate")
    async def validate(item: Item) -> dict[str, int]:
        return {"count": item.count}

    @registry_app.get("/_test/domain")
    async def domain() -> None:
        raise SafeworkError("nope", code="domain_rule", status_code=409, field="body.x")

    @registry_app.get("/_test/boom")
    async def boom() -> None:
        raise RuntimeError("secret stack detail")

    async with running(registry_app) as client:
        client.headers.update(internal_headers(minter, AUTHORITY))
        r = await client.post("/_test/validate", json={"count": "many"})
        assert r.status_code == 422
        assert_envelope(r.json(), "validation_error")
        assert r.json()["error"]["details"][0]["field"] == "body.count"

        r = await client.post("/_test/validate", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert_envelope(r.json(), "malformed_json")

        r = await client.get("/_test/domain")
        assert r.status_code == 409
        assert_envelope(r.json(), "domain_rule")
        assert r.json()["error"]["details"][0]["field"] == "body.x"

        r = await client.get("/_test/boom")
        assert r.status_code == 500
        assert_envelope(r.json(), "internal_error")
        assert "secret stack detail" not in r.text and "Traceback" not in r.text


async def test_request_id_is_echoed_or_generated(registry: httpx.AsyncClient) -> None:
    r = await registry.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await registry.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces" and len(r.headers["x-request-id"]) == 32


async def test_body_over_the_limit_gets_413_in_the_envelope(
    db: str, common_settings: dict[str, Any], keys_dir: Any, minter: InternalTokenMinter
) -> None:
    from safework_registry.app import create_app
    from safework_registry.settings import RegistrySettings

    app = create_app(
        RegistrySettings(
            database_url=db,
            national_id_key_file=keys_dir / "national_id_hmac.key",
            max_body_bytes=1024,
            **common_settings,
        ),
        configure_logs=False,
    )
    async with running(app) as client:
        r = await client.post("/v1/anything", content=b"x" * 2048, headers=internal_headers(minter, AUTHORITY))
        assert r.status_code == 413
        assert_envelope(r.json(), "payload_too_large")


def test_internal_caller_claims_round_trip(minter: InternalTokenMinter, keys_dir: Any) -> None:
    from safework_common.internal_auth import InternalTokenVerifier

    verifier = InternalTokenVerifier((keys_dir / "internal_ed25519.pub.pem").read_bytes())
    caller = Caller(subject="device:1", role="worker", person_id="p-1", enterprise_id="e-1")
    assert verifier.verify(minter.mint(caller)) == caller


async def test_commit_happens_before_the_answer_so_a_failed_commit_is_never_acknowledged(
    registry_app: FastAPI, minter: InternalTokenMinter
) -> None:
    """Nothing lost once acknowledged: the session commits before the response is sent, so a
    commit that fails (here a deferred unique constraint) answers an error, not 200."""

    @registry_app.post("/_test/deferred-failure")
    async def deferred_failure(session: Session) -> dict[str, str]:
        await session.execute(text("CREATE TEMP TABLE t_deferred (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"))
        await session.execute(text("INSERT INTO t_deferred VALUES (1), (1)"))
        return {"status": "stored"}

    async with running(registry_app) as client:
        r = await client.post("/_test/deferred-failure", headers=internal_headers(minter, AUTHORITY))
        assert r.status_code == 500
        assert_envelope(r.json(), "internal_error")
