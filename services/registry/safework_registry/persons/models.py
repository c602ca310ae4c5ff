from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base, Timestamped

# seeds/003: "lái xe, phụ xe vận chuyển hàng hóa của DN": drivers and driver's assistants carrying an
# enterprise's goods share the first vaccine tier; a passenger-shuttle driver does not.
JOB_ROLES = ("worker", "manager", "expert", "freight_driver", "freight_driver_assistant", "shuttle_driver")
SEXES = ("male", "female", "other")
PERSON_STATUSES = ("active", "left")


class Person(Timestamped, Base):
    """An identity. The national ID is never stored in clear: ``national_id_hash`` (HMAC-SHA256
    with the registry's key) finds a person exactly; ``national_id_enc`` (AES-GCM, same key
    material) lets the authority read it back; ``national_id_last4`` is for masked display."""

    __tablename__ = "person"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "employee_code"),
        CheckConstraint(
            "job_role IN ('worker', 'manager', 'expert', 'freight_driver', 'freight_driver_assistant', "
            "'shuttle_driver')",
            name="job_role",
        ),
        CheckConstraint("sex IN ('male', 'female', 'other')", name="sex"),
        CheckConstraint("status IN ('active', 'left')", name="status"),
        CheckConstraint("test_cohort IN (0, 1)", name="test_cohort"),
        Index("ix_person_enterprise_id_status", "enterprise_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    national_id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    national_id_enc: Mapped[bytes] = mapped_column(LargeBinary)
    national_id_last4: Mapped[str] = mapped_column(String(4))
    full_name: Mapped[str] = mapped_column(String(255))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(16))
    home_province: Mapped[str | None] = mapped_column(String(64))
    job_role: Mapped[str] = mapped_column(String(32), server_default=text("'worker'"))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enterprise.id", ondelete="RESTRICT"))
    employee_code: Mapped[str | None] = mapped_column(String(64))
    hire_date: Mapped[date | None] = mapped_column(Date)
    # New hires from another province (seeds/000 §2.2 (2)): where from and when they arrived.
    arrived_from_province: Mapped[str | None] = mapped_column(String(64))
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accommodation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accommodation.id", ondelete="SET NULL"), index=True
    )
    high_risk: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    high_risk_reason: Mapped[str | None] = mapped_column(Text)
    high_risk_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(8), server_default=text("'active'"))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The half of the enterprise this person is tested with in the alternating 50% rounds
    # (seeds/000 §2.2 (3)). Assigned once, to the smaller half, so halves stay stable and balanced.
    test_cohort: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
