"""The registry's outbox facts as read by another service (internal: the gateway's pass
revocation reads them; no public route serves them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from safework_common.contract.fields import Instant


class OutboxFact(BaseModel):
    """One fact, as written in the transaction that made it true: ids and codes only."""

    id: int = Field(description="Increasing in the order the facts were written (not always committed).")
    kind: str = Field(description="case.confirmed, contact.traced, case.closed, enterprise.suspended, ...")
    entity: str
    entity_id: str
    occurred_at: Instant
    created_at: Instant = Field(description="When the writing transaction began (the database's clock).")
    payload: dict[str, Any]


class OutboxFactPage(BaseModel):
    """Facts after a cursor, in id order; ``as_of`` is the database's clock at the read."""

    as_of: Instant
    after: int = Field(description="The id this read started after (with `since`: the last fact written before it).")
    items: list[OutboxFact]
