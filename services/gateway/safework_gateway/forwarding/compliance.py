"""An enterprise's compliance, computed by the scheduler, served with an ETag so polling clients
re-download only when something changed (RFC 9110 §8.8.3, §13.1.2; RFC 9111 §5.2)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from safework_common.contract import ComplianceOut
from safework_common.errors import ERROR_RESPONSES
from safework_gateway.auth.access import Scope, allow
from safework_gateway.auth.principal import Principal
from safework_gateway.deps import Scheduler, Settings
from safework_gateway.forwarding import schemas as s
from safework_gateway.upstream import relay

router = APIRouter(responses=ERROR_RESPONSES)


def etag_of(body: bytes) -> str:
    """A strong validator: the hash of the exact bytes served."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def none_match(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2): ``W/`` is ignored."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


@router.get(
    "/enterprises/{enterprise_id}/compliance",
    tags=["enterprise"],
    summary="Compliance with the single-app mandate and the testing and vaccine rules (ETag, 304)",
    response_class=Response,
    responses={
        200: {
            "model": ComplianceOut,
            "description": "The enterprise's compliance",
            "headers": {
                "ETag": {"schema": {"type": "string"}, "description": "Send it back as If-None-Match."},
                "Cache-Control": {"schema": {"type": "string"}},
            },
        },
        304: {"description": "Unchanged since the ETag sent in If-None-Match"},
    },
    openapi_extra={
        "parameters": [
            {"name": "as_of", "in": "query", "required": False, "schema": s.INSTANT},
            {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
        ]
    },
)
async def compliance(
    enterprise_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, allow("enterprise", "authority", scope=Scope.ENTERPRISE)],
    scheduler: Scheduler,
    settings: Settings,
) -> Response:
    """App installed, data age against the policy's maximum, device coverage, overdue tests,
    dose coverage, operating status; overall compliant / warning / violation with reason codes."""
    path = f"/v1/enterprises/{enterprise_id}/compliance"
    if request.url.query:
        path = f"{path}?{request.url.query}"
    upstream = await scheduler.request("GET", path, principal.caller())
    if upstream.status_code != 200:
        return relay(upstream)
    body = upstream.content
    etag = etag_of(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={settings.compliance_max_age_seconds}",
        "Vary": "Authorization",
    }
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
