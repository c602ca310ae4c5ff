"""The outbox: facts written once, in the transaction that makes them true, for a later event
stream to publish (issue 14: "write its facts once ... do not invent a message bus"). A
publisher reads the rows with ``published_at IS NULL`` in ``id`` order and stamps them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from safework_registry.db import Base

# The facts this service writes (kind -> what it means). Payloads carry ids and codes only: no
# names, no national IDs, no results.
EVENT_KINDS = {
    "case.confirmed": "a person became a confirmed case (F0)",
    "contact.traced": "a person became a contact (F1) of a case, with the link that made them one",
    "case.closed": "a case was closed by the authority",
    "enterprise.suspended": "an enterprise was stopped from operating",
    "enterprise.cleared": "an enterprise was cleared to operate",
}


class OutboxEvent(Base):
    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_unpublished", "id", postgresql_where=text("published_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
