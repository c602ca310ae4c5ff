"""Internal trust: the gateway mints a short-lived EdDSA JWT per caller; the registry and the
scheduler accept a request only with a valid one. Its key and audience are distinct from the
public tokens', so a public token is never accepted internally and vice versa."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
from cachetools import TLRUCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from safework_common.errors import Forbidden, SafeworkError, Unauthorized, envelope

INTERNAL_ISSUER = "safework-gateway"
INTERNAL_AUDIENCE = "safework-internal"
INTERNAL_TYP = "internal+jwt"
INTERNAL_ALGORITHM = "EdDSA"
INTERNAL_TTL_SECONDS = 60
INTERNAL_HEADER = "x-internal-token"


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the gateway vouches: a client (lab, enterprise, authority), a worker's
    device, or the system itself (CLI jobs)."""

    subject: str
    role: str
    client_id: str | None = None
    enterprise_id: str | None = None
    district: str | None = None
    lab_id: str | None = None
    person_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_authority(self) -> bool:
        return self.role == "authority"

    @property
    def is_province_authority(self) -> bool:
        return self.role == "authority" and self.district is None

    def claims(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sub": self.subject, "role": self.role}
        for name in ("client_id", "enterprise_id", "district", "lab_id", "person_id"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


SYSTEM_CALLER = Caller(subject="system", role="system", client_id="system")


def generate_keypair() -> tuple[bytes, bytes]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def ensure_keypair(private_path: Path, public_path: Path) -> None:
    """Generate the internal key pair on a fresh install; never overwrite an existing one."""
    if private_path.exists() and public_path.exists():
        return
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private, public = generate_keypair()
    private_path.write_bytes(private)
    private_path.chmod(0o600)
    public_path.write_bytes(public)


class InternalTokenMinter:
    """Signs internal tokens. Tokens are cached per caller for part of their lifetime so a busy
    gateway does not sign on every request."""

    def __init__(self, private_key_pem: bytes, ttl_seconds: int = INTERNAL_TTL_SECONDS) -> None:
        self._key = serialization.load_pem_private_key(private_key_pem, password=None)
        self._ttl = ttl_seconds
        # A caller's token is reused for the first half of its lifetime.
        self._cache: TLRUCache[tuple[tuple[str, Any], ...], str] = TLRUCache(
            maxsize=10_000, ttu=lambda _key, _token, now: now + ttl_seconds / 2, timer=time.time
        )

    def mint(self, caller: Caller) -> str:
        claims = caller.claims()
        cache_key = tuple(sorted((k, v) for k, v in claims.items() if not isinstance(v, dict | list)))
        try:
            return self._cache[cache_key]  # (``[]`` reads the clock once, ``get`` twice)
        except KeyError:
            pass
        now = time.time()
        payload = {
            **claims,
            "iss": INTERNAL_ISSUER,
            "aud": INTERNAL_AUDIENCE,
            "iat": int(now),
            "nbf": int(now) - 5,
            "exp": int(now) + self._ttl,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(payload, self._key, algorithm=INTERNAL_ALGORITHM, headers={"typ": INTERNAL_TYP})  # type: ignore[arg-type]
        self._cache[cache_key] = token
        return token


class InternalTokenVerifier:
    def __init__(self, public_key_pem: bytes) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem)
        # Verified tokens, each until its ``exp``.
        self._cache: TLRUCache[str, tuple[int, Caller]] = TLRUCache(
            maxsize=10_000, ttu=lambda _token, hit, _now: hit[0], timer=time.time
        )

    def verify(self, token: str) -> Caller:
        try:
            return self._cache[token][1]
        except KeyError:
            pass
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != INTERNAL_TYP:
                raise Unauthorized("Not an internal service token.", code="invalid_internal_token")
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[INTERNAL_ALGORITHM],
                audience=INTERNAL_AUDIENCE,
                issuer=INTERNAL_ISSUER,
                options={"require": ["exp", "iat", "nbf", "aud", "iss", "sub", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid internal service token.", code="invalid_internal_token") from exc
        caller = Caller(
            subject=str(claims["sub"]),
            role=str(claims.get("role", "")),
            client_id=claims.get("client_id"),
            enterprise_id=claims.get("enterprise_id"),
            district=claims.get("district"),
            lab_id=claims.get("lab_id"),
            person_id=claims.get("person_id"),
        )
        self._cache[token] = (int(claims["exp"]), caller)
        return caller


PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})


class InternalAuthMiddleware:
    """Every path but the health checks needs the gateway's internal token, even unknown paths
    (so the service reveals nothing, not even which routes exist, to anyone else)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        token = None
        for name, value in scope["headers"]:
            if name == INTERNAL_HEADER.encode():
                token = value.decode("latin-1")
                break
        try:
            if not token:
                raise Unauthorized("This service answers only the gateway.", code="missing_internal_token")
            verifier: InternalTokenVerifier = scope["app"].state.internal_verifier
            caller = verifier.verify(token)
        except SafeworkError as exc:
            response = envelope(exc.status_code, exc.code, exc.message, exc.details, exc.headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


async def internal_caller(request: Request) -> Caller:
    """Dependency: the caller that :class:`InternalAuthMiddleware` verified."""
    caller = getattr(request.state, "caller", None)
    if caller is None:
        raise Unauthorized("This service answers only the gateway.", code="missing_internal_token")
    assert isinstance(caller, Caller)
    return caller


InternalCaller = Annotated[Caller, Depends(internal_caller)]


def require_roles(*roles: str) -> Any:
    async def check(caller: InternalCaller) -> Caller:
        if caller.role not in roles and caller.role != "system":
            raise Forbidden(f"Role {caller.role!r} may not call this.", code="role_not_allowed")
        return caller

    return Depends(check)
