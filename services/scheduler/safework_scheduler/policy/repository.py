"""Reads policy versions from the database; caches them briefly so a newly loaded version
takes effect on its date without a redeploy."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.policy_document import PolicyDocument, in_force
from safework_common.errors import NotFound
from safework_common.timezone import local_date
from safework_scheduler.policy.models import SchedulerPolicy


class PolicyStore:
    def __init__(self, ttl_seconds: float = 30.0) -> None:
        self._ttl = ttl_seconds
        self._loaded_at = 0.0
        self._versions: list[PolicyDocument] = []

    async def versions(self, session: AsyncSession) -> list[PolicyDocument]:
        if time.monotonic() - self._loaded_at > self._ttl:
            rows = (
                await session.execute(select(SchedulerPolicy.document).order_by(SchedulerPolicy.effective_from))
            ).scalars()
            self._versions = [PolicyDocument.model_validate(d) for d in rows]
            self._loaded_at = time.monotonic()
        return self._versions

    async def at(self, session: AsyncSession, as_of: datetime) -> PolicyDocument:
        doc = in_force(await self.versions(session), local_date(as_of))
        if doc is None:
            raise NotFound(
                f"No policy is in force on {local_date(as_of)}.", code="no_policy_in_force", field="query.as_of"
            )
        return doc

    def invalidate(self) -> None:
        self._loaded_at = 0.0
