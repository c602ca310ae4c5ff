"""Clients and the client-credentials grant (RFC 6749 §4.4, §2.3.1, §5.1-5.2)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import argon2
import asyncpg
import jwt
import pytest
from pydantic import SecretStr, ValidationError

from safework_common.settings import plain_pg_url
from safework_gateway.clients.models import Client
from safework_gateway.clients.service import create_client
from safework_gateway.settings import GatewaySettings
from tests.gateway.conftest import SMALL_ARGON2, TEST_KEK, Stack, bearer

FORM = {"content-type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def test_grant_with_credentials_in_the_body(gateway: Stack) -> None:
    cid, secret = await gateway.new_client("authority", district="Việt Yên", owner_district="Việt Yên")
    r = await gateway.grant(cid, secret)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "authority district:Việt Yên"
    assert r.headers["cache-control"] == "no-store"  # RFC 6749 §5.1
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt" and header["kid"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"iss", "aud", "sub", "exp", "iat", "nbf", "jti", "typ", "role", "scope"} <= set(claims)
    assert claims["sub"] == f"client:{cid}" and claims["role"] == "authority" and claims["district"] == "Việt Yên"
    assert claims["exp"] - claims["iat"] == 900 and claims["nbf"] == claims["iat"]
    assert (await gateway.http.get("/api/v1/clients", headers=bearer(body["access_token"]))).status_code == 200


async def test_grant_with_http_basic(gateway: Stack) -> None:
    """RFC 6749 §2.3.1: id and secret form-urlencoded, then Basic."""
    lab_id = uuid.uuid4()
    cid, secret = await gateway.new_client("lab", lab_id=lab_id)
    r = await gateway.http.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers=basic(cid, secret)
    )
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["role"] == "lab" and claims["lab_id"] == str(lab_id) and "district" not in claims


async def test_unknown_id_and_wrong_secret_get_the_same_answer(gateway: Stack) -> None:
    """No oracle: 401 invalid_client for both, same body (RFC 6749 §5.2)."""
    cid, secret = await gateway.new_client("authority")
    wrong = await gateway.grant(cid, secret + "x")
    unknown = await gateway.grant("authority-doesnotexist", secret)
    basic_wrong = await gateway.http.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers=basic(cid, "nope")
    )
    for r in (wrong, unknown, basic_wrong):
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_client"
        assert r.headers["www-authenticate"].startswith("Basic")
    assert wrong.json() == unknown.json() == basic_wrong.json()


async def test_other_grant_types_are_unsupported(gateway: Stack) -> None:
    for grant in ("password", "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        r = await gateway.http.post(
            "/api/v1/auth/token", data={"grant_type": grant, "client_id": "a", "client_secret": "b"}
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "unsupported_grant_type"
        assert r.json()["error"]["details"][0]["field"] == "body.grant_type"


async def test_malformed_grant_requests(gateway: Stack) -> None:
    r = await gateway.http.post("/api/v1/auth/token", data={"client_id": "a", "client_secret": "b"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["details"][0]["field"] == "body.grant_type"
    r = await gateway.http.post("/api/v1/auth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    r = await gateway.http.post(
        "/api/v1/auth/token", content=b"grant_type=client_credentials&grant_type=password", headers=FORM
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"  # RFC 6749 §3.2
    r = await gateway.http.post("/api/v1/auth/token", content=b"\xff\xfe", headers=FORM)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    r = await gateway.http.post("/api/v1/auth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_client"


async def test_secrets_are_stored_as_argon2_hashes(gateway: Stack, db: str) -> None:
    cid, secret = await gateway.new_client("authority")
    conn = await asyncpg.connect(plain_pg_url(db))
    try:
        row = await conn.fetchrow("SELECT * FROM gateway_client WHERE client_id = $1", cid)
    finally:
        await conn.close()
    assert row["secret_hash"].startswith("$argon2id$")
    assert secret not in str(dict(row))


async def test_province_creates_an_authority_client_secret_shown_once(gateway: Stack) -> None:
    province = gateway.province()
    r = await gateway.http.post(
        "/api/v1/clients",
        json={"name": "Yên Dũng committee", "role": "authority", "district": "Yên Dũng"},
        headers=province,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["client_secret"] and r.headers["cache-control"] == "no-store"
    assert (await gateway.grant(created["client_id"], created["client_secret"])).status_code == 200
    listed = (await gateway.http.get("/api/v1/clients", headers=province)).json()
    assert [c["client_id"] for c in listed["items"]] == [created["client_id"]]
    assert "client_secret" not in listed["items"][0] and "secret_hash" not in listed["items"][0]
    one = await gateway.http.get(f"/api/v1/clients/{created['client_id']}", headers=province)
    assert one.status_code == 200 and "client_secret" not in one.json()


async def test_rotating_a_secret_stops_the_old_one(gateway: Stack) -> None:
    cid, secret = await gateway.new_client("authority", district="Lục Nam", owner_district="Lục Nam")
    r = await gateway.http.post(f"/api/v1/clients/{cid}/rotate-secret", headers=gateway.province())
    assert r.status_code == 200, r.text
    new_secret = r.json()["client_secret"]
    assert new_secret != secret
    assert (await gateway.grant(cid, secret)).status_code == 401
    assert (await gateway.grant(cid, new_secret)).status_code == 200


async def test_disabling_a_client_stops_its_grant_and_its_live_tokens(gateway: Stack) -> None:
    cid, secret = await gateway.new_client("authority", district="Lục Nam", owner_district="Lục Nam")
    token = (await gateway.grant(cid, secret)).json()["access_token"]
    assert (await gateway.http.get("/api/v1/clients", headers=bearer(token))).status_code == 200
    r = await gateway.http.post(f"/api/v1/clients/{cid}/disable", headers=gateway.province())
    assert r.status_code == 200 and r.json()["active"] is False
    r = await gateway.http.get("/api/v1/clients", headers=bearer(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "client_disabled"
    r = await gateway.grant(cid, secret)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_client"


async def test_disabled_clients_are_refused_by_every_process_after_a_refresh(gateway: Stack, db: str) -> None:
    """Another process disabled it: this one learns at its next refresh of the revocation list."""
    cid, secret = await gateway.new_client("authority")
    token = (await gateway.grant(cid, secret)).json()["access_token"]
    conn = await asyncpg.connect(plain_pg_url(db))
    try:
        await conn.execute("UPDATE gateway_client SET active = false WHERE client_id = $1", cid)
    finally:
        await conn.close()
    await gateway.app.state.auth.refresh()
    r = await gateway.http.get("/api/v1/clients", headers=bearer(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "client_disabled"


async def test_a_district_authority_may_not_create_lab_or_authority_clients(gateway: Stack) -> None:
    district = bearer(gateway.token("authority", district="Việt Yên"))
    for body in (
        {"name": "x", "role": "authority", "district": "Việt Yên"},
        {"name": "x", "role": "lab", "lab_id": str(uuid.uuid4())},
    ):
        r = await gateway.http.post("/api/v1/clients", json=body, headers=district)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "province_only"


async def test_a_district_authority_sees_only_its_districts_enterprise_clients(gateway: Stack) -> None:
    ours, _ = await gateway.new_client("enterprise", enterprise_id=uuid.uuid4(), owner_district="Việt Yên")
    theirs, _ = await gateway.new_client("enterprise", enterprise_id=uuid.uuid4(), owner_district="Yên Dũng")
    authority, _ = await gateway.new_client("authority", district="Việt Yên", owner_district="Việt Yên")
    district = bearer(gateway.token("authority", district="Việt Yên"))
    listed = (await gateway.http.get("/api/v1/clients", headers=district)).json()
    assert [c["client_id"] for c in listed["items"]] == [ours]
    for other in (theirs, authority):
        for method, path in (("GET", ""), ("POST", "/rotate-secret"), ("POST", "/disable")):
            r = await gateway.http.request(method, f"/api/v1/clients/{other}{path}", headers=district)
            assert r.status_code == 404, (other, path)
            assert r.json()["error"]["code"] == "client_not_found"


async def test_client_body_is_checked_field_by_field(gateway: Stack) -> None:
    province = gateway.province()
    cases = [
        ({"name": "x", "role": "enterprise"}, "body.enterprise_id", "field_required"),
        ({"name": "x", "role": "lab"}, "body.lab_id", "field_required"),
        (
            {"name": "x", "role": "lab", "lab_id": str(uuid.uuid4()), "district": "Việt Yên"},
            "body.district",
            "field_not_allowed",
        ),
        (
            {"name": "x", "role": "authority", "enterprise_id": str(uuid.uuid4())},
            "body.enterprise_id",
            "field_not_allowed",
        ),
        ({"name": "x", "role": "worker"}, "body.role", "literal_error"),
        # Session 3: a district that does not exist was stored and given a token.
        ({"name": "x", "role": "authority", "district": "Atlantis"}, "body.district", "unknown_district"),
        ({"name": "", "role": "authority"}, "body.name", "string_too_short"),
        ({"name": "x", "role": "authority", "secret": "mine"}, "body.secret", "extra_forbidden"),
    ]
    for body, field, code in cases:
        r = await gateway.http.post("/api/v1/clients", json=body, headers=province)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["error"]["details"][0]
        assert (detail["field"], detail["code"]) == (field, code), body
    assert (await gateway.http.get("/api/v1/clients", headers=province)).json()["items"] == []


async def test_client_listing_pages_by_keyset(gateway: Stack) -> None:
    ids = sorted([(await gateway.new_client("authority"))[0] for _ in range(3)])
    province = gateway.province()
    first = (await gateway.http.get("/api/v1/clients?limit=2", headers=province)).json()
    assert [c["client_id"] for c in first["items"]] == ids[:2]
    second = (await gateway.http.get(f"/api/v1/clients?limit=2&cursor={first['next_cursor']}", headers=province)).json()
    assert [c["client_id"] for c in second["items"]] == ids[2:] and second["next_cursor"] is None


def test_production_refuses_client_secret_costs_below_argon2s_defaults(tmp_path: Path) -> None:
    """Tests hash client secrets cheaply (``SMALL_ARGON2``); production refuses each cost below
    argon2-cffi's defaults (t=3, m=65536 KiB, p=4) and takes the defaults and above."""
    base: dict[str, Any] = {
        "database_url": "postgresql://x@127.0.0.1/x",
        "environment": "production",
        "key_encryption_key": SecretStr(TEST_KEK),
        "internal_token_public_key": SecretStr("unused"),
        "internal_token_public_key_file": tmp_path / "absent.pem",
    }
    defaults = GatewaySettings(**base)
    assert (
        defaults.client_secret_time_cost,
        defaults.client_secret_memory_cost,
        defaults.client_secret_parallelism,
    ) == (
        argon2.DEFAULT_TIME_COST,
        argon2.DEFAULT_MEMORY_COST,
        argon2.DEFAULT_PARALLELISM,
    )
    hasher = defaults.client_secret_hasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
    with pytest.raises(ValidationError, match="GATEWAY_CLIENT_SECRET_TIME_COST"):
        GatewaySettings(**base, **SMALL_ARGON2)
    for name, low in (("time_cost", 2), ("memory_cost", 65535), ("parallelism", 3)):
        with pytest.raises(ValidationError, match=f"GATEWAY_CLIENT_SECRET_{name.upper()}"):
            GatewaySettings(**(base | {f"client_secret_{name}": low}))
    assert (
        GatewaySettings(**base, client_secret_time_cost=4, client_secret_memory_cost=131072).client_secret_time_cost
        == 4
    )
    # Outside production the small costs are taken, and hashes made with them.
    small = GatewaySettings(**(base | {"environment": "test"} | SMALL_ARGON2)).client_secret_hasher()
    assert small.hash("s").startswith("$argon2id$v=19$m=8,t=1,p=1$")


async def test_a_secret_hashed_at_other_costs_still_works_and_is_rehashed(gateway: Stack) -> None:
    """A client made with the library's default costs (e.g. by the CLI) authenticates against a
    gateway of other costs, and its hash is then redone at the gateway's."""
    maker = gateway.app.state.sessionmaker
    async with maker() as session, session.begin():
        client, secret = await create_client(session, name="cli", role="authority", created_by="cli")
        assert client.secret_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    r = await gateway.grant(client.client_id, secret)
    assert r.status_code == 200, r.text
    async with maker() as session:
        stored = await session.get(Client, client.client_id)
        assert stored is not None and stored.secret_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert (await gateway.grant(client.client_id, secret)).status_code == 200
    assert (await gateway.grant(client.client_id, secret + "x")).status_code == 401
