from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base, Timestamped

ZONE_TYPES = ("KCN", "CCN", "OUTSIDE")
INDUSTRIES = ("garment", "shuttlecock", "other")
OPERATING_STATUSES = ("cleared", "suspended")


class Enterprise(Timestamped, Base):
    """An employer. Its zone type (industrial park, cluster, outside) drives vaccine priority;
    its industry and size pick its testing cadence (DOMAIN.md, seeds/000 §2.2)."""

    __tablename__ = "enterprise"
    __table_args__ = (
        CheckConstraint(r"tax_code ~ '^[0-9]{10}(-[0-9]{3})?$'", name="tax_code_format"),
        CheckConstraint("zone_type IN ('KCN', 'CCN', 'OUTSIDE')", name="zone_type"),
        CheckConstraint("industry IN ('garment', 'shuttlecock', 'other')", name="industry"),
        CheckConstraint("operating_status IN ('cleared', 'suspended')", name="operating_status"),
        CheckConstraint("headcount >= 0", name="headcount_non_negative"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_both_or_neither"),
        CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="coordinates_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    tax_code: Mapped[str] = mapped_column(String(14), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    district: Mapped[str] = mapped_column(String(64), index=True)
    zone_type: Mapped[str] = mapped_column(String(8))
    zone_name: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str] = mapped_column(String(16), server_default=text("'other'"))
    headcount: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    operating_status: Mapped[str] = mapped_column(String(16), server_default=text("'cleared'"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Optional WGS84 position, for the public map of safe enterprises (seeds/002: "công bố sơ đồ").
    latitude: Mapped[float | None] = mapped_column(Numeric(9, 6, asdecimal=False))
    longitude: Mapped[float | None] = mapped_column(Numeric(9, 6, asdecimal=False))
