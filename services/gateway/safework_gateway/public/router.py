"""The public, unauthenticated, cacheable list and map of enterprises declared safe (seeds/002
§2: "công bố sơ đồ các doanh nghiệp đảm bảo an toàn"). No token: the registry is asked as the
``public`` caller, and answers with nothing personal. ETag and ``Cache-Control: public``."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.openapi.constants import REF_TEMPLATE
from starlette.responses import JSONResponse, Response

from safework_common.contract.public import SafeEnterpriseMap, SafeEnterprisePage
from safework_common.errors import ERROR_RESPONSES, ErrorEnvelope
from safework_common.geo import DISTRICT_SCHEMA
from safework_common.internal_auth import Caller
from safework_common.paging import MAX_LIMIT
from safework_gateway.deps import Registry
from safework_gateway.forwarding import schemas as s
from safework_gateway.forwarding.compliance import etag_of, none_match
from safework_gateway.upstream import relay

PUBLIC_CALLER: Final = Caller(subject="public", role="public")
MAX_AGE_SECONDS: Final = 300


class GeoJSONResponse(JSONResponse):
    """Declares the map's media type in the OpenAPI (the answer itself is the registry's bytes)."""

    media_type = "application/geo+json"


# The map's errors are JSON envelopes like every other route's (not GeoJSON).
_JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": answer["description"],
        "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=ErrorEnvelope.__name__)}}},
    }
    for status, answer in ERROR_RESPONSES.items()
}


router = APIRouter(responses=ERROR_RESPONSES, tags=["public"])

_PARAMS: list[dict[str, Any]] = [
    {"name": "district", "in": "query", "required": False, "schema": DISTRICT_SCHEMA},
    {"name": "zone_type", "in": "query", "required": False, "schema": s.ZONE_TYPE},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
]


async def _cached(request: Request, registry: Registry, path: str, media_type: str) -> Response:
    if request.url.query:
        path = f"{path}?{request.url.query}"
    upstream = await registry.request("GET", path, PUBLIC_CALLER)
    if upstream.status_code != 200:
        return relay(upstream)
    etag = etag_of(upstream.content)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}"}
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(upstream.content, media_type=media_type, headers=headers)


@router.get(
    "/public/safe-enterprises",
    summary="Enterprises declared safe, by district and zone (public, no personal data)",
    response_class=Response,
    responses={200: {"description": "Success", "model": SafeEnterprisePage}, 304: {"description": "Unchanged"}},
    openapi_extra={"parameters": _PARAMS},
)
async def safe_enterprises(request: Request, registry: Registry) -> Response:
    return await _cached(request, registry, "/v1/public/safe-enterprises", "application/json")


@router.get(
    "/public/safe-enterprises.geojson",
    summary="The map of enterprises declared safe: a GeoJSON FeatureCollection (public)",
    response_class=GeoJSONResponse,
    responses={
        **_JSON_ERRORS,
        200: {"description": "Success: a GeoJSON FeatureCollection (RFC 7946)", "model": SafeEnterpriseMap},
        304: {"description": "Unchanged"},
    },
    openapi_extra={"parameters": _PARAMS},
)
async def safe_enterprises_geojson(request: Request, registry: Registry) -> Response:
    return await _cached(request, registry, "/v1/public/safe-enterprises.geojson", "application/geo+json")
