"""Identifiers that are unique by construction and reproducible from the seed.

Randomness comes from ``random.Random`` (stdlib, seeded); uniqueness never relies on luck:
every identifier is a bijection of a global index (a person's place in the province, an
enterprise's number), dressed up to look like the real thing.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import uuid
from datetime import datetime
from typing import Final, cast

from asyncpg.pgproto.pgproto import UUID as PgUUID
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from safework_cli.seed.province import LOCAL_TZ

_MASK64: Final = (1 << 64) - 1
# UUIDv7 timestamps: people are "registered" a millisecond apart from the registry's start
# (the May 2021 mass testing, seeds/002); enterprises just before them.
REGISTRY_EPOCH_MS: Final = int(datetime(2021, 5, 15, tzinfo=LOCAL_TZ).timestamp() * 1000)


def uuid7(ms: int, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit millisecond time, version 7, variant 10, random bits from
    ``rng``. Ordered by ``ms``, so index inserts append instead of scattering. It is asyncpg's
    own ``uuid.UUID`` subclass, which is cheaper to make and to send."""
    rand = rng.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return cast(uuid.UUID, PgUUID(value.to_bytes(16, "big")))


def mix64(x: int) -> int:
    """SplitMix64's finaliser: a bijection on 64-bit integers that looks random."""
    x &= _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class Scramble:
    """A keyed permutation of ``0 .. 999_999``: four Feistel rounds on (thousands, units)."""

    __slots__ = ("_tables",)

    def __init__(self, rng: random.Random, rounds: int = 4) -> None:
        self._tables = [[rng.randrange(1000) for _ in range(1000)] for _ in range(rounds)]

    def __call__(self, i: int) -> int:
        left, right = divmod(i, 1000)
        for table in self._tables:
            left, right = right, (left + table[right]) % 1000
        return left * 1000 + right


TAX_WEIGHTS: Final = (31, 29, 23, 19, 17, 13, 7, 5, 3)


def tax_check_digit(first9: str) -> int | None:
    """The tax code's tenth digit (weights 31 29 23 19 17 13 7 5 3, mod 11); None when the
    nine digits have no valid check digit."""
    total = sum(int(d) * w for d, w in zip(first9, TAX_WEIGHTS, strict=True))
    check = 10 - total % 11
    return None if check == 10 else check


def tax_codes(rng: random.Random, count: int, prefix: str) -> list[str]:
    """``count`` distinct valid 10-digit tax codes starting with a 2-digit province prefix
    (Bắc Giang's is 24; Hà Nội's 01 for head offices of branches)."""
    codes: list[str] = []
    need = count
    seen: set[int] = set()
    while need > 0:
        for serial in rng.sample(range(10_000_000), min(10_000_000, need + need // 8 + 16)):
            if serial in seen:
                continue
            seen.add(serial)
            first9 = f"{prefix}{serial:07d}"
            check = tax_check_digit(first9)
            if check is not None:
                codes.append(f"{first9}{check}")
                need -= 1
                if need == 0:
                    break
    return codes


class NationalIdSealer:
    """The registry's national-ID protection (``NationalIdCipher``: HMAC-SHA256 look-up hash,
    AES-GCM with associated data ``national-id``), with a deterministic nonce: the first 12
    bytes of the look-up hash. Identical plaintexts give identical ciphertexts (their hashes
    are equal anyway) and different ones get different nonces, so the output is byte-identical
    from run to run. For seeded demo and benchmark data only."""

    __slots__ = ("_aes", "_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        hash_key = hmac.new(secret, b"safework/national-id/hash", hashlib.sha256).digest()
        enc_key = hmac.new(secret, b"safework/national-id/enc", hashlib.sha256).digest()
        block = hash_key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._aes = AESGCM(enc_key)

    def seal(self, national_id: str) -> tuple[bytes, bytes]:
        """(look-up hash, nonce + ciphertext) of a normalised national ID."""
        data = national_id.encode()
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        digest = outer.digest()
        nonce = digest[:12]
        return digest, nonce + self._aes.encrypt(nonce, data, b"national-id")
