"""Secrets a fresh install generates for itself; none of them ever sits in the repository."""

from __future__ import annotations

import secrets
from pathlib import Path

from safework_common.internal_auth import ensure_keypair
from safework_common.settings import INTERNAL_PRIVATE_KEY_FILE, INTERNAL_PUBLIC_KEY_FILE
from safework_registry.settings import NATIONAL_ID_KEY_FILE


def ensure_install_secrets(keys_dir: Path) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    ensure_keypair(keys_dir / INTERNAL_PRIVATE_KEY_FILE, keys_dir / INTERNAL_PUBLIC_KEY_FILE)
    nid = keys_dir / NATIONAL_ID_KEY_FILE
    if not nid.exists():
        nid.write_text(secrets.token_hex(32))
        nid.chmod(0o600)
