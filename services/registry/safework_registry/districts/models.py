from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, Index, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base

RATIO_KINDS = ("small_enterprise", "boarding_house")


class DistrictRatio(Base):
    """A sampling ratio a district's steering committee set (seeds/000 §2.2: "giao Ban chỉ đạo
    phòng, chống dịch cấp huyện quyết định tỷ lệ lấy mẫu tầm soát ngẫu nhiên … trong từng giai
    đoạn"): for enterprises under 20 workers, or for the random tests of boarding-house renters
    and owners (§2.3). Append-only: each setting is a row, in force from ``effective_from``; the
    one in force on a day is the row with the latest date not after it (of two from one date,
    the later set), like a policy version."""

    __tablename__ = "district_ratio"
    __table_args__ = (
        CheckConstraint("kind IN ('small_enterprise', 'boarding_house')", name="kind"),
        CheckConstraint("ratio > 0 AND ratio <= 1", name="ratio_range"),
        Index("ix_district_ratio_district_kind_effective_from", "district", "kind", "effective_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    district: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    ratio: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    effective_from: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
