from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from safework_gateway.db import Base, Timestamped

CLIENT_ROLES = ("authority", "enterprise", "lab")


class Client(Timestamped, Base):
    """A lab, an enterprise or an authority (province-wide, or one district). The secret is kept
    only as an argon2 hash. ``owner_district`` is the district whose authority may manage the
    client (an enterprise's district; a district authority's own)."""

    __tablename__ = "gateway_client"
    __table_args__ = (
        CheckConstraint("role IN ('authority', 'enterprise', 'lab')", name="role"),
        CheckConstraint("role <> 'enterprise' OR enterprise_id IS NOT NULL", name="enterprise_scope"),
        CheckConstraint("role <> 'lab' OR lab_id IS NOT NULL", name="lab_scope"),
        CheckConstraint("role = 'authority' OR district IS NULL", name="district_only_for_authority"),
    )

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(64))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    lab_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    owner_district: Mapped[str | None] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_by: Mapped[str] = mapped_column(String(128))
