from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from safework_scheduler.db import Base


class SchedulerPolicy(Base):
    """One loaded policy version. Versions are immutable once loaded: history stays queryable."""

    __tablename__ = "scheduler_policy"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date, unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
