"""Gateway app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from safework_common.app import setup_common
from safework_common.db import make_engine, make_sessionmaker, ping
from safework_common.internal_auth import InternalTokenMinter
from safework_common.logging import configure_logging
from safework_gateway.settings import GatewaySettings
from safework_gateway.upstream import Upstream


def create_app(settings: GatewaySettings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or GatewaySettings()
    if configure_logs:
        configure_logging("gateway", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        minter = InternalTokenMinter(settings.internal_private_key_pem())
        app.state.minter = minter
        app.state.registry = Upstream(
            "registry",
            settings.registry_url,
            minter,
            timeout=settings.upstream_timeout_seconds,
            max_connections=settings.upstream_max_connections,
        )
        app.state.scheduler = Upstream(
            "scheduler",
            settings.scheduler_url,
            minter,
            timeout=settings.upstream_timeout_seconds,
            max_connections=settings.upstream_max_connections,
        )
        try:
            yield
        finally:
            await app.state.registry.aclose()
            await app.state.scheduler.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Safework API",
        version="1.0.0",
        description="The public API of Safework: the worker's app, labs, enterprises and the health authority.",
        lifespan=lifespan,
    )
    app.state.settings = settings

    async def readiness(a: FastAPI) -> dict[str, bool]:
        return {
            "database": await ping(a.state.engine),
            "registry": await a.state.registry.ready(),
            "scheduler": await a.state.scheduler.ready(),
        }

    setup_common(app, settings, readiness)
    return app
