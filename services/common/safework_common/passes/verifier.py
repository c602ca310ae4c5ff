"""Offline verification of Safework gate passes, for gate devices and enterprises to embed.

Needs only the gateway's JWKS (``/.well-known/jwks.json``) and a revocation list fetched earlier
(``GET /api/v1/passes/revocations``); no network at the gate. Depends on ``cryptography`` only.

A pass is a compact JWS (RFC 7515), ``alg`` EdDSA (Ed25519, RFC 8037), header ``typ``
``safework-pass+jwt``, signed by a key whose kid starts with ``pass-`` (an access-token key of the
same JWKS verifies no pass). Claims: ``jti`` pass id, ``ent`` enterprise, ``sub`` a pseudonym,
``name`` a masked name, ``iat``/``nbf``/``exp``. The revocation list is a compact JWS of the same
keys, ``typ`` ``safework-revocations+jwt``, listing revoked pass ids still inside their validity.

    verifier = PassVerifier(jwks)
    verifier.load_revocations(list_token)
    check = verifier.verify(qr_text)
    if check.valid: ...
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PASS_TYP = "safework-pass+jwt"  # noqa: S105 (a media type)
REVOCATIONS_TYP = "safework-revocations+jwt"
PASS_KID_PREFIX = "pass-"  # noqa: S105 (a kid prefix)
ISSUER = "safework"
ALGORITHM = "EdDSA"
MAX_PASS_CHARS = 2048
# A revocation list names every revoked pass still valid: ~25 characters each, so tens of
# thousands fit; the bound only keeps a hostile file from exhausting memory.
MAX_LIST_CHARS = 32 * 1024 * 1024

# Outcomes, stable codes (catalogued with the API's).
VALID = "pass_valid"
INVALID = "pass_invalid"  # malformed, truncated, tampered, wrong type or issuer
UNKNOWN_KEY = "pass_unknown_key"  # signed by a key that is not a published pass key
EXPIRED = "pass_expired"
NOT_YET_VALID = "pass_not_yet_valid"
REVOKED = "pass_revoked"
STALE_LIST = "revocation_list_stale"  # the revocation list is too old (or missing) to trust


class RevocationListError(ValueError):
    """The revocation list does not verify (bad signature, unknown key, wrong type, expired)."""


class PassCheck(NamedTuple):
    """What a check found (immutable; a named tuple: half the cost of a frozen dataclass per pass)."""

    valid: bool
    code: str
    pass_id: str | None = None
    enterprise_id: str | None = None
    subject: str | None = None
    name: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64decode(segment: str) -> bytes:
    """base64url without padding (``base64.urlsafe_b64decode`` without its Python layers)."""
    return binascii.a2b_base64(segment.encode("ascii").translate(_URLSAFE) + b"=" * (-len(segment) % 4))


def pass_keys_from_jwks(jwks: dict[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The pass keys of a JWKS: Ed25519 (OKP) keys whose kid starts with ``pass-``."""
    keys = {}
    for jwk in jwks.get("keys", []):
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid.startswith(PASS_KID_PREFIX):
            continue
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
            continue
        try:
            keys[kid] = Ed25519PublicKey.from_public_bytes(_b64decode(jwk["x"]))
        except (ValueError, binascii.Error):
            continue
    return keys


def _header(segment: str, keys: dict[str, Ed25519PublicKey], typ: str) -> Ed25519PublicKey | str:
    """The pass key a JWS header names, or the outcome refusing it (``INVALID``, ``UNKNOWN_KEY``)."""
    try:
        header = json.loads(_b64decode(segment))
    except (ValueError, binascii.Error):
        return INVALID
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM or header.get("typ") != typ:
        return INVALID
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    return UNKNOWN_KEY if key is None else key


# Headers are few (one per pass key and type) and repeat on every pass: what each one resolves
# to is kept per verifier, at most this many (a hostile stream of distinct headers only refills it).
_HEADER_CACHE = 64


