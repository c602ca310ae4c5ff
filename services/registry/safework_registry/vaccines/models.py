from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base, Timestamped


class VaccineProduct(Timestamped, Base):
    """Reference data: a vaccine and the minimum days between its doses."""

    __tablename__ = "vaccine_product"
    __table_args__ = (
        CheckConstraint("min_interval_days >= 0", name="interval_non_negative"),
        CheckConstraint("doses_in_primary_series BETWEEN 1 AND 3", name="series_length"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    min_interval_days: Mapped[int] = mapped_column(Integer)
    doses_in_primary_series: Mapped[int] = mapped_column(SmallInteger, server_default=text("2"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Dose(Timestamped, Base):
    """Dose n of a person. Dose n needs dose n-1 and the product's minimum interval."""

    __tablename__ = "dose"
    __table_args__ = (
        UniqueConstraint("person_id", "dose_number"),
        CheckConstraint("dose_number BETWEEN 1 AND 10", name="dose_number_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    dose_number: Mapped[int] = mapped_column(SmallInteger)
    product_code: Mapped[str] = mapped_column(ForeignKey("vaccine_product.code", ondelete="RESTRICT"))
    administered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    site: Mapped[str | None] = mapped_column(String(255))
    lot: Mapped[str | None] = mapped_column(String(64))
