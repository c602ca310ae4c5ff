"""Foundation: health, readiness, internal trust, the error envelope, request IDs, body limits."""

from __future__ import annotations

import json
import logging
from pathlib import Path
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
from safework_common.logging import JsonFormatter, mask_national_ids
from safework_common.middleware import new_request_id
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


@pytest.fixture
def own_registry_app(db: str, common_settings: dict[str, Any], keys_dir: Path) -> FastAPI:
    """A registry app of the test's own, not the run's shared one (``tests.support.apps``): the
    test adds routes to it, which would otherwise stay on the shared app for every later test."""
    from safework_registry.app import create_app
    from safework_registry.settings import RegistrySettings

    settings = RegistrySettings(
        database_url=db, national_id_key_file=keys_dir / "national_id_hmac.key", **common_settings
    )
    return create_app(settings, configure_logs=False)


async def test_error_envelope_for_validation_domain_and_unexpected_errors(
    own_registry_app: FastAPI, minter: InternalTokenMinter
) -> None:
    registry_app = own_registry_app

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
    # It is written on every log line, so one that could hide a national ID is replaced too.
    for looks_like_an_id in ("024026367231", "req-123456789", "a.024.026.367.231"):
        r = await registry.get("/healthz", headers={"X-Request-ID": looks_like_an_id})
        assert r.headers["x-request-id"] != looks_like_an_id


def test_generated_request_ids_are_kept_whole_in_the_logs() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == 2000 and all(mask_national_ids(rid) == rid for rid in ids)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("/api/v1/persons/024026367231", "/api/v1/persons/************"),
        ("/api/v1/persons/024026367231/summary", "/api/v1/persons/************/summary"),
        ("/api/v1/labs/125987634", "/api/v1/labs/*********"),
        ("CCCD024026367231", "CCCD************"),
        ("024 026 367 231", "*** *** *** ***"),
        ("024.026.367.231", "***.***.***.***"),
        ("0-2-4-0-2-6-3-6-7-2-3-1", "*-*-*-*-*-*-*-*-*-*-*-*"),
        ("id 024 - 026 - 367", "id *** - *** - ***"),
        ("0240263672310", "*************"),  # a run of 9 digits or more, whatever its length
        ("q=024026367231&x=1", "q=************&x=1"),
        # Kept: dates, times, versions, counts, short numbers, UUIDs (nearly always).
        ("2021-09-15T07:30:00.123456+07:00", "2021-09-15T07:30:00.123456+07:00"),
        ("2026-12-03 09:12:51", "2026-12-03 09:12:51"),
        ("HTTP/1.1 200 OK", "HTTP/1.1 200 OK"),
        ("f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
        ("batch of 10000 items in 123.45 ms", "batch of 10000 items in 123.45 ms"),
        ("0912 345 678", "0912 345 678"),  # 10 digits: a phone, not an ID
    ],
)
def test_national_ids_are_masked_in_any_form_and_other_numbers_kept(text: str, masked: str) -> None:
    assert mask_national_ids(text) == masked


def test_every_string_of_a_log_line_is_masked_and_the_line_stays_json() -> None:
    record = logging.makeLogRecord({"name": "t", "levelno": 20, "levelname": "INFO", "msg": "person %s",
                                    "args": ("024026367231",), "path": "/v1/persons/024 026 367 231",
                                    "headers": {"user-agent": ["app", "id=125987634"]}, "rows": 123456789})  # fmt: skip
    line = json.loads(JsonFormatter("registry").format(record))
    assert line["msg"] == "person ************" and line["path"] == "/v1/persons/*** *** *** ***"
    assert line["headers"] == {"user-agent": ["app", "id=*********"]}
    assert line["rows"] == 123456789  # numbers the code logs are its own, and stay numbers


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
    own_registry_app: FastAPI, minter: InternalTokenMinter
) -> None:
    """Nothing lost once acknowledged: the session commits before the response is sent, so a
    commit that fails (here a deferred unique constraint) answers an error, not 200."""
    registry_app = own_registry_app

    @registry_app.post("/_test/deferred-failure")
    async def deferred_failure(session: Session) -> dict[str, str]:
        await session.execute(text("CREATE TEMP TABLE t_deferred (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"))
        await session.execute(text("INSERT INTO t_deferred VALUES (1), (1)"))
        return {"status": "stored"}

    async with running(registry_app) as client:
        r = await client.post("/_test/deferred-failure", headers=internal_headers(minter, AUTHORITY))
        assert r.status_code == 500
        assert_envelope(r.json(), "internal_error")
