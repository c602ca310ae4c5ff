"""Token verification (RFC 7519, RFC 8725): only tokens this gateway signed, for this audience,
of this type, inside their lifetime, with a known key, are accepted. Everything else is 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from safework_common.internal_auth import InternalTokenMinter
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, enterprise

ROUTE = "/api/v1/clients"  # authority only, answered by the gateway itself


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class FromNow(int):
    """A time claim given relative to now (negative: in the past), resolved when built."""


def claims(gateway: Stack, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    over = {k: now + v if isinstance(v, FromNow) else v for k, v in over.items()}
    out: dict[str, Any] = {
        "iss": gateway.tokens.issuer,
        "aud": gateway.tokens.audience,
        "sub": "client:authority-x",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "typ": "client",
        "role": "authority",
        "client_id": "authority-x",
    }
    out.update(over)
    return {k: v for k, v in out.items() if v is not None}


def signed(gateway: Stack, payload: dict[str, Any], **header: Any) -> str:
    kid, key = gateway.app.state.auth.ring.signing_key()
    headers = {k: v for k, v in {"kid": kid, "typ": "at+jwt", **header}.items() if v is not None}
    return jwt.encode(payload, key, algorithm="EdDSA", headers=headers)


def raw_token(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    return signing_input + "." + b64(sign(signing_input.encode()))


async def refused(gateway: Stack, token: str, code: str) -> None:
    r = await gateway.http.get(ROUTE, headers=bearer(token))
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["error"]["code"] == code
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_well_formed_token_is_accepted(gateway: Stack) -> None:
    """Baseline for the refusals below: the same construction, unaltered, passes."""
    r = await gateway.http.get(ROUTE, headers=bearer(signed(gateway, claims(gateway))))
    assert r.status_code == 200, r.text


async def test_missing_or_non_bearer_credentials_are_refused(gateway: Stack) -> None:
    r = await gateway.http.get(ROUTE)
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_token"
    r = await gateway.http.get(ROUTE, headers={"Authorization": "Basic YTpi"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_token"


@pytest.mark.parametrize(
    ("rule", "over", "code"),
    [
        ("expired (RFC 7519 §4.1.4)", {"exp": FromNow(-120), "iat": FromNow(-1000)}, "token_expired"),
        ("not yet valid (RFC 7519 §4.1.5)", {"nbf": FromNow(600)}, "token_not_yet_valid"),
        ("wrong audience (RFC 7519 §4.1.3)", {"aud": "another-api"}, "invalid_token"),
        ("audience list with ours inside (strict aud)", {"aud": ["safework-api", "x"]}, "invalid_token"),
        ("wrong issuer (RFC 7519 §4.1.1)", {"iss": "https://evil.example"}, "invalid_token"),
        ("issuer prefix is not the issuer", {"iss": "safe"}, "invalid_token"),
        ("issuer with our name as prefix", {"iss": "safework-evil"}, "invalid_token"),
        ("missing exp (required)", {"exp": None}, "invalid_token"),
        ("missing iat (required)", {"iat": None}, "invalid_token"),
        ("missing nbf (required)", {"nbf": None}, "invalid_token"),
        ("missing jti (required)", {"jti": None}, "invalid_token"),
        ("missing sub (required)", {"sub": None}, "invalid_token"),
        ("unknown role", {"role": "system"}, "invalid_token"),
        ("device typ with a client role", {"typ": "device"}, "invalid_token"),
        ("internal typ claim", {"typ": "internal+jwt"}, "invalid_token"),
        ("enterprise without its scope claim", {"role": "enterprise"}, "invalid_token"),
        ("worker without device and session", {"role": "worker", "typ": "device", "person_id": "p"}, "invalid_token"),
        ("scope claim of the wrong type", {"district": ["a", "b"]}, "invalid_token"),
    ],
)
async def test_bad_claims_are_refused(gateway: Stack, rule: str, over: dict[str, Any], code: str) -> None:
    await refused(gateway, signed(gateway, claims(gateway, **over)), code)


async def test_forged_signature_with_another_key_and_our_kid(gateway: Stack) -> None:
    """RFC 8725 §3.2: the signature is checked against our key for that kid, not any key."""
    kid, _ = gateway.app.state.auth.ring.signing_key()
    other = Ed25519PrivateKey.generate()
    token = jwt.encode(claims(gateway), other, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"})
    await refused(gateway, token, "invalid_token")


async def test_tampered_payload_breaks_the_signature(gateway: Stack) -> None:
    header, payload, signature = signed(gateway, claims(gateway)).split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["district"] = None
    body["role"] = "authority"
    body["client_id"] = "someone-else"
    forged_payload = b64(json.dumps(body).encode())
    await refused(gateway, f"{header}.{forged_payload}.{signature}", "invalid_token")


async def test_alg_none_is_refused(gateway: Stack) -> None:
    """RFC 8725 §3.1: algorithms are pinned; an unsigned token is never accepted."""
    kid, _ = gateway.app.state.auth.ring.signing_key()
    token = raw_token({"alg": "none", "kid": kid, "typ": "at+jwt"}, claims(gateway), lambda _: b"")
    await refused(gateway, token, "invalid_token")
    for alg in ("None", "NONE"):
        token = raw_token({"alg": alg, "kid": kid, "typ": "at+jwt"}, claims(gateway), lambda _: b"")
        await refused(gateway, token, "invalid_token")


async def test_hs256_signed_with_the_public_key_is_refused(gateway: Stack) -> None:
    """RFC 8725 §2.1 key confusion: the published public key used as an HMAC secret."""
    kid, private = gateway.app.state.auth.ring.signing_key()
    public = private.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk_x = b64(raw).encode()
    for secret in (raw, pem, jwk_x):
        token = raw_token(
            {"alg": "HS256", "kid": kid, "typ": "at+jwt"},
            claims(gateway),
            lambda data, secret=secret: hmac.new(secret, data, hashlib.sha256).digest(),  # type: ignore[misc]
        )
        await refused(gateway, token, "invalid_token")


async def test_unknown_kid_is_refused_without_fetching(gateway: Stack) -> None:
    """RFC 8725 §3.10 spirit: keys come from our own store, never from a URL in the token."""
    await refused(gateway, signed(gateway, claims(gateway), kid="no-such-key"), "unknown_key")
    await refused(gateway, signed(gateway, claims(gateway), kid=None, jku="https://evil.example/jwks"), "unknown_key")


async def test_wrong_typ_header_is_refused(gateway: Stack) -> None:
    """RFC 8725 §3.11 explicit typing: an ID token or internal token is not an access token."""
    for typ in ("JWT", "internal+jwt", "id+jwt"):
        await refused(gateway, signed(gateway, claims(gateway), typ=typ), "invalid_token")
    kid, key = gateway.app.state.auth.ring.signing_key()
    untyped = raw_token({"alg": "EdDSA", "kid": kid}, claims(gateway), key.sign)
    await refused(gateway, untyped, "invalid_token")


async def test_the_internal_service_token_is_not_a_public_token(gateway: Stack, minter: InternalTokenMinter) -> None:
    from tests.callers import PROVINCE

    await refused(gateway, minter.mint(PROVINCE), "invalid_token")


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "", "...."])
async def test_garbage_is_refused(gateway: Stack, garbage: str) -> None:
    r = await gateway.http.get(ROUTE, headers={"Authorization": f"Bearer {garbage}"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] in {"invalid_token", "missing_token"}


async def test_a_token_of_one_role_is_refused_on_another_roles_route(gateway: Stack) -> None:
    """Roles: an enterprise token on an authority route is 403 role_not_allowed."""
    token = gateway.token("enterprise", enterprise_id=str(uuid.uuid4()))
    r = await gateway.http.get(ROUTE, headers=bearer(token))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "role_not_allowed"
    device = gateway.token("worker", person_id=str(uuid.uuid4()), enterprise_id=str(uuid.uuid4()))
    r = await gateway.http.get(ROUTE, headers=bearer(device))
    assert r.status_code == 403


async def test_tokens_of_a_revoked_device_are_refused(stack: Stack) -> None:
    """The precondition is a real answer (200 with the worker's record), not merely "not 401":
    a 500 or an upstream outage must not pass for "the token was accepted"."""
    tenant = await enterprise(stack, DISTRICT_A, people=1)
    sid = str(uuid.uuid4())
    token = stack.token("worker", person_id=tenant.people[0], enterprise_id=tenant.enterprise_id, sid=sid)
    r = await stack.http.get("/api/v1/me/status", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["person_id"] == tenant.people[0]
    stack.app.state.auth.revoke_session(sid)
    r = await stack.http.get("/api/v1/me/status", headers=bearer(token))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "device_revoked"


async def test_verification_uses_only_eddsa_and_caches_per_token(gateway: Stack) -> None:
    """The cache returns the same principal for the same token and nothing for a changed one."""
    token = signed(gateway, claims(gateway))
    first = gateway.tokens.verify(token)
    assert gateway.tokens.verify(token) is first
    assert gateway.tokens.verify_uncached(token) == first
