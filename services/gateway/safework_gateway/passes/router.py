"""Gate passes: the worker asks for one; a gate verifies it offline (JWKS + revocation list) or
here online; the worker's doses as a SMART Health Card."""

from __future__ import annotations

import io
import uuid
from typing import Annotated, Any, Literal

import segno
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from safework_common.contract.passes import (
    HealthCardJwks,
    HealthCardOut,
    PassHolder,
    PassOut,
    PassVerifyIn,
    PassVerifyOut,
    RevocationListOut,
)
from safework_common.errors import ERROR_RESPONSES, NotFound, SafeworkError
from safework_gateway.auth.access import Scope, allow
from safework_gateway.auth.principal import Principal
from safework_gateway.deps import Auth, Registry
from safework_gateway.passes import health_card
from safework_gateway.passes.service import PassService

router = APIRouter(tags=["gate passes"], responses=ERROR_RESPONSES)
jwks_router = APIRouter(tags=["gate passes"])

Worker = Annotated[Principal, allow("worker", scope=Scope.SELF)]
Gate = Annotated[Principal, allow("enterprise", "authority", scope=Scope.NONE)]
ImageFormat = Annotated[Literal["png", "svg"], Query(description="png (default) or svg.")]
IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The QR code",
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/svg+xml": {"schema": {"type": "string"}},
        },
    }
}


def _passes(request: Request) -> PassService:
    service: PassService = request.app.state.passes
    return service


def _qr(content: Any, image_format: str, *, error: str) -> Response:
    qr = segno.make_qr(content, error=error)
    buf = io.BytesIO()
    if image_format == "svg":
        qr.save(buf, kind="svg", scale=4, border=4, xmldecl=False)
        return Response(buf.getvalue(), media_type="image/svg+xml")
    qr.save(buf, kind="png", scale=4, border=4)
    return Response(buf.getvalue(), media_type="image/png")


@router.post(
    "/me/pass",
    response_model=PassOut,
    status_code=201,
    summary="A cleared-to-work gate pass (only when cleared; else 409 with the verdict's reasons)",
    description=(
        "No request body: the pass is made from the caller's own verdict at this instant (the device "
        "token names the person and the enterprise), so there is nothing to send."
    ),
)
async def issue_pass(request: Request, principal: Worker) -> PassOut:
    return await _passes(request).issue(principal.caller(), str(principal.person_id), str(principal.enterprise_id))


@router.get(
    "/me/passes/{pass_id}/qr",
    response_class=Response,
    responses=IMAGE_RESPONSES,
    summary="My pass as a QR code (PNG or SVG)",
)
async def pass_qr(request: Request, principal: Worker, pass_id: str, format: ImageFormat = "png") -> Response:
    row = await _passes(request).own_pass(str(principal.person_id), pass_id[:64])
    return _qr(str(row["token"]), format, error="m")


@router.post(
    "/passes/verify",
    response_model=PassVerifyOut,
    summary="Verify a pass online (whose it is: only for the enterprise's own workers)",
)
async def verify_pass(request: Request, body: PassVerifyIn, principal: Gate, registry: Registry) -> PassVerifyOut:
    service = _passes(request)
    check, row = await service.check(body.token)
    if check.pass_id is None:
        return PassVerifyOut(valid=False, outcome=check.code, pass_id=None, enterprise_id=None, expires_at=None)
    if row is None or (principal.role == "enterprise" and str(row["enterprise_id"]) != principal.enterprise_id):
        raise NotFound("No such pass.", code="pass_not_found")
    try:
        person = await registry.json("GET", f"/v1/persons/{row['person_id']}", principal.caller())
    except SafeworkError as exc:
        if exc.status_code == 404:
            raise NotFound("No such pass.", code="pass_not_found") from exc
        raise
    code, reason = check.code, row["revoked_reason"]
    if check.valid:
        reason = await service.recheck_one(row, principal.caller(), person)
        if reason is not None:
            code = "pass_revoked"
    return PassVerifyOut(
        valid=code == "pass_valid",
        outcome=code,
        pass_id=check.pass_id,
        enterprise_id=uuid.UUID(str(row["enterprise_id"])),
        expires_at=row["expires_at"],
        revoked_reason=reason,
        holder=PassHolder(
            person_id=uuid.UUID(str(person["id"])),
            full_name=str(person["full_name"]),
            employee_code=person.get("employee_code"),
        ),
    )


@router.get(
    "/passes/revocations",
    response_model=RevocationListOut,
    summary="The signed list of revoked passes still inside their validity (an enterprise: its own)",
)
async def revocations(request: Request, principal: Gate) -> RevocationListOut:
    enterprise = (
        uuid.UUID(principal.enterprise_id) if principal.role == "enterprise" and principal.enterprise_id else None
    )
    return await _passes(request).revocation_list(enterprise)


@router.get(
    "/me/health-card",
    response_model=HealthCardOut,
    response_model_by_alias=True,
    summary="My vaccination as a SMART Health Card file (FHIR R4, ES256, verifiable by any SHC verifier)",
)
async def my_health_card(request: Request, principal: Worker) -> dict[str, list[str]]:
    jws = await _passes(request).health_card(principal.caller(), str(principal.person_id))
    return {"verifiableCredential": [jws]}


@router.get(
    "/me/health-card/qr",
    response_class=Response,
    responses=IMAGE_RESPONSES,
    summary="My SMART Health Card as its shc:/ numeric QR (PNG or SVG)",
)
async def my_health_card_qr(request: Request, principal: Worker, format: ImageFormat = "png") -> Response:
    jws = await _passes(request).health_card(principal.caller(), str(principal.person_id))
    return _qr(health_card.qr_segments(jws), format, error="l")


@jwks_router.get(
    "/health-cards/.well-known/jwks.json",
    response_model=HealthCardJwks,
    summary="The SMART Health Card issuer's keys (ES256)",
)
async def health_card_jwks(auth: Auth) -> dict[str, Any]:
    return auth.ring.health_card_jwks