def _open(
    token: str,
    keys: dict[str, Ed25519PublicKey],
    typ: str,
    max_chars: int = MAX_PASS_CHARS,
    headers: dict[str, Ed25519PublicKey | str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """(outcome, claims): the signature checked with the named pass key; no claim checked yet.
    ``headers``: a cache of what header segments resolved to (with these ``keys`` and ``typ``)."""
    if not isinstance(token, str) or len(token) > max_chars:
        return INVALID, {}
    parts = token.strip().split(".")
    if len(parts) != 3:
        return INVALID, {}
    head = parts[0]
    key = headers.get(head) if headers is not None else None
    if key is None:
        key = _header(head, keys, typ)
        if headers is not None:
            if len(headers) >= _HEADER_CACHE:
                headers.clear()
            headers[head] = key
    if isinstance(key, str):
        return key, {}
    try:
        key.verify(_b64decode(parts[2]), f"{head}.{parts[1]}".encode("ascii"))
        claims = json.loads(_b64decode(parts[1]))
    except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError):
        return INVALID, {}
    if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
        return INVALID, {}
    return VALID, claims


class PassVerifier:
    """Verifies passes against a JWKS and the last revocation list, with no I/O.

    ``max_list_age_seconds``: a list older than this (or none at all) makes every pass
    ``revocation_list_stale`` rather than valid, so a gate device that stopped refreshing fails
    closed. ``None`` accepts passes without any list (for tests and demos only)."""

    def __init__(
        self,
        jwks: dict[str, Any],
        *,
        leeway_seconds: int = 30,
        max_list_age_seconds: int | None = 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = pass_keys_from_jwks(jwks)  # parsed once: Ed25519PublicKey by kid
        self._headers: dict[str, Ed25519PublicKey | str] = {}
        self._leeway = leeway_seconds
        self._max_list_age = max_list_age_seconds
        self._clock = clock
        self.revoked: frozenset[str] = frozenset()
        self.list_issued_at: int | None = None

    @property
    def kids(self) -> list[str]:
        return sorted(self._keys)

    def load_revocations(self, token: str) -> int:
        """Verify and adopt a revocation list; returns how many pass ids it revokes."""
        outcome, claims = _open(token, self._keys, REVOCATIONS_TYP, MAX_LIST_CHARS)
        if outcome != VALID:
            raise RevocationListError(f"the revocation list does not verify ({outcome})")
        now = self._clock()
        revoked, iat, exp = claims.get("revoked"), claims.get("iat"), claims.get("exp")
        if not isinstance(revoked, list) or not all(isinstance(r, str) for r in revoked):
            raise RevocationListError("the revocation list has no list of pass ids")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp + self._leeway < now:
            raise RevocationListError("the revocation list has expired")
        if self.list_issued_at is not None and iat < self.list_issued_at:
            raise RevocationListError("the revocation list is older than the one in use")
        self.revoked = frozenset(revoked)
        self.list_issued_at = iat
        return len(self.revoked)

    def verify(self, text: str) -> PassCheck:
        """The pass as read from the QR (the compact JWS itself)."""
        outcome, claims = _open(text, self._keys, PASS_TYP, headers=self._headers)
        if outcome != VALID:
            return PassCheck(False, outcome)
        get = claims.get
        pass_id, iat, exp = get("jti"), get("iat"), get("exp")
        nbf = get("nbf", iat)
        if type(pass_id) is not str or type(iat) is not int or type(nbf) is not int or type(exp) is not int:
            return PassCheck(False, INVALID)
        now = self._clock()
        if exp + self._leeway <= now:
            code = EXPIRED
        elif nbf - self._leeway > now:
            code = NOT_YET_VALID
        elif pass_id in self.revoked:  # a frozenset, built once per list
            code = REVOKED
        elif self._max_list_age is not None and (
            self.list_issued_at is None or now - self.list_issued_at > self._max_list_age
        ):
            code = STALE_LIST
        else:
            code = VALID
        ent, sub, name = get("ent"), get("sub"), get("name")
        return PassCheck(
            code is VALID,
            code,
            pass_id=pass_id,
            enterprise_id=ent if type(ent) is str else None,
            subject=sub if type(sub) is str else None,
            name=name if type(name) is str else None,
            issued_at=iat,
            expires_at=exp,
        )
