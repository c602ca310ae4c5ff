"""Reads policy versions from the database; caches them briefly so a newly loaded version
takes effect on its date without a redeploy."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.policy_document import PolicyDocument, in_force
from safework_common.errors import NotFound
from safework_common.timezone import local_date
from safework_scheduler.policy.models import SchedulerPolicy


class PolicyStore:
    """Every policy version, read again once ``ttl_seconds`` have passed since the last read."""

    def __init__(self, ttl_seconds: float = 30.0, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._cache: TTLCache[str, list[PolicyDocument]] = TTLCache(maxsize=1, ttl=ttl_seconds, timer=timer)

    async def versions(self, session: AsyncSession) -> list[PolicyDocument]:
        versions = self._cache.get("versions")
        if versions is None:
            rows = (
                await session.execute(select(SchedulerPolicy.document).order_by(SchedulerPolicy.effective_from))
            ).scalars()
            versions = self._cache["versions"] = [PolicyDocument.model_validate(d) for d in rows]
        return versions

    async def at(self, session: AsyncSession, as_of: datetime) -> PolicyDocument:
        doc = in_force(await self.versions(session), local_date(as_of))
        if doc is None:
            raise NotFound(
                f"No policy is in force on {local_date(as_of)}.", code="no_policy_in_force", field="query.as_of"
            )
        return doc

    def invalidate(self) -> None:
        self._cache.clear()
