"""The gateway wired to the real registry and scheduler apps, in-process, on the test database."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from safework_common.internal_auth import Caller, InternalTokenMinter
from safework_gateway.auth.tokens import TYP_CLIENT, TYP_DEVICE, TokenService
from safework_gateway.clients.service import create_client
from safework_gateway.settings import GatewaySettings
from tests.callers import As
from tests.conftest import running
from tests.support import apps
from tests.support.apps import asgi

TEST_KEK = base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")
SANCTIONED_APP = "vn.gov.bluezone"


SMALL_ARGON2: dict[str, Any] = {
    "client_secret_time_cost": 1,
    "client_secret_memory_cost": 8,
    "client_secret_parallelism": 1,
}


def gateway_settings_for(db: str, keys_dir: Path, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "database_url": db,
        "environment": "test",
        "internal_token_private_key_file": keys_dir / "internal_ed25519.pem",
        "internal_token_public_key_file": keys_dir / "internal_ed25519.pub.pem",
        "key_encryption_key": SecretStr(TEST_KEK),
        "registry_url": "http://registry",
        "scheduler_url": "http://scheduler",
        # Tests refresh the in-memory state themselves, when they mean to.
        "key_refresh_seconds": 3600,
        "pass_fact_poll_seconds": 3600,
        "rate_limit_burst": 10_000,
        "anonymous_rate_limit_burst": 10_000,
        # Client secrets hashed cheaply (production refuses these: test_settings).
        **SMALL_ARGON2,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def gateway_settings(db: str, keys_dir: Path) -> GatewaySettings:
    return gateway_settings_for(db, keys_dir)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Stack:
    """The public door (``http``) and, behind it, the registry and the scheduler as the gateway
    reaches them (``registry``/``scheduler`` take an internal caller, for seeding and checks)."""

    app: FastAPI
    http: httpx.AsyncClient
    registry: As | None = None
    scheduler: As | None = None

    @property
    def tokens(self) -> TokenService:
        tokens: TokenService = self.app.state.tokens
        return tokens

    def token(self, role: str, **claims: str | None) -> str:
        """A token as the gateway would issue it (the grant itself is tested on its own)."""
        if role == "worker":
            device = claims.setdefault("device_id", f"device-{uuid.uuid4().hex[:12]}")
            claims.setdefault("sid", str(uuid.uuid4()))
            token, _, _ = self.tokens.issue(
                subject=f"device:{device}", role=role, typ=TYP_DEVICE, ttl_seconds=3600, claims=claims
            )
            return token
        client_id = claims.setdefault("client_id", f"{role}-test-{uuid.uuid4().hex[:8]}")
        token, _, _ = self.tokens.issue(
            subject=f"client:{client_id}", role=role, typ=TYP_CLIENT, ttl_seconds=900, claims=claims
        )
        return token

    def province(self) -> dict[str, str]:
        return bearer(self.token("authority"))

    async def new_client(self, role: str, **scope: Any) -> tuple[str, str]:
        maker = self.app.state.sessionmaker
        async with maker() as session, session.begin():
            client, secret = await create_client(
                session,
                name=f"test {role}",
                role=role,
                created_by="test",
                hasher=self.app.state.settings.client_secret_hasher(),
                **scope,
            )
        return client.client_id, secret

    async def grant(self, client_id: str, secret: str) -> httpx.Response:
        return await self.http.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )


# Nothing listens here (the gateway's bench range, unused by tests): an upstream that is down.
DOWN_URL = "http://127.0.0.1:18159"


@pytest.fixture
def gateway_app(db: str, keys_dir: Path) -> FastAPI:
    """The gateway app of ``gateway`` (its upstreams down), built once per process: for what a
    test reads off the app itself (its OpenAPI document, its routes) without running it."""
    return apps.gateway(gateway_settings_for(db, keys_dir, registry_url=DOWN_URL, scheduler_url=DOWN_URL))


@pytest.fixture
async def gateway(gateway_app: FastAPI) -> AsyncIterator[Stack]:
    """The gateway alone, its upstreams down: for what it answers by itself."""
    app = gateway_app
    async with running(app) as http:
        yield Stack(app=app, http=http)


@pytest.fixture
async def stack(
    registry_app: FastAPI, scheduler_app: FastAPI, gateway_settings: GatewaySettings, minter: InternalTokenMinter
) -> AsyncIterator[Stack]:
    async with (
        registry_app.router.lifespan_context(registry_app),
        scheduler_app.router.lifespan_context(scheduler_app),
    ):
        app = apps.gateway(gateway_settings, registry=registry_app, scheduler=scheduler_app)
        async with (
            running(app) as http,
            httpx.AsyncClient(transport=asgi(registry_app), base_url="http://registry") as reg,
            httpx.AsyncClient(transport=asgi(scheduler_app), base_url="http://scheduler") as sch,
        ):
            yield Stack(app=app, http=http, registry=As(reg, minter), scheduler=As(sch, minter))


def worker_caller(person_id: uuid.UUID, enterprise_id: uuid.UUID) -> Caller:
    return Caller(subject="device:test", role="worker", person_id=str(person_id), enterprise_id=str(enterprise_id))
