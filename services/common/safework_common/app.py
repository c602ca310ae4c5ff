"""The parts of an app factory every service shares: middleware, error handlers, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.params import ParamTypes
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from safework_common.errors import ERROR_RESPONSES, ErrorEnvelope, Unprocessable, install_error_handlers
from safework_common.gcpause import frozen_after_startup
from safework_common.internal_auth import InternalAuthMiddleware, InternalTokenVerifier, internal_caller
from safework_common.metrics import DB_POOL_CHECKED_OUT, DB_POOL_SIZE, process_exited, start_metrics
from safework_common.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from safework_common.settings import ServiceSettings

ReadinessCheck = Callable[[FastAPI], Awaitable[dict[str, bool]]]


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """Every dependency reachable (else 503 ``not_ready`` naming the unreachable ones)."""

    status: Literal["ready"]
    checks: dict[str, bool]


def health_router(check: ReadinessCheck) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> Liveness:
        return Liveness(status="ok")

    @router.get(
        "/readyz",
        summary="Readiness: the database or upstreams are reachable",
        response_model=Readiness,
        responses={503: {"model": ErrorEnvelope, "description": "A dependency is unreachable"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        checks = await check(request.app)
        ok = all(checks.values())
        if ok:
            return JSONResponse({"status": "ready", "checks": checks})
        return JSONResponse(
            {
                "error": {
                    "code": "not_ready",
                    "message": "A dependency is unreachable.",
                    "details": [
                        {"field": name, "code": "unreachable", "message": f"{name} is unreachable"}
                        for name, up in checks.items()
                        if not up
                    ],
                }
            },
            status_code=503,
            headers={"Retry-After": "5"},
        )

    return router


def setup_common(
    app: FastAPI, settings: ServiceSettings, check: ReadinessCheck, *, internal_only: bool = False
) -> None:
    """Error handlers, health routes and middleware. ``internal_only`` services (registry,
    scheduler) refuse every request without the gateway's internal token."""
    install_error_handlers(app)
    app.include_router(health_router(check))
    # Added last = runs first: request ID, then size limit, then internal auth.
    if internal_only:
        app.add_middleware(InternalAuthMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    with_metrics(app, settings)


def with_metrics(app: FastAPI, settings: ServiceSettings) -> None:
    """Around the service's own lifespan: the metrics listener (when a port is set), the
    database pool's use, counted as connections are checked out and in, and, once started, the
    start-up objects frozen out of the garbage collector's walks
    (``safework_common.gcpause.frozen_after_startup``; ``SAFEWORK_GC_FREEZE=0`` turns it off)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        server = start_metrics(settings.metrics_host, settings.metrics_port)
        a.state.metrics_server = server
        size = 0
        try:
            async with inner(a) as state:
                engine = getattr(a.state, "engine", None)
                if engine is not None:
                    size = instrument_pool(engine)
                async with frozen_after_startup():
                    yield state
        finally:
            DB_POOL_SIZE.dec(size)
            if server is not None:
                server.stop()
            process_exited()

    app.router.lifespan_context = lifespan


def instrument_pool(engine: Any) -> int:
    """Count the engine's checked-out connections in ``safework_db_pool_checked_out``; returns
    the pool's size, added to ``safework_db_pool_size``."""
    from sqlalchemy import event

    pool = engine.sync_engine.pool
    event.listen(pool, "checkout", lambda *_: DB_POOL_CHECKED_OUT.inc())
    event.listen(pool, "checkin", lambda *_: DB_POOL_CHECKED_OUT.dec())
    size = int(pool.size()) if hasattr(pool, "size") else 0
    DB_POOL_SIZE.inc(size)
    return size


def load_internal_verifier(settings: ServiceSettings) -> InternalTokenVerifier:
    return InternalTokenVerifier(settings.internal_public_key_pem())


_DECLARED = "_safework_declared_query"


def _declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares: its dependencies' and those of its OpenAPI entry
    (the gateway's forwarded routes declare theirs there). Worked out once per route."""
    known: frozenset[str] | None = getattr(route, _DECLARED, None)
    if known is None:
        params = get_flat_params(route.dependant)
        names = {f.alias for f in params if getattr(f.field_info, "in_", None) == ParamTypes.query}
        extra = route.openapi_extra or {}
        names |= {p["name"] for p in extra.get("parameters", []) if p.get("in") == "query"}
        known = frozenset(names)
        setattr(route, _DECLARED, known)
    return known


def check_query(request: Request) -> None:
    """Unknown query parameters are refused like unknown body fields (422
    ``unknown_query_parameter`` with the field), so a misspelt filter (``?distrct=``) is never
    silently ignored and answered for everything."""
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _declared_query(route)
    for name in request.query_params:
        if name not in declared:
            raise Unprocessable(
                f"Unknown query parameter: {name[:64]}.", code="unknown_query_parameter", field=f"query.{name[:64]}"
            )


async def refuse_unknown_query(request: Request) -> None:
    check_query(request)


async def upstream_request(request: Request) -> None:
    """:func:`internal_caller`'s check and :func:`refuse_unknown_query`'s in one dependency
    (FastAPI resolves each dependency on every request)."""
    await internal_caller(request)
    check_query(request)


RefuseUnknownQuery = Depends(refuse_unknown_query)


def upstream_router() -> APIRouter:
    """The ``/v1`` router of an upstream (registry, scheduler): every route needs the gateway's
    internal token and refuses a query parameter it does not declare, as the gateway does (422
    ``unknown_query_parameter`` with the field), so a caller inside the network is held to the
    same contract; the error envelope is documented on every route."""
    return APIRouter(
        prefix="/v1", dependencies=[Depends(internal_caller), RefuseUnknownQuery], responses=ERROR_RESPONSES
    )


def upstream_route(app: FastAPI, path: str, endpoint: Callable[..., Any], **operation: Any) -> None:
    """One ``/v1`` GET route put straight on the app, ahead of its routers, on the terms of
    :func:`upstream_router` (the same dependencies, the same documented errors), for a hot read:
    FastAPI finds a route inside included routers by walking the whole tree of routers twice per
    request and matching every route before it (~30% of the registry's summary read, py-spy);
    a route of the app's own is matched directly. Call it before including the routers, for a
    path no other route matches."""
    app.add_api_route(
        f"/v1{path}",
        endpoint,
        methods=["GET"],
        dependencies=[Depends(upstream_request)],
        responses=ERROR_RESPONSES,
        **operation,
    )
