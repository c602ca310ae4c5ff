from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base, Timestamped


class AppInstallation(Timestamped, Base):
    """A device running the app, for a worker (``person_id``) or an enterprise account
    (``enterprise_id``). Syncs by the sanctioned app move ``last_sync_at``; the single-app
    mandate (seeds/000 §2.4) is judged from these rows."""

    __tablename__ = "app_installation"
    __table_args__ = (
        CheckConstraint("person_id IS NOT NULL OR enterprise_id IS NOT NULL", name="has_owner"),
        CheckConstraint("platform IN ('android', 'ios', 'web', 'other')", name="platform"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), unique=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(String(128))
    app_version: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_sync_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
