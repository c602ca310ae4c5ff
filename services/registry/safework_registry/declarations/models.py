from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Identity, Index, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base, Timestamped

SYMPTOMS = ("fever", "cough", "fatigue", "loss_of_taste_or_smell", "breathing_difficulty", "other")


class HealthDeclaration(Timestamped, Base):
    """Khai báo y tế: symptoms and contact with a confirmed case (F0)."""

    __tablename__ = "health_declaration"
    __table_args__ = (Index("ix_health_declaration_person_id_declared_at", "person_id", "declared_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    symptoms: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default=text("'{}'"))
    contact_with_confirmed_case: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    note: Mapped[str | None] = mapped_column(Text)


class Travel(Timestamped, Base):
    """A trip away and back. Returning to a boarding house from another province means a test
    within 24 h and a second 72 h later; from one's home town (inside the province too), a test
    at once (seeds/000 §2.3)."""

    __tablename__ = "travel"
    __table_args__ = (Index("ix_travel_person_id_returned_at", "person_id", "returned_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    left_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    destination_province: Mapped[str] = mapped_column(String(64))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_to_boarding_house: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # seeds/000 §2.3 "ở quê xuống": the trip was to the person's home town (inside the province
    # too); back in a boarding house from it, a test at once.
    to_home_town: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
