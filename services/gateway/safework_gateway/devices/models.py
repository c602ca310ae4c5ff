from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_gateway.db import Base, Timestamped


class ActivationCode(Timestamped, Base):
    """A one-time code an enterprise (or the authority) gives a worker on its roster. Only a
    keyed hash (HMAC-SHA256) of the code is stored, so a copy of the table reveals no code."""

    __tablename__ = "gateway_activation_code"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    enterprise_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    issued_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_by_device: Mapped[str | None] = mapped_column(String(128))


class Device(Timestamped, Base):
    """One activation of a worker's device. ``session_id`` names the activation and its
    refresh-token family; every token of the device carries it (``sid``). Re-activating a device
    revokes its previous activation; at most one live activation per device."""

    __tablename__ = "gateway_device"
    __table_args__ = (
        Index(
            "uq_gateway_device_live_device_id",
            "device_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        CheckConstraint("platform IN ('android', 'ios', 'web', 'other')", name="platform"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    device_id: Mapped[str] = mapped_column(String(128), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    enterprise_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    app_id: Mapped[str] = mapped_column(String(128))
    app_version: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(16))
    last_sync_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Timestamped, Base):
    """One refresh token of a device's family, stored as a keyed hash. Each use rotates it; a
    second use of a rotated token is theft (RFC 6819 §5.2.2.3) and revokes the device."""

    __tablename__ = "gateway_refresh_token"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("gateway_device.session_id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UnsanctionedAttempt(Timestamped, Base):
    """An activation or sync by an app the policy does not sanction (seeds/000 §2.4: one app
    only). Never holds the activation code."""

    __tablename__ = "gateway_unsanctioned_attempt"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(128), index=True)
    app_version: Mapped[str | None] = mapped_column(String(32))
    platform: Mapped[str | None] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(128))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str | None] = mapped_column(String(128))
