"""Who may call a route: every public route declares its roles and tenant scope in one place,
``principal: Annotated[Principal, allow(...)]``, readable back from the route table
(:func:`route_access`) by the OpenAPI document and the authorization-matrix test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2

from safework_common.app import check_query
from safework_common.errors import NotFound, Unauthorized, Unprocessable
from safework_common.scope import claims_other_tenant, require_province, require_role
from safework_gateway.auth.principal import ROLES, Principal
from safework_gateway.auth.ratelimit import Limiter
from safework_gateway.auth.state import AuthState
from safework_gateway.auth.tokens import TokenService

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 (a path, not a secret)

CLIENT_CREDENTIALS = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes={})),
    scheme_name="clientCredentials",
    description="Labs, enterprises and authorities: OAuth2 client credentials (RFC 6749 §4.4).",
    auto_error=False,
)
DEVICE_TOKEN = HTTPBearer(
    scheme_name="deviceToken",
    bearerFormat="JWT",
    description="The worker's app: a device token from POST /api/v1/app/activate or /api/v1/app/refresh.",
    auto_error=False,
)


class Scope(StrEnum):
    """Which tenant a route touches, and who checks it."""

    NONE = "none"  # no tenant in the path; lists are filtered upstream (a district authority's)
    ENTERPRISE = "enterprise"  # {enterprise_id}: an enterprise (or worker) only its own
    LAB = "lab"  # {lab_id}: a lab only its own
    SELF = "self"  # the worker's own record, named by the token, never by the path
    UPSTREAM = "upstream"  # an object the gateway cannot attribute; the upstream answers 404
    DISTRICT = "district"  # the gateway's own records: a district authority only its district's
    PROVINCE = "province"  # province-wide reference data: the province authority only


_PATH_PARAM = {Scope.ENTERPRISE: "enterprise_id", Scope.LAB: "lab_id"}
_KIND: dict[Scope, Literal["enterprise", "lab"]] = {Scope.ENTERPRISE: "enterprise", Scope.LAB: "lab"}
_NOT_FOUND = {
    Scope.ENTERPRISE: ("No such enterprise.", "enterprise_not_found"),
    Scope.LAB: ("No such lab.", "lab_not_found"),
}


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("A bearer token is required.", code="missing_token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use the Bearer scheme.", code="missing_token")
    return token.strip()


class Access:
    """The roles a route allows and the scope rule it applies, as one dependency."""

    def __init__(self, roles: frozenset[str], scope: Scope) -> None:
        unknown = roles - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        self.roles = roles
        self.scope = scope

    async def authorize(self, request: Request) -> Principal:
        state = request.app.state
        tokens: TokenService = state.tokens
        auth: AuthState = state.auth
        limiter: Limiter = state.limiter
        principal = tokens.verify(bearer_token(request))
        auth.check_not_revoked(principal)
        await limiter.acquire(principal.rate_key)
        require_role(principal, *self.roles)
        if self.scope in _PATH_PARAM:
            self._check_path_tenant(request, principal)
        elif self.scope is Scope.PROVINCE:
            require_province(principal)
        # After authentication and authorization: who may not call the route learns nothing
        # about its parameters (401/403 come first, as for a body).
        check_query(request)
        request.state.principal = principal
        return principal

    def _check_path_tenant(self, request: Request, principal: Principal) -> None:
        name = _PATH_PARAM[self.scope]
        raw = request.path_params.get(name)
        try:
            wanted = uuid.UUID(str(raw))
        except ValueError as exc:
            raise Unprocessable("Not a valid UUID.", code="invalid_uuid", field=f"path.{name}") from exc
        # A district authority's reach is checked by the upstream, which knows districts.
        if claims_other_tenant(principal, _KIND[self.scope], wanted):
            message, code = _NOT_FOUND[self.scope]
            raise NotFound(message, code=code)

    def describe(self) -> dict[str, Any]:
        return {"roles": sorted(self.roles), "scope": str(self.scope)}


class ClientAccess(Access):
    async def __call__(self, request: Request, _: Annotated[str | None, Depends(CLIENT_CREDENTIALS)]) -> Principal:
        return await self.authorize(request)


class DeviceAccess(Access):
    async def __call__(
        self, request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(DEVICE_TOKEN)]
    ) -> Principal:
        return await self.authorize(request)


class AnyAccess(Access):
    async def __call__(
        self,
        request: Request,
        _c: Annotated[str | None, Depends(CLIENT_CREDENTIALS)],
        _d: Annotated[HTTPAuthorizationCredentials | None, Depends(DEVICE_TOKEN)],
    ) -> Principal:
        return await self.authorize(request)


def allow(*roles: str, scope: Scope) -> Any:
    """``Annotated[Principal, allow("enterprise", "authority", scope=Scope.ENTERPRISE)]``."""
    wanted = frozenset(roles)
    access: ClientAccess | DeviceAccess | AnyAccess
    if wanted == {"worker"}:
        access = DeviceAccess(wanted, scope)
    elif "worker" in wanted:
        access = AnyAccess(wanted, scope)
    else:
        access = ClientAccess(wanted, scope)
    return Depends(access)


async def public_query_check(request: Request) -> None:
    """The unknown-query-parameter check of the routes no token guards (the others make it in
    :meth:`Access.authorize`, once the caller is known)."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and route_access(route) is None:
        check_query(request)


def route_access(route: APIRoute) -> Access | None:
    """The :class:`Access` a route declares, found in its dependency tree."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Access):
            return dep.call
        stack.extend(dep.dependencies)
    return None


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    access: Access | None
    route: APIRoute


def api_routes(app: FastAPI) -> list[RouteInfo]:
    """Every API route of the app with its full path, one entry per method."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            continue
        path = ctx.path_format or route.path_format
        for method in sorted(ctx.methods or route.methods or ()):
            out.append(RouteInfo(method, path, route_access(route), route))
    return out


async def anonymous_rate_limit(request: Request) -> None:
    """Per-address bucket for the routes that come before any token (token, activate, refresh)."""
    limiter: Limiter = request.app.state.anonymous_limiter
    await limiter.acquire(request.client.host if request.client else "unknown")


AnonymousLimit = Depends(anonymous_rate_limit)
