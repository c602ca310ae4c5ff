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
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from safework_gateway.keys.crypto import KeyEncryptionKey
from safework_gateway.keys.models import SigningKey

ALGORITHM = "EdDSA"
HEALTH_CARD_ALGORITHM = "ES256"
# Purposes and their algorithms: each signs with its own keys, published under their own kids.
PURPOSE_ALGORITHMS = {"token": ALGORITHM, "pass": ALGORITHM, "health_card": HEALTH_CARD_ALGORITHM}
# A pass key's kid says what it is, so an offline verifier accepts passes from no other key.
PASS_KID_PREFIX = "pass-"  # noqa: S105 (a kid prefix)
# How long verifiers may cache /.well-known/jwks.json (its Cache-Control max-age).
JWKS_MAX_AGE_SECONDS = 300
# Serialises key creation and rotation across processes (and the CLI).
_KEYS_LOCK = 0x5AFE_0001


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def public_jwk(raw_public: bytes) -> dict[str, str]:
    """The RFC 8037 OKP form of an Ed25519 public key."""
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw_public)}


def ec_public_jwk(raw_public: bytes) -> dict[str, str]:
    """RFC 7518 §6.2 form of a P-256 public key stored as its uncompressed point (0x04 || x || y)."""
    return {"kty": "EC", "crv": "P-256", "x": _b64url(raw_public[1:33]), "y": _b64url(raw_public[33:65])}


def jwk_of(raw_public: bytes, algorithm: str) -> dict[str, str]:
    return ec_public_jwk(raw_public) if algorithm == HEALTH_CARD_ALGORITHM else public_jwk(raw_public)


def thumbprint(raw_public: bytes, algorithm: str = ALGORITHM) -> str:
    """RFC 7638 JWK thumbprint: the key's ``kid``, stable and derived from the key itself."""
    canonical = json.dumps(jwk_of(raw_public, algorithm), sort_keys=True, separators=(",", ":")).encode()
    return _b64url(hashlib.sha256(canonical).digest())


PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class RingKey:
    kid: str
    public_key: PublicKey
    raw_public: bytes
    status: str
    not_before: datetime
    not_after: datetime | None
    private_key: PrivateKey | None
    purpose: str = "token"

    @property
    def algorithm(self) -> str:
        return PURPOSE_ALGORITHMS[self.purpose]

    def jwk(self) -> dict[str, str]:
        return {**jwk_of(self.raw_public, self.algorithm), "kid": self.kid, "alg": self.algorithm, "use": "sig"}


class KeyRing:
    """A snapshot of the published keys: which verify, which one signs now."""

    def __init__(
        self,
        keys: list[RingKey],
        *,
        max_token_lifetime: timedelta,
        max_pass_lifetime: timedelta = timedelta(hours=24),
    ) -> None:
        self._keys = sorted(keys, key=lambda k: k.not_before, reverse=True)
        # Access tokens verify with token keys only: a pass or health-card key never opens an API.
        self._by_kid = {
            k.kid: k.public_key for k in keys if k.purpose == "token" and isinstance(k.public_key, Ed25519PublicKey)
        }
        self.pass_keys: dict[str, Ed25519PublicKey] = {
            k.kid: k.public_key for k in keys if k.purpose == "pass" and isinstance(k.public_key, Ed25519PublicKey)
        }
        self._lifetimes = {"token": max_token_lifetime, "pass": max_pass_lifetime, "health_card": timedelta(0)}
        # The gateway's JWKS: the token and pass keys (EdDSA). Health cards have their issuer's own.
        self.jwks: dict[str, Any] = {"keys": [k.jwk() for k in self._keys if k.purpose != "health_card"]}
        self.health_card_jwks: dict[str, Any] = {"keys": [k.jwk() for k in self._keys if k.purpose == "health_card"]}

    def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        return self._by_kid.get(kid)

    @property
    def kids(self) -> list[str]:
        return [k.kid for k in self._keys]

    def signing_key(self, now: datetime | None = None) -> tuple[str, Ed25519PrivateKey]:
        """The newest token key whose ``not_before`` has come and which outlives a token signed now."""
        kid, key = self.signing_key_for("token", now)
        assert isinstance(key, Ed25519PrivateKey)
        return kid, key

    def signing_key_for(self, purpose: str, now: datetime | None = None) -> tuple[str, PrivateKey]:
        """The newest key of ``purpose`` usable now (outliving what it signs now)."""
        now = now or datetime.now(UTC)
        lifetime = self._lifetimes[purpose]
        for k in self._keys:
            if k.purpose != purpose or k.private_key is None or k.not_before > now:
                continue
            if k.not_after is not None and k.not_after < now + lifetime:
                continue
            return k.kid, k.private_key
        raise LookupError(f"no {purpose} signing key is usable now")


