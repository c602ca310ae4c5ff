"""What every gateway process keeps in memory to authenticate without I/O per request: the key
ring, disabled clients and revoked device sessions, re-read from the database every few seconds.
A change made in this process (a device revoked, a client disabled) applies here at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

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

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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

    def disable_client(self, client_id: str) -> None:
        self.disabled_clients = self.disabled_clients | {client_id}

    def check_not_revoked(self, principal: Principal) -> None:
        if principal.session_id is not None and principal.session_id in self.revoked_sessions:
            raise Unauthorized("This device has been revoked.", code="device_revoked")
        if principal.client_id is not None and principal.client_id in self.disabled_clients:
            raise Unauthorized("This client has been disabled.", code="client_disabled")
