from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from safework_gateway.db import Base, Timestamped

KEY_STATUSES = ("active", "retiring", "retired")
# What a key signs: access tokens, gate passes (each its own key and kid), SMART Health Cards (ES256).
KEY_PURPOSES = ("token", "pass", "health_card")


class SigningKey(Timestamped, Base):
    """A key pair that signs public tokens (Ed25519), gate passes (Ed25519, its own kid) or
    SMART Health Cards (P-256, ES256, as that specification requires). The private half is AES-GCM encrypted under
    the key-encryption key; ``kek_id`` says which one.

    A rotation adds an ``active`` key that is published at once but signs only from
    ``not_before`` (so every gateway process knows it before any token carries its kid), and
    turns the previous key ``retiring``: still published and accepted until ``not_after``, when
    the last token it signed has expired; then ``retired``."""

    __tablename__ = "gateway_signing_key"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'retiring', 'retired')", name="status"),
        CheckConstraint("algorithm IN ('EdDSA', 'ES256')", name="algorithm"),
        CheckConstraint("purpose IN ('token', 'pass', 'health_card')", name="purpose"),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16), server_default=text("'EdDSA'"))
    purpose: Mapped[str] = mapped_column(String(16), server_default=text("'token'"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    not_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
