"""Scheduler app factory. It only reads: its engine opens read-only transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from safework_common.app import load_internal_verifier, setup_common, upstream_route, upstream_router
from safework_common.db import make_engine, make_sessionmaker, ping
from safework_common.logging import configure_logging
from safework_scheduler.compliance.router import router as compliance_router
from safework_scheduler.due import bulk
from safework_scheduler.due import router as due
from safework_scheduler.due.router import router as due_router
from safework_scheduler.exports.router import router as exports_router
from safework_scheduler.lodging.router import router as lodging_router
from safework_scheduler.policy.repository import PolicyStore
from safework_scheduler.policy.router import router as policy_router
from safework_scheduler.settings import SchedulerSettings
from safework_scheduler.vaccines.router import router as vaccines_router


def api_router() -> APIRouter:
    """Every scheduler route, under /v1; all need the gateway's internal token and refuse unknown
    query parameters (``safework_common.app.upstream_router``).
    Each domain package contributes its own ``router`` here."""
    router = upstream_router()
    # Domain routers are included below, one line each (keep this list sorted).
    router.include_router(compliance_router)
    router.include_router(due_router)
    router.include_router(exports_router)
    router.include_router(lodging_router)
    router.include_router(policy_router)
    router.include_router(vaccines_router)
    return router


def create_app(settings: SchedulerSettings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or SchedulerSettings()
    if configure_logs:
        configure_logging("scheduler", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, read_only=True)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        # The reads that must not lag (a gate pass's verdict) on the primary: the same engine
        # unless the scheduler reads a replica (RELIABILITY.md, "Replicas and lag").
        primary = engine
        if settings.primary_database_url not in (None, settings.database_url):
            primary = make_engine(
                settings.primary_database_url, pool_size=max(4, settings.db_pool_size // 4), read_only=True
            )
        app.state.primary = primary
        app.state.primary_sessionmaker = make_sessionmaker(primary)
        app.state.internal_verifier = load_internal_verifier(settings)
        app.state.policies = PolicyStore(ttl_seconds=settings.policy_cache_seconds)
        try:
            yield
        finally:
            bulk.WORKERS.close()
            if primary is not engine:
                await primary.dispose()
            await engine.dispose()

    app = FastAPI(
        title="Safework scheduler",
        version="0.1.0",
        description="Due tests and the vaccine queue. Internal: reached only through the gateway.",
        lifespan=lifespan,
    )
    app.state.settings = settings

    async def readiness(a: FastAPI) -> dict[str, bool]:
        checks = {"database": await ping(a.state.engine)}
        if a.state.primary is not a.state.engine:
            checks["primary"] = await ping(a.state.primary)
        return checks

    # The gate pass's one read ahead of every other route (a pass should cost no more than a
    # status read); no other route matches its path.
    upstream_route(app, due.PASS_VERDICT_PATH, due.pass_verdict, **due.PASS_VERDICT_OPERATION)
    setup_common(app, settings, readiness, internal_only=True)
    app.include_router(api_router())
    return app
