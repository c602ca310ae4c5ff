"""The single-app mandate (seeds/000 §2.4): only the province's app may activate or sync. Its app
IDs are policy data (``single_app.sanctioned_app_ids``), read from the scheduler's active policy
and cached; other apps get 403 ``unsanctioned_app`` and the attempt is recorded."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from cachetools import TTLCache
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safework_common.errors import Forbidden, SafeworkError, ServiceUnavailable
from safework_common.internal_auth import Caller
from safework_gateway.devices.models import UnsanctionedAttempt
from safework_gateway.upstream import Upstream

log = logging.getLogger("safework.gateway.single_app")

GATEWAY_CALLER = Caller(subject="service:gateway", role="system", client_id="gateway")


class SanctionedApps:
    """The sanctioned app IDs, cached for ``ttl`` seconds; the last known list is kept while
    the scheduler is unreachable.

    With Redis (``REDIS_URL``) the cached list is one entry shared by every gateway process
    (``<prefix>cache:sanctioned_apps``, expiring with the ttl), so after a policy change all
    processes switch together instead of each at the end of its own ttl; the process's own copy
    is used only when Redis cannot answer."""

    def __init__(self, scheduler: Upstream, ttl_seconds: float, redis: Any = None, prefix: str = "safework:") -> None:
        self._scheduler = scheduler
        self._ttl = ttl_seconds
        # The fresh list (gone ``ttl_seconds`` after it was read), and the last one ever read.
        self._fresh: TTLCache[str, frozenset[str]] = TTLCache(maxsize=1, ttl=ttl_seconds, timer=time.monotonic)
        self._ids: frozenset[str] | None = None
        self._lock = asyncio.Lock()
        self._redis = redis
        self._key = f"{prefix}cache:sanctioned_apps"

    async def ids(self) -> frozenset[str]:
        if self._redis is None:
            return await self._local()
        from redis.exceptions import RedisError

        try:
            cached = await self._redis.get(self._key)
            if cached is not None:
                return frozenset(json.loads(cached))
            ids = await self._local(force=True)
            await self._redis.set(self._key, json.dumps(sorted(ids)), px=int(self._ttl * 1000), nx=True)
            return ids
        except (RedisError, OSError, ValueError) as exc:
            log.warning("sanctioned apps: Redis unavailable (%s); this process's copy decides", type(exc).__name__)
            return await self._local()

    async def _local(self, *, force: bool = False) -> frozenset[str]:
        fresh = None if force else self._fresh.get("ids")
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = None if force else self._fresh.get("ids")
            if fresh is not None:
                return fresh
            try:
                body = await self._scheduler.json("GET", "/v1/policies/active", GATEWAY_CALLER)
                self._ids = self._fresh["ids"] = _sanctioned(body)
            except SafeworkError:
                if self._ids is None:
                    raise ServiceUnavailable(
                        "The policy is unavailable; retry later.", code="policy_unavailable"
                    ) from None
                log.warning("policy refresh failed; keeping the last sanctioned app list")
            return self._ids


def _sanctioned(body: Any) -> frozenset[str]:
    document = body.get("document", body) if isinstance(body, dict) else None
    try:
        ids = document["single_app"]["sanctioned_app_ids"]  # type: ignore[index]
    except (KeyError, TypeError) as exc:
        raise ServiceUnavailable("The policy has no sanctioned app list.", code="policy_unavailable") from exc
    return frozenset(str(i) for i in ids)


async def require_sanctioned(
    request: Request,
    *,
    endpoint: str,
    app_id: str,
    app_version: str | None,
    platform: str | None,
    device_id: str | None,
    subject: str | None,
) -> None:
    """403 ``unsanctioned_app`` unless ``app_id`` is sanctioned; the refusal is recorded in its own
    transaction (so it stays when the request's work is rolled back)."""
    apps: SanctionedApps = request.app.state.sanctioned_apps
    if app_id in await apps.ids():
        return
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session, session.begin():
        session.add(
            UnsanctionedAttempt(
                app_id=app_id[:128],
                app_version=app_version,
                platform=platform,
                device_id=device_id,
                client_ip=request.client.host if request.client else None,
                endpoint=endpoint,
                subject=subject,
            )
        )
    log.warning("unsanctioned app refused", extra={"app_id": app_id[:128], "endpoint": endpoint})
    raise Forbidden("Only the province's sanctioned app may do this.", code="unsanctioned_app", field="body.app_id")
