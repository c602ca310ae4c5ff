"""National ID numbers: validated, looked up by keyed hash, stored encrypted, shown masked.

Two forms are valid (seeds: Vietnamese identity documents): the 12-digit citizen ID (CCCD),
whose first three digits are a province code (001-096) and fourth a century/sex digit, and the
9-digit old ID (CMND). The number is never stored in clear and never logged."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from safework_common.contract.national_id import InvalidNationalId as InvalidNationalId
from safework_common.contract.national_id import kind as kind
from safework_common.contract.national_id import normalize as normalize


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
