from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base, Timestamped

VENUE_KINDS = ("gate", "production_unit", "canteen", "shuttle_bus")


class Venue(Timestamped, Base):
    """A QR check-in point at an enterprise (seeds/004: QR-code check-in at premises)."""

    __tablename__ = "venue"
    __table_args__ = (CheckConstraint("kind IN ('gate', 'production_unit', 'canteen', 'shuttle_bus')", name="kind"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    enterprise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    qr_code: Mapped[str] = mapped_column(String(128), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class CheckIn(Timestamped, Base):
    """A QR check-in. Tracing reads a venue's check-ins around an instant: the venue index
    carries ``person_id`` so that read is an index-only scan (no heap page per check-in).
    Partitioned by month of ``checked_in_at`` (``safework_registry.partitions``), so the primary
    key is ``(id, checked_in_at)``."""

    __tablename__ = "checkin"
    __table_args__ = (
        Index("ix_checkin_venue_id_checked_in_at", "venue_id", "checked_in_at", postgresql_include=["person_id"]),
        Index("ix_checkin_person_id_checked_in_at", "person_id", "checked_in_at"),
        {"postgresql_partition_by": "RANGE (checked_in_at)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"))
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