def _new_key(kek: KeyEncryptionKey, *, not_before: datetime, purpose: str = "token") -> SigningKey:
    algorithm = PURPOSE_ALGORITHMS[purpose]
    if algorithm == HEALTH_CARD_ALGORITHM:
        ec_private = ec.generate_private_key(ec.SECP256R1())
        raw_public = ec_private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        raw_private = ec_private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    else:
        private = Ed25519PrivateKey.generate()
        raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        raw_private = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
    kid = thumbprint(raw_public, algorithm)
    if purpose == "pass":
        kid = PASS_KID_PREFIX + kid
    return SigningKey(
        kid=kid,
        algorithm=algorithm,
        purpose=purpose,
        public_key=raw_public,
        private_key_encrypted=kek.encrypt(raw_private, kid.encode()),
        kek_id=kek.kek_id,
        status="active",
        not_before=not_before,
    )


async def _lock(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEYS_LOCK})


async def ensure_signing_key(session: AsyncSession, kek: KeyEncryptionKey, purpose: str = "token") -> str | None:
    """A fresh install makes its first key (of each purpose); returns its kid, or None when one exists."""
    await _lock(session)
    existing = await session.scalar(
        select(SigningKey.kid).where(SigningKey.status == "active", SigningKey.purpose == purpose).limit(1)
    )
    if existing is not None:
        return None
    key = _new_key(kek, not_before=datetime.now(UTC), purpose=purpose)
    session.add(key)
    await session.flush()
    return key.kid


async def rotate(
    session: AsyncSession,
    kek: KeyEncryptionKey,
    *,
    publish_ahead: timedelta,
    overlap: timedelta | None,
    purpose: str = "token",
) -> SigningKey:
    """Add a new active key, published now and signing after ``publish_ahead`` (every process
    has re-read the ring by then); the previous active key retires ``overlap`` after that, once
    every token it signed has expired. Keys past their ``not_after`` become ``retired``.
    Each purpose rotates on its own; ``overlap`` None keeps the old key published (health cards
    do not expire, so their keys must stay verifiable)."""
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
        .where(SigningKey.status == "active", SigningKey.purpose == purpose)
        .values(status="retiring", not_after=None if overlap is None else starts + overlap, updated_at=now)
    )
    key = _new_key(kek, not_before=starts, purpose=purpose)
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


async def load_ring(
    session: AsyncSession,
    kek: KeyEncryptionKey,
    *,
    max_token_lifetime: timedelta,
    max_pass_lifetime: timedelta = timedelta(hours=24),
) -> KeyRing:
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
        private: PrivateKey | None = None
        public: PublicKey
        if row.algorithm == HEALTH_CARD_ALGORITHM:
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), row.public_key)
        else:
            public = Ed25519PublicKey.from_public_bytes(row.public_key)
        if row.kek_id == kek.kek_id:
            raw = kek.decrypt(row.private_key_encrypted, row.kid.encode())
            if row.algorithm == HEALTH_CARD_ALGORITHM:
                loaded = serialization.load_der_private_key(raw, password=None)
                assert isinstance(loaded, ec.EllipticCurvePrivateKey)
                private = loaded
            else:
                private = Ed25519PrivateKey.from_private_bytes(raw)
        keys.append(
            RingKey(
                kid=row.kid,
                purpose=row.purpose,
                public_key=public,
                raw_public=row.public_key,
                status=row.status,
                not_before=row.not_before,
                not_after=row.not_after,
                private_key=private,
            )
        )
    return KeyRing(keys, max_token_lifetime=max_token_lifetime, max_pass_lifetime=max_pass_lifetime)
