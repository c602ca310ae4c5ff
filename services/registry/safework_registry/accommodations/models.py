from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base, Timestamped


class Accommodation(Timestamped, Base):
    """A boarding house or dormitory. A *concentrated lodging site* (nơi ở tập trung), one the
    province surveys and introduces to enterprises and the authority marks ``concentrated``,
    houses the workers of one enterprise only (seeds/003: "một nơi ở tập trung chỉ bố trí cho lao
    động của một doanh nghiệp"): its ``enterprise_id`` is set by the first worker assigned and then
    enforced. A private boarding house, where workers of several enterprises may rent, is not
    bound by it: its ``enterprise_id`` only names the enterprise that registered it, if any."""

    __tablename__ = "accommodation"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(500))
    owner_name: Mapped[str | None] = mapped_column(String(255))
    district: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="boarding_house")
    concentrated: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), index=True
    )


class AccommodationManager(Base):
    """A person who owns or manages a boarding house or dormitory (chủ quản lý): the random
    tests of seeds/000 §2.3 are drawn from its renters **and** its owners and managers
    ("xét nghiệm ngẫu nhiên đối với … đang ở trọ và chủ quản lý các khu nhà trọ, ký túc xá")."""

    __tablename__ = "accommodation_manager"
    __table_args__ = (CheckConstraint("role IN ('owner', 'manager')", name="role"),)

    accommodation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accommodation.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
