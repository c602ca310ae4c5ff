"""Gateway app factory: the one public door, under /api/v1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from safework_common.app import setup_common
from safework_common.db import make_engine, make_pool, make_sessionmaker, ping
from safework_common.errors import ERROR_RESPONSES
from safework_common.internal_auth import InternalTokenMinter
from safework_common.logging import configure_logging
from safework_gateway.auth.access import public_query_check
from safework_gateway.auth.ratelimit import make_limiter
from safework_gateway.auth.state import AuthState
from safework_gateway.auth.tokens import TokenService
from safework_gateway.clients.router import router as clients_router
from safework_gateway.clients.token import router as token_router
from safework_gateway.codes.router import router as codes_router
from safework_gateway.devices.router import router as devices_router
from safework_gateway.devices.sanctioned import SanctionedApps
from safework_gateway.forwarding.compliance import router as compliance_router
from safework_gateway.forwarding.routes import build_router
from safework_gateway.keys.crypto import SecretHasher, load_kek
from safework_gateway.keys.router import router as jwks_router
from safework_gateway.me.router import router as me_router
from safework_gateway.openapi import install_openapi
from safework_gateway.passes.router import jwks_router as health_card_jwks_router
from safework_gateway.passes.router import router as passes_router
from safework_gateway.passes.service import PassService
from safework_gateway.public.router import router as public_router
from safework_gateway.settings import GatewaySettings
from safework_gateway.transport import LeanTransport
from safework_gateway.upstream import Upstream

API_PREFIX = "/api/v1"
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept-Language",
    "Idempotency-Key",
    "If-None-Match",
    "X-Request-ID",
]
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Content-Language",
    "X-Request-ID",
]


def api_router() -> APIRouter:
    """Every public route under /api/v1; each declares its roles and scope."""
    router = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES, dependencies=[Depends(public_query_check)])
    router.include_router(token_router)
    router.include_router(codes_router)
    router.include_router(clients_router)
    router.include_router(devices_router)
    router.include_router(me_router)
    router.include_router(passes_router)
    router.include_router(compliance_router)
    router.include_router(public_router)
    router.include_router(build_router())
    return router


def shared_redis(settings: GatewaySettings) -> Any:
    """A Redis client when ``REDIS_URL`` is set (shared limits and caches), else None."""
    if not settings.redis_url:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0, health_check_interval=30)


def create_app(
    settings: GatewaySettings | None = None,
    *,
    configure_logs: bool = True,
    registry_transport: httpx.AsyncBaseTransport | None = None,
    scheduler_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``*_transport`` lets tests drive the upstream apps in-process (httpx.ASGITransport)."""
    settings = settings or GatewaySettings()
    if configure_logs:
        configure_logging("gateway", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        # Issued passes are written by one INSERT at a time (group commit, passes/recorder.py)
        # and the registry's facts applied by one UPDATE at a time (passes/facts.py): each a
        # single autocommit statement on a small asyncpg pool, without the per-checkout ping
        # (db.execute_retrying runs one again on another connection when its own was dropped).
        writer = await make_pool(settings.database_url, size=2)
        kek = load_kek(settings)
        app.state.kek = kek
        app.state.hasher = SecretHasher(kek.derive("safework-gateway one-time secrets"))
        redis_client = shared_redis(settings)
        app.state.redis = redis_client
        prefix = settings.redis_key_prefix
        auth = AuthState(
            app.state.sessionmaker,
            kek,
            max_token_lifetime=timedelta(seconds=settings.max_token_lifetime_seconds),
            refresh_seconds=settings.key_refresh_seconds,
            max_pass_lifetime=timedelta(seconds=settings.pass_max_ttl_seconds),
            redis=redis_client,
            redis_prefix=prefix,
        )
        app.state.auth = auth
        app.state.tokens = TokenService(
            lambda: auth.ring,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            leeway_seconds=settings.token_leeway_seconds,
        )
        app.state.limiter = make_limiter(
            redis_client, prefix, "client", settings.rate_limit_per_second, settings.rate_limit_burst
        )
        app.state.anonymous_limiter = make_limiter(
            redis_client,
            prefix,
            "anonymous",
            settings.anonymous_rate_limit_per_second,
            settings.anonymous_rate_limit_burst,
        )
        minter = InternalTokenMinter(settings.internal_private_key_pem())
        app.state.minter = minter

        def transport(given: httpx.AsyncBaseTransport | None) -> httpx.AsyncBaseTransport | None:
            if given is not None or settings.upstream_transport == "httpx":
                return given
            return LeanTransport(
                max_connections=settings.upstream_max_connections,
                keepalive_expiry=4.0,
                read_timeout=settings.upstream_timeout_seconds,
            )

        app.state.registry = Upstream(
            "registry",
            settings.registry_url,
            minter,
            timeout=settings.upstream_timeout_seconds,
            max_connections=settings.upstream_max_connections,
            transport=transport(registry_transport),
            stream_transport=registry_transport,
            stream_timeout=settings.export_timeout_seconds,
        )
        app.state.scheduler = Upstream(
            "scheduler",
            settings.scheduler_url,
            minter,
            timeout=settings.upstream_timeout_seconds,
            max_connections=settings.upstream_max_connections,
            transport=transport(scheduler_transport),
            stream_transport=scheduler_transport,
            stream_timeout=settings.export_timeout_seconds,
        )
        app.state.sanctioned_apps = SanctionedApps(
            app.state.scheduler, settings.policy_cache_seconds, redis_client, settings.redis_key_prefix
        )
        passes = PassService(
            lambda: auth.ring,
            app.state.sessionmaker,
            writer,
            app.state.registry,
            app.state.scheduler,
            subject_key=kek.derive("safework-gateway pass subjects"),
            max_ttl=timedelta(seconds=settings.pass_max_ttl_seconds),
            list_ttl=timedelta(seconds=settings.pass_revocation_list_ttl_seconds),
            health_card_issuer=settings.health_card_issuer,
        )
        app.state.passes = passes
        try:
            await auth.start()
            passes.start_sweep(settings.pass_sweep_seconds, settings.pass_fact_poll_seconds)
            yield
        finally:
            await passes.stop()
            await auth.stop()
            await app.state.registry.aclose()
            await app.state.scheduler.aclose()
            if redis_client is not None:
                await redis_client.aclose()
            await engine.dispose()
            await writer.close()

    # /docs and /redoc load their scripts and styles from the service itself (fastapi-offline
    # ships them): a provincial network may have no Internet access.
    app = FastAPIOffline(
        title="Safework API",
        version="1.0.0",
        description=(
            "The public API of Safework: the worker's app, labs, enterprises and the health authority. "
            "Clients (labs, enterprises, authorities) get a 15-minute token from `POST /api/v1/auth/token` "
            "(OAuth2 client credentials); the worker's app gets a device token from `POST /api/v1/app/activate`. "
            'Every error is `{"error": {"code", "message", "details"}}`; another tenant\'s object is 404.'
        ),
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
    if settings.cors_allow_origins:
        # Outermost: a browser's preflight is answered before authentication.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    app.include_router(jwks_router)
    app.include_router(health_card_jwks_router)
    app.include_router(api_router())
    install_openapi(app)
    return app
