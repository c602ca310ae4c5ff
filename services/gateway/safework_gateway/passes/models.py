from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from safework_gateway.db import Base


class GatePass(Base):
    """An issued cleared-to-work pass: who it is for (never shown in the pass itself, which
    carries a pseudonym), until when, and whether it was revoked and why. The signed token is
    kept to render its QR again; it holds no name but the masked one."""

    __tablename__ = "gateway_pass"

    pass_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kid: Mapped[str] = mapped_column(String(80))
    token: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
