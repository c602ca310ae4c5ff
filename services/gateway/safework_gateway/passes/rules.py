"""Pure rules of the gate pass: what it carries, how long it lasts, what revokes it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

# Verdict reason codes (the scheduler's) that say why a live pass must go.
_POSITIVE = frozenset({"POSITIVE", "POOL_POSITIVE"})
_SUSPENDED = frozenset({"ENTERPRISE_SUSPENDED"})


def pseudonym(key: bytes, person_id: str, enterprise_id: str) -> str:
    """A stable subject per person and enterprise (HMAC-SHA256, 128 bits, base64url) that does not
    reveal the person's ID; the gateway alone maps it back."""
    digest = hmac.new(key, f"{enterprise_id}:{person_id}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def pass_expiry(now: datetime, window_end: datetime | None, max_ttl: timedelta) -> datetime:
    """The earlier of ``now + max_ttl`` and the end of the person's next due window (the
    scheduler's ``PassVerdictOut.next_window_end``: the earliest end after ``now``, or None)."""
    if window_end is not None and window_end > now:
        return min(now + max_ttl, window_end)
    return now + max_ttl


def pass_claims(
    *,
    issuer: str,
    pass_id: str,
    enterprise_id: str,
    subject: str,
    masked_name: str,
    issued_at: datetime,
    expires_at: datetime,
) -> dict[str, Any]:
    """The minimum a gate needs: no national ID, no results, no symptoms."""
    iat = int(issued_at.timestamp())
    return {
        "iss": issuer,
        "jti": pass_id,
        "ent": enterprise_id,
        "sub": subject,
        "name": masked_name,
        "iat": iat,
        "nbf": iat,
        "exp": int(expires_at.timestamp()),
    }


def revocation_reason(person: dict[str, Any] | None, due: dict[str, Any] | None, enterprise_id: str) -> str | None:
    """Why a live pass of ``enterprise_id`` must be revoked now, or None to keep it.

    ``person``: the registry's record (None: gone); ``due``: the scheduler's verdict (None: not
    asked). Leaving (or moving to another enterprise) first, then the verdict's reasons."""
    if person is None or person.get("status") == "left" or str(person.get("enterprise_id")) != enterprise_id:
        return "left_enterprise"
    if due is None or due.get("cleared_to_work"):
        return None
    reasons = set(due.get("not_cleared") or [])
    if reasons & _POSITIVE:
        return "positive_result"
    if any("CONTACT" in r or r in ("F0", "F1", "F2") for r in reasons):
        return "contact"
    if reasons & _SUSPENDED:
        return "enterprise_suspended"
    return "not_cleared"
