"""Confirmed cases (F0) and their contacts (F1), seeds/004 §II.3 ("thần tốc truy vết, phân loại
nguy cơ") and seeds/002 ("thần tốc truy vết, khoanh vùng")."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base

CASE_BASES = ("pcr", "confirmed")
CASE_STATUSES = ("open", "closed")
LINK_KINDS = ("venue", "accommodation", "declared")


class OutbreakCase(Base):
    """A confirmed case (F0). ``collected_at`` is the specimen collection of the positive that
    counts; ``infectious_from`` is it minus the infectious window (a parameter not in the
    source), kept as traced so the trace reads the same later. ``isolated_at``, if known, ends
    the window; until then it runs to the moment of tracing. ``district``/``enterprise_id``: the
    F0's employer when the case was recorded (the authority's scope)."""

    __tablename__ = "outbreak_case"
    __table_args__ = (
        UniqueConstraint("person_id", "collected_at"),
        CheckConstraint("basis IN ('pcr', 'confirmed')", name="basis"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("infectious_from <= collected_at", name="window_order"),
        Index("ix_outbreak_case_district_status", "district", "status"),
        # The result that made the case: ``collected_at`` is its collection (test_result is
        # partitioned by it, so the reference names both); its removal forgets only the ID.
        ForeignKeyConstraint(
            ["result_id", "collected_at"],
            ["test_result.id", "test_result.collected_at"],
            ondelete="SET NULL (result_id)",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    result_id: Mapped[int | None] = mapped_column(BigInteger)
    basis: Mapped[str] = mapped_column(String(16))
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    infectious_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    isolated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    traced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enterprise.id", ondelete="SET NULL"))
    district: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), server_default=text("'open'"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Contact(Base):
    """A contact (F1) of a case, with the link that made them one: a venue where both checked in
    within the venue kind's dwell of each other, the F0's boarding house or concentrated site,
    or declared by the authority. One row per person and case (the first link found).
    ``traced_at``: from when the person is high-risk (the scheduler's CONTACT rule)."""

    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("case_id", "person_id"),
        CheckConstraint("link IN ('venue', 'accommodation', 'declared')", name="link"),
        Index("ix_contact_person_id_traced_at", "person_id", "traced_at"),
        Index("ix_contact_case_id_id", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbreak_case.id", ondelete="CASCADE"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    link: Mapped[str] = mapped_column(String(16))
    venue_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("venue.id", ondelete="SET NULL"))
    accommodation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accommodation.id", ondelete="SET NULL"))
    exposed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    traced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enterprise.id", ondelete="SET NULL"))
