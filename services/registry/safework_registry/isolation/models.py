"""Quarantine facilities, their rooms and who is in them. seeds/002 §4: "phân loại, đánh giá nguy
cơ ... không để người có nguy cơ cao ở chung phòng với người có nguy cơ thấp"."""

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
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base

RISKS = ("high", "low")


class IsolationFacility(Base):
    __tablename__ = "isolation_facility"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(500))
    district: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IsolationRoom(Base):
    __tablename__ = "isolation_room"
    __table_args__ = (
        UniqueConstraint("facility_id", "code"),
        CheckConstraint("capacity BETWEEN 1 AND 500", name="capacity_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("isolation_facility.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    capacity: Mapped[int] = mapped_column(Integer)


class IsolationAssignment(Base):
    """A person in a room, with the risk class they were placed under; released when they
    leave. A person is in at most one room at a time."""

    __tablename__ = "isolation_assignment"
    __table_args__ = (
        CheckConstraint("risk IN ('high', 'low')", name="risk"),
        Index(
            "uq_isolation_assignment_person_current",
            "person_id",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_isolation_assignment_room_id_current", "room_id", postgresql_where=text("released_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("isolation_room.id", ondelete="CASCADE"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    risk: Mapped[str] = mapped_column(String(8))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
