"""Forwarding to the registry and the scheduler: one pooled httpx client per upstream."""

from __future__ import annotations

from typing import Any

import httpx

from safework_common.errors import SafeworkError, ServiceUnavailable
from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter
from safework_common.logging import request_id_var


class Upstream:
    def __init__(
        self, name: str, base_url: str, minter: InternalTokenMinter, *, timeout: float, max_connections: int
    ) -> None:
        self.name = name
        self.minter = minter
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=2.0),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def headers(self, caller: Caller, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {INTERNAL_HEADER: self.minter.mint(caller)}
        rid = request_id_var.get()
        if rid:
            headers["x-request-id"] = rid
        if extra:
            headers.update(extra)
        return headers

    async def request(
        self, method: str, path: str, caller: Caller, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """Send one request as ``caller``. Connection failures become 503 with Retry-After."""
        try:
            return await self.client.request(method, path, headers=self.headers(caller, headers), **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ServiceUnavailable(
                f"The {self.name} is unavailable; retry later.", code="upstream_unavailable"
            ) from exc
        except httpx.TimeoutException as exc:
            raise SafeworkError(
                f"The {self.name} did not answer in time.", code="upstream_timeout", status_code=504
            ) from exc

    async def ready(self) -> bool:
        try:
            r = await self.client.get("/readyz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return r.status_code == 200
