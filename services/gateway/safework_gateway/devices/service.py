"""Activation codes, device activations and rotating refresh tokens.

Codes and refresh tokens are random and stored only as keyed hashes (:class:`SecretHasher`).
A refresh token works once: its use returns a new one; presenting a used one again means it was
copied, and the whole activation is revoked (RFC 6819 §5.2.2.3, OAuth 2.0 Security BCP §4.14)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.errors import BadRequest, Conflict, Unauthorized
from safework_gateway.devices.models import ActivationCode, Device, RefreshToken
from safework_gateway.keys.crypto import SecretHasher

# Crockford base32: no I, L, O, U, so a code read aloud or typed survives; 10 symbols = 50 bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_code(code: str) -> str:
    """What the worker typed, as it was issued: case, spaces, dashes and look-alikes forgiven."""
    return "".join(c for c in code.upper() if c not in " -").translate(_CONFUSABLE)


@dataclass(frozen=True)
class IssuedCode:
    person_id: uuid.UUID
    code: str
    expires_at: datetime


async def issue_codes(
    session: AsyncSession,
    hasher: SecretHasher,
    *,
    person_ids: list[uuid.UUID],
    enterprise_id: uuid.UUID,
    issued_by: str,
    ttl: timedelta,
) -> list[IssuedCode]:
    """One new code per person; a person's earlier unused codes stop working."""
    now = datetime.now(UTC)
    await session.execute(
        update(ActivationCode)
        .where(
            ActivationCode.person_id.in_(person_ids),
            ActivationCode.used_at.is_(None),
            ActivationCode.expires_at > now,
        )
        .values(expires_at=now, updated_at=now)
    )
    issued = [IssuedCode(pid, new_code(), now + ttl) for pid in person_ids]
    session.add_all(
        ActivationCode(
            code_hash=hasher.hash(normalize_code(item.code)),
            person_id=item.person_id,
            enterprise_id=enterprise_id,
            issued_by=issued_by,
            expires_at=item.expires_at,
        )
        for item in issued
    )
    await session.flush()
    return issued


async def redeem_code(session: AsyncSession, hasher: SecretHasher, code: str, device_id: str) -> ActivationCode:
    """Mark the code used (the row stays locked until the request commits), or say why not."""
    row = await session.scalar(
        select(ActivationCode).where(ActivationCode.code_hash == hasher.hash(normalize_code(code))).with_for_update()
    )
    if row is None:
        raise BadRequest("No such activation code.", code="activation_code_invalid", field="body.code")
    if row.used_at is not None:
        raise Conflict("This activation code has been used.", code="activation_code_used", field="body.code")
    now = datetime.now(UTC)
    if row.expires_at <= now:
        raise BadRequest("This activation code has expired.", code="activation_code_expired", field="body.code")
    row.used_at = now
    row.used_by_device = device_id
    await session.flush()
    return row


async def _revoke_live(
    session: AsyncSession, device_id: str, reason: str, enterprise_id: uuid.UUID | None
) -> list[str]:
    now = datetime.now(UTC)
    q = update(Device).where(Device.device_id == device_id, Device.revoked_at.is_(None))
    if enterprise_id is not None:
        q = q.where(Device.enterprise_id == enterprise_id)
    result = await session.execute(
        q.values(revoked_at=now, revoked_reason=reason, updated_at=now).returning(Device.session_id)
    )
    return [str(s) for s in result.scalars().all()]


async def start_session(
    session: AsyncSession,
    code: ActivationCode,
    *,
    device_id: str,
    app_id: str,
    app_version: str,
    platform: str,
) -> tuple[Device, list[str]]:
    """A new activation of the device; its earlier activation (if any) is revoked. Returns the
    new device row and the revoked session ids."""
    revoked = await _revoke_live(session, device_id, "reactivated", None)
    device = Device(
        session_id=uuid.uuid4(),
        device_id=device_id,
        person_id=code.person_id,
        enterprise_id=code.enterprise_id,
        app_id=app_id,
        app_version=app_version,
        platform=platform,
    )
    session.add(device)
    await session.flush()
    return device, revoked


async def new_refresh_token(session: AsyncSession, hasher: SecretHasher, device: Device, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=hasher.hash(token),
            session_id=device.session_id,
            expires_at=datetime.now(UTC) + ttl,
        )
    )
    await session.flush()
    return token


class RefreshReused(Exception):
    """A rotated refresh token came back: the activation was revoked (and committed)."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id


INVALID_REFRESH = "The refresh token is not valid."


async def use_refresh_token(session: AsyncSession, hasher: SecretHasher, token: str) -> Device:
    """The device a live refresh token belongs to, with the token spent. A reused token revokes
    the activation and raises :class:`RefreshReused` after flushing the revocation."""
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hasher.hash(token)).with_for_update()
    )
    if row is None:
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token", field="body.refresh_token")
    device = await session.get(Device, row.session_id, with_for_update=True)
    if device is None or device.revoked_at is not None:
        raise Unauthorized("This device has been revoked.", code="device_revoked", field="body.refresh_token")
    now = datetime.now(UTC)
    if row.used_at is not None:
        device.revoked_at = now
        device.revoked_reason = "refresh_token_reused"
        await session.flush()
        raise RefreshReused(str(device.session_id))
    if row.expires_at <= now:
        raise Unauthorized("The refresh token has expired.", code="refresh_token_expired", field="body.refresh_token")
    row.used_at = now
    await session.flush()
    return device


async def revoke_device(session: AsyncSession, device_id: str, *, enterprise_id: uuid.UUID | None) -> list[str]:
    """Revoke the device's live activation (an enterprise only its own workers')."""
    return await _revoke_live(session, device_id, "revoked", enterprise_id)


async def touch(session: AsyncSession, session_id: str) -> None:
    now = datetime.now(UTC)
    await session.execute(
        update(Device).where(Device.session_id == uuid.UUID(session_id)).values(last_sync_at=now, updated_at=now)
    )
