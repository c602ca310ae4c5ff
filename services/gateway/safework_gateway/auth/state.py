"""What every gateway process keeps in memory to authenticate without I/O per request: the key
ring, disabled clients and revoked device sessions, re-read from the database every few seconds.
A change made in this process (a device revoked, a client disabled) applies here at once; with
Redis (``REDIS_URL``) it is also announced on a channel every gateway process listens to, so it
applies in the others at once too, not at their next refresh (which still catches anything an
announcement missed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safework_common.errors import Unauthorized
from safework_gateway.auth.principal import Principal
from safework_gateway.clients.models import Client
from safework_gateway.devices.models import Device
from safework_gateway.keys.crypto import KeyEncryptionKey
from safework_gateway.keys.service import PURPOSE_ALGORITHMS, KeyRing, ensure_signing_key, load_ring

log = logging.getLogger("safework.gateway.auth")


class AuthState:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        kek: KeyEncryptionKey,
        *,
        max_token_lifetime: timedelta,
        refresh_seconds: float,
        max_pass_lifetime: timedelta = timedelta(hours=24),
        redis: Any = None,
        redis_prefix: str = "safework:",
    ) -> None:
        self._sessionmaker = sessionmaker
        self._kek = kek
        self._max_lifetime = max_token_lifetime
        self._max_pass_lifetime = max_pass_lifetime
        self._refresh_seconds = refresh_seconds
        self.ring = KeyRing([], max_token_lifetime=max_token_lifetime)
        self.disabled_clients: frozenset[str] = frozenset()
        self.revoked_sessions: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._redis = redis
        self._channel = f"{redis_prefix}auth:revocations"
        self._listener: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Make the first signing key on a fresh install, load everything, then keep it fresh."""
        for purpose in PURPOSE_ALGORITHMS:
            async with self._sessionmaker() as session, session.begin():
                kid = await ensure_signing_key(session, self._kek, purpose)
            if kid is not None:
                log.info("generated the first %s signing key", purpose, extra={"kid": kid})
        await self.refresh()
        try:
            self.ring.signing_key()
        except LookupError as exc:
            raise RuntimeError(
                "no signing key opens with this key-encryption key; restore GATEWAY_KEY_ENCRYPTION_KEY"
                " or run `safework keys rotate`"
            ) from exc
        self._task = asyncio.create_task(self._loop(), name="gateway-auth-refresh")
        if self._redis is not None:
            subscribed = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(subscribed), name="gateway-auth-revocations")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscribed.wait(), timeout=2.0)

    async def stop(self) -> None:
        for task in (self._task, self._listener, *self._sending):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._listener = None
        self._sending.clear()

    async def _listen(self, subscribed: asyncio.Event) -> None:
        """Apply the other processes' announcements as they come; reconnect after a failure."""
        while True:
            try:
                pubsub = self._redis.pubsub()
                try:
                    await pubsub.subscribe(self._channel)
                    subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._apply(message.get("data"))
                finally:
                    await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the periodic refresh still applies everything
                subscribed.set()
                log.warning("revocation channel unavailable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)

    def _apply(self, data: Any) -> None:
        try:
            fact = json.loads(data)
        except (TypeError, ValueError):
            return
        if isinstance(fact, dict):
            if isinstance(fact.get("session"), str):
                self.revoked_sessions.add(fact["session"])
            if isinstance(fact.get("client"), str):
                self.disabled_clients = self.disabled_clients | {fact["client"]}

    def _announce(self, fact: dict[str, str]) -> None:
        if self._redis is None:
            return
        task = asyncio.get_running_loop().create_task(self._publish(json.dumps(fact)))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, payload: str) -> None:
        try:
            await self._redis.publish(self._channel, payload)
        except Exception as exc:  # the others learn it at their next refresh
            log.warning("could not announce a revocation (%s)", type(exc).__name__)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except Exception as exc:  # keep serving with the last snapshot
                log.warning("could not refresh keys and revocations: %s", type(exc).__name__)

    async def refresh(self) -> None:
        since = datetime.now(UTC) - self._max_lifetime - timedelta(minutes=5)
        async with self._sessionmaker() as session:
            ring = await load_ring(
                session, self._kek, max_token_lifetime=self._max_lifetime, max_pass_lifetime=self._max_pass_lifetime
            )
            disabled = (await session.scalars(select(Client.client_id).where(Client.active.is_(False)))).all()
            revoked = (await session.scalars(select(Device.session_id).where(Device.revoked_at > since))).all()
        self.ring = ring
        self.disabled_clients = frozenset(disabled)
        self.revoked_sessions = {str(s) for s in revoked}

    def revoke_session(self, session_id: str) -> None:
        self.revoked_sessions.add(session_id)
        self._announce({"session": session_id})

    def disable_client(self, client_id: str) -> None:
        self.disabled_clients = self.disabled_clients | {client_id}
        self._announce({"client": client_id})

    def check_not_revoked(self, principal: Principal) -> None:
        if principal.session_id is not None and principal.session_id in self.revoked_sessions:
            raise Unauthorized("This device has been revoked.", code="device_revoked")
        if principal.client_id is not None and principal.client_id in self.disabled_clients:
            raise Unauthorized("This client has been disabled.", code="client_disabled")
