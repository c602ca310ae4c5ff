"""The key-encryption key (KEK): AES-256-GCM for signing keys at rest, and HMAC keys derived
from it (HKDF, RFC 5869) for hashing activation codes and refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from safework_gateway.settings import GatewaySettings

log = logging.getLogger("safework.gateway.keys")

_NONCE_BYTES = 12


class KeyDecryptionError(Exception):
    """A stored key does not open with this KEK (another install's key, or a changed KEK)."""


class KeyEncryptionKey:
    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(raw)
        self.kek_id = hashlib.sha256(b"safework-gateway-kek-id:" + raw).hexdigest()[:16]
        self._raw = raw

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """``nonce || ciphertext``; the associated data (the key id) binds the blob to its row."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], associated_data)
        except InvalidTag as exc:
            raise KeyDecryptionError("a signing key does not decrypt with this key-encryption key") from exc

    def derive(self, purpose: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(self._raw)


class SecretHasher:
    """Keyed hash for high-entropy one-time secrets looked up by value (activation codes, refresh
    tokens): HMAC-SHA256 under a key derived from the KEK, so a copy of the table alone cannot be
    brute-forced, and the lookup stays an index probe."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def hash(self, value: str) -> bytes:
        return hmac.new(self._key, value.encode(), hashlib.sha256).digest()


def _decode_kek(text: str) -> bytes:
    text = text.strip()
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != 32:
        raise ValueError("GATEWAY_KEY_ENCRYPTION_KEY must be 32 bytes, base64url-encoded")
    return raw


def load_kek(settings: GatewaySettings) -> KeyEncryptionKey:
    """The KEK from ``GATEWAY_KEY_ENCRYPTION_KEY``, else from its file; outside production a
    fresh install writes a new file (mode 0600) beside the other install secrets."""
    if settings.key_encryption_key is not None:
        return KeyEncryptionKey(_decode_kek(settings.key_encryption_key.get_secret_value()))
    path = settings.key_encryption_key_file
    if not path.exists():
        if settings.environment == "production":
            raise RuntimeError("production needs GATEWAY_KEY_ENCRYPTION_KEY or an existing key file")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process of this install made it a moment ago
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="))
            log.info("generated a new key-encryption key file")
    return KeyEncryptionKey(_decode_kek(path.read_text()))
