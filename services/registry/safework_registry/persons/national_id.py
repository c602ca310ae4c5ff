"""National ID numbers: validated, looked up by keyed hash, stored encrypted, shown masked.

Two forms are valid (seeds: Vietnamese identity documents): the 12-digit citizen ID (CCCD),
whose first three digits are a province code (001-096) and fourth a century/sex digit, and the
9-digit old ID (CMND). The number is never stored in clear and never logged."""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_CCCD = re.compile(r"^[0-9]{12}$")
_CMND = re.compile(r"^[0-9]{9}$")


class InvalidNationalId(ValueError):
    pass


def normalize(raw: str) -> str:
    """Strip spaces and dashes; validate; return the bare digits."""
    value = re.sub(r"[\s\-.]", "", raw)
    if _CCCD.match(value):
        province = int(value[:3])
        if not 1 <= province <= 96:
            raise InvalidNationalId("a 12-digit citizen ID starts with a province code 001-096")
        if value[3] not in "0123456789":  # century/sex digit; every digit is a defined code
            raise InvalidNationalId("invalid century/sex digit")
        return value
    if _CMND.match(value):
        return value
    raise InvalidNationalId("a national ID is 12 digits (citizen ID) or 9 digits (old ID)")


def kind(value: str) -> str:
    return "CCCD" if len(value) == 12 else "CMND"


class NationalIdCipher:
    """Keyed hash for look-up and AES-GCM for the authority's read-back, both from one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the national ID key must be at least 16 bytes")
        self._hash_key = hmac.new(secret, b"safework/national-id/hash", hashlib.sha256).digest()
        self._enc = AESGCM(hmac.new(secret, b"safework/national-id/enc", hashlib.sha256).digest())

    def hash(self, normalized: str) -> bytes:
        return hmac.new(self._hash_key, normalized.encode(), hashlib.sha256).digest()

    def encrypt(self, normalized: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._enc.encrypt(nonce, normalized.encode(), b"national-id")

    def decrypt(self, blob: bytes) -> str:
        return self._enc.decrypt(blob[:12], blob[12:], b"national-id").decode()


def mask(last4: str, length: int = 12) -> str:
    return "*" * (length - 4) + last4
