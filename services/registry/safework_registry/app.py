"""Registry app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from safework_common.app import load_internal_verifier, setup_common, upstream_route, upstream_router
from safework_common.db import make_engine, make_pool, make_sessionmaker, ping
from safework_common.logging import configure_logging
from safework_registry.accommodations import router as accommodations_router
from safework_registry.audit import router as audit_router
from safework_registry.declarations import router as declarations_router
from safework_registry.districts import router as districts_router
from safework_registry.enterprises import public as public_router
from safework_registry.enterprises import router as enterprises_router
from safework_registry.events import router as events_router
from safework_registry.fhir import router as fhir_router
from safework_registry.installations import router as installations_router
from safework_registry.isolation import router as isolation_router
from safework_registry.labs import router as labs_router
from safework_registry.outbreak import router as outbreak_router
from safework_registry.persons import router as persons_router
from safework_registry.persons.national_id import NationalIdCipher
from safework_registry.results import router as results_router
from safework_registry.settings import RegistrySettings
from safework_registry.summary import router as summary_router
from safework_registry.uploads.body import document_bodies
from safework_registry.vaccines import router as vaccines_router
from safework_registry.venues import checkins as checkins_router
from safework_registry.venues import router as venues_router


def api_router() -> APIRouter:
    """Every registry route, under /v1; all of them need the gateway's internal token and refuse
    unknown query parameters (``safework_common.app.upstream_router``).
    Each domain package contributes its own ``router`` here."""
    router = upstream_router()
    # Domain routers are included below, one line each (keep this list sorted).
    router.include_router(accommodations_router.router)
    router.include_router(audit_router.router)
    router.include_router(checkins_router.router)
    router.include_router(declarations_router.router)
    router.include_router(districts_router.router)
    router.include_router(enterprises_router.router)
    router.include_router(events_router.router)
    router.include_router(fhir_router.router)
    router.include_router(installations_router.router)
    router.include_router(isolation_router.router)
    router.include_router(labs_router.router)
    router.include_router(outbreak_router.router)
    router.include_router(persons_router.router)
    router.include_router(public_router.router)
    router.include_router(results_router.router)
    router.include_router(vaccines_router.router)
    router.include_router(venues_router.router)
    return router


def create_app(settings: RegistrySettings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or RegistrySettings()
    if configure_logs:
        configure_logging("registry", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        # The status read (a person's summary) is one statement: on a small asyncpg pool,
        # without the per-checkout ping (db.fetchrow_retrying).
        reader = await make_pool(settings.database_url, size=max(4, settings.db_pool_size // 2))
        app.state.reader = reader
        app.state.internal_verifier = load_internal_verifier(settings)
        app.state.national_id_cipher = NationalIdCipher(settings.national_id_key_bytes())
        try:
            yield
        finally:
            await reader.close()
            await engine.dispose()

    app = FastAPI(
        title="Safework registry",
        version="0.1.0",
        description="System of record. Internal: reached only through the gateway with an internal token.",
        lifespan=lifespan,
    )
    app.state.settings = settings

    async def readiness(a: FastAPI) -> dict[str, bool]:
        return {"database": await ping(a.state.engine)}

    # The status read behind every worker's app (the gateway's /me/status) ahead of everything
    # else; no other route matches its path (tests/registry/test_person_summary.py).
    upstream_route(app, summary_router.PATH, summary_router.person_summary, **summary_router.OPERATION)
    setup_common(app, settings, readiness, internal_only=True)
    app.include_router(api_router())
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_bodies(generate())  # the upload routes read their bodies themselves
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
