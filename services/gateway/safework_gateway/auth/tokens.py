"""Public access tokens: EdDSA-signed JWTs (RFC 7519) with explicit typing and pinned
algorithms (RFC 8725 §3.1, §3.11), verified against the in-memory key ring only."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from cachetools import TLRUCache

from safework_common.errors import Unauthorized
from safework_gateway.auth.principal import ROLES, Principal, scope_string
from safework_gateway.keys.service import ALGORITHM, KeyRing

# RFC 9068 media type for JWT access tokens: a token of another kind (an ID token, the internal
# service token) is refused even if a key would verify it.
TOKEN_TYPE_HEADER = "at+jwt"  # noqa: S105 (a media type)
TYP_CLIENT = "client"
TYP_DEVICE = "device"
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "aud", "iss", "sub", "jti"]
_CLAIM_FIELDS = ("client_id", "enterprise_id", "district", "lab_id", "person_id", "device_id")


class TokenService:
    """Signs and verifies the public tokens with the current :class:`KeyRing`."""

    def __init__(
        self,
        ring: Callable[[], KeyRing],
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int,
        cache_size: int = 50_000,
    ) -> None:
        self._ring = ring
        self.issuer = issuer
        self.audience = audience
        self._leeway = leeway_seconds
        self._jwt = jwt.PyJWT()
        # Verified tokens, each until its own expiry (with the leeway); the least recently used
        # make room when ``cache_size`` are held.
        self._cache: TLRUCache[str, tuple[Principal, str]] = TLRUCache(
            maxsize=cache_size, ttu=lambda _token, hit, _now: hit[0].expires_at + leeway_seconds, timer=time.time
        )

    def issue(
        self,
        *,
        subject: str,
        role: str,
        typ: str,
        ttl_seconds: int,
        claims: dict[str, str | None],
    ) -> tuple[str, int, str]:
        """A signed token; returns it, its lifetime and its OAuth scope string."""
        kid, key = self._ring().signing_key()
        now = int(time.time())
        scope = scope_string(
            role,
            district=claims.get("district"),
            enterprise_id=claims.get("enterprise_id"),
            lab_id=claims.get("lab_id"),
            person_id=claims.get("person_id"),
        )
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
            "typ": typ,
            "role": role,
            "scope": scope,
        }
        payload.update({k: v for k, v in claims.items() if v is not None})
        token = jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": TOKEN_TYPE_HEADER})
        return token, ttl_seconds, scope

    def verify(self, token: str) -> Principal:
        """A :class:`Principal`, or 401. Tokens already verified are remembered until they expire,
        so a busy client costs one signature check per token, not per request."""
        try:
            principal, kid = self._cache[token]  # a KeyError once past its lifetime
        except KeyError:
            pass
        else:
            # Its key still published (not retired meanwhile).
            if self._ring().verification_key(kid) is not None:
                return principal
            del self._cache[token]
        principal, kid = self._verify(token)
        self._cache[token] = (principal, kid)
        return principal

    def verify_uncached(self, token: str) -> Principal:
        """The full check, every time (benchmarks measure this one)."""
        return self._verify(token)[0]

    def _verify(self, token: str) -> tuple[Principal, str]:
        header = _header(token)
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("The token's algorithm is not accepted.", code="invalid_token")
        if header.get("typ") != TOKEN_TYPE_HEADER:
            raise Unauthorized("Not an access token.", code="invalid_token")
        kid = header.get("kid")
        key = self._ring().verification_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthorized("The token is signed with an unknown key.", code="unknown_key")
        try:
            claims = self._jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS, "strict_aud": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", code="token_expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("The token is not valid yet.", code="token_not_yet_valid") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not valid.", code="invalid_token") from exc
        return _principal(claims), str(kid)


_COMPACT_JWS = re.compile(r"^([A-Za-z0-9_-]{2,512})\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def _header(token: str) -> dict[str, Any]:
    """The protected header, read once to pick the key (PyJWT reads it again while verifying);
    anything but a compact JWS of base64url segments is refused before any work."""
    match = _COMPACT_JWS.match(token)
    if match is None:
        raise Unauthorized("The token is malformed.", code="invalid_token")
    segment = match.group(1)
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise Unauthorized("The token is malformed.", code="invalid_token") from exc
    if not isinstance(header, dict):
        raise Unauthorized("The token is malformed.", code="invalid_token")
    return header


def _principal(claims: dict[str, Any]) -> Principal:
    role = claims.get("role")
    typ = claims.get("typ")
    if role not in ROLES or typ not in (TYP_CLIENT, TYP_DEVICE) or (typ == TYP_DEVICE) != (role == "worker"):
        raise Unauthorized("The token's role is not valid.", code="invalid_token")
    values = {name: claims.get(name) for name in (*_CLAIM_FIELDS, "sid")}
    if any(v is not None and not isinstance(v, str) for v in values.values()):
        raise Unauthorized("The token's claims are not valid.", code="invalid_token")
    required = {
        "enterprise": ("client_id", "enterprise_id"),
        "lab": ("client_id", "lab_id"),
        "authority": ("client_id",),
        "worker": ("person_id", "enterprise_id", "device_id", "sid"),
    }[role]
    if any(values[name] is None for name in required):
        raise Unauthorized("The token lacks its scope claims.", code="invalid_token")
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        typ=typ,
        jti=str(claims["jti"]),
        expires_at=int(claims["exp"]),
        client_id=values["client_id"],
        enterprise_id=values["enterprise_id"],
        district=values["district"] if role == "authority" else None,
        lab_id=values["lab_id"],
        person_id=values["person_id"],
        device_id=values["device_id"],
        session_id=values["sid"],
    )
