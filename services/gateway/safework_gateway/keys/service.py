"""Signing keys: first key on a fresh install, rotation with overlap, the in-memory key ring.

Keys live in ``gateway_signing_key``; every gateway process holds a snapshot (:class:`KeyRing`)
re-read every few seconds, so verifying a token never fetches anything (RFC 8725 §3.1)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from safework_gateway.keys.crypto import KeyEncryptionKey
from safework_gateway.keys.models import SigningKey

ALGORITHM = "EdDSA"
# How long verifiers may cache /.well-known/jwks.json (its Cache-Control max-age).
JWKS_MAX_AGE_SECONDS = 300
# Serialises key creation and rotation across processes (and the CLI).
_KEYS_LOCK = 0x5AFE_0001


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def public_jwk(raw_public: bytes) -> dict[str, str]:
    """The RFC 8037 OKP form of an Ed25519 public key."""
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw_public)}


def thumbprint(raw_public: bytes) -> str:
    """RFC 7638 JWK thumbprint: the key's ``kid``, stable and derived from the key itself."""
    canonical = json.dumps(public_jwk(raw_public), sort_keys=True, separators=(",", ":")).encode()
    return _b64url(hashlib.sha256(canonical).digest())


@dataclass(frozen=True)
class RingKey:
    kid: str
    public_key: Ed25519PublicKey
    raw_public: bytes
    status: str
    not_before: datetime
    not_after: datetime | None
    private_key: Ed25519PrivateKey | None


class KeyRing:
    """A snapshot of the published keys: which verify, which one signs now."""

    def __init__(self, keys: list[RingKey], *, max_token_lifetime: timedelta) -> None:
        self._keys = sorted(keys, key=lambda k: k.not_before, reverse=True)
        self._by_kid = {k.kid: k.public_key for k in keys}
        self._max_lifetime = max_token_lifetime
        self.jwks: dict[str, Any] = {
            "keys": [{**public_jwk(k.raw_public), "kid": k.kid, "alg": ALGORITHM, "use": "sig"} for k in self._keys]
        }

    def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        return self._by_kid.get(kid)

    @property
    def kids(self) -> list[str]:
        return [k.kid for k in self._keys]

    def signing_key(self, now: datetime | None = None) -> tuple[str, Ed25519PrivateKey]:
        """The newest key whose ``not_before`` has come and which outlives a token signed now."""
        now = now or datetime.now(UTC)
        for k in self._keys:
            if k.private_key is None or k.not_before > now:
                continue
            if k.not_after is not None and k.not_after < now + self._max_lifetime:
                continue
            return k.kid, k.private_key
        raise LookupError("no signing key is usable now")


def _new_key(kek: KeyEncryptionKey, *, not_before: datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    kid = thumbprint(raw_public)
    return SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        public_key=raw_public,
        private_key_encrypted=kek.encrypt(raw_private, kid.encode()),
        kek_id=kek.kek_id,
        status="active",
        not_before=not_before,
    )


async def _lock(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEYS_LOCK})


async def ensure_signing_key(session: AsyncSession, kek: KeyEncryptionKey) -> str | None:
    """A fresh install makes its first key; returns its kid, or None when one exists."""
    await _lock(session)
    existing = await session.scalar(select(SigningKey.kid).where(SigningKey.status == "active").limit(1))
    if existing is not None:
        return None
    key = _new_key(kek, not_before=datetime.now(UTC))
    session.add(key)
    await session.flush()
    return key.kid


async def rotate(
    session: AsyncSession, kek: KeyEncryptionKey, *, publish_ahead: timedelta, overlap: timedelta
) -> SigningKey:
    """Add a new active key, published now and signing after ``publish_ahead`` (every process
    has re-read the ring by then); the previous active key retires ``overlap`` after that, once
    every token it signed has expired. Keys past their ``not_after`` become ``retired``."""
    await _lock(session)
    now = datetime.now(UTC)
    starts = now + publish_ahead
    await session.execute(
        update(SigningKey)
        .where(SigningKey.status == "retiring", SigningKey.not_after <= now)
        .values(status="retired", updated_at=now)
    )
    await session.execute(
        update(SigningKey)
        .where(SigningKey.status == "active")
        .values(status="retiring", not_after=starts + overlap, updated_at=now)
    )
    key = _new_key(kek, not_before=starts)
    session.add(key)
    await session.flush()
    return key


def rotation_timing(
    *, refresh_seconds: float, max_token_lifetime_seconds: int, leeway_seconds: int
) -> tuple[timedelta, timedelta]:
    """(publish ahead, overlap) for a rotation: a new key is published for one ring refresh and
    one JWKS cache lifetime before it signs; the old one stays until its last token expires."""
    publish_ahead = timedelta(seconds=refresh_seconds + JWKS_MAX_AGE_SECONDS + 5)
    overlap = timedelta(seconds=max_token_lifetime_seconds + leeway_seconds + 60)
    return publish_ahead, overlap


async def load_ring(session: AsyncSession, kek: KeyEncryptionKey, *, max_token_lifetime: timedelta) -> KeyRing:
    """Every key still published: active ones and retiring ones before their ``not_after``."""
    now = datetime.now(UTC)
    rows = (
        await session.scalars(
            select(SigningKey).where(
                SigningKey.status.in_(("active", "retiring")),
                or_(SigningKey.not_after.is_(None), SigningKey.not_after > now),
            )
        )
    ).all()
    keys = []
    for row in rows:
        private = None
        if row.kek_id == kek.kek_id:
            raw = kek.decrypt(row.private_key_encrypted, row.kid.encode())
            private = Ed25519PrivateKey.from_private_bytes(raw)
        keys.append(
            RingKey(
                kid=row.kid,
                public_key=Ed25519PublicKey.from_public_bytes(row.public_key),
                raw_public=row.public_key,
                status=row.status,
                not_before=row.not_before,
                not_after=row.not_after,
                private_key=private,
            )
        )
    return KeyRing(keys, max_token_lifetime=max_token_lifetime)
