"""Workers' devices: activation codes, activation and refresh for the sanctioned app, enterprise
accounts' syncs, and device revocation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from safework_common.errors import ERROR_RESPONSES, ErrorDetail, NotFound, Unauthorized, Unprocessable
from safework_common.internal_auth import Caller
from safework_gateway.auth.access import AnonymousLimit, Scope, allow
from safework_gateway.auth.principal import Principal
from safework_gateway.auth.tokens import TYP_DEVICE, TokenService
from safework_gateway.deps import Auth, Hasher, Registry, Session, Settings, Tokens
from safework_gateway.devices import service
from safework_gateway.devices.models import Device
from safework_gateway.devices.sanctioned import require_sanctioned
from safework_gateway.devices.schemas import (
    DEVICE_ID_PATTERN,
    SYNC_RESPONSES,
    ActivateRequest,
    ActivationCodeOut,
    ActivationCodes,
    ActivationCodesRequest,
    DeviceTokens,
    EnterpriseSyncRequest,
    RefreshRequest,
    RevokedDevice,
)
from safework_gateway.keys.crypto import SecretHasher
from safework_gateway.settings import GatewaySettings
from safework_gateway.upstream import Upstream, UpstreamError, error_from, relay

router = APIRouter(responses=ERROR_RESPONSES)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_ROSTER_CHECKS = 16  # registry look-ups in flight per request


def _json(model: BaseModel, status_code: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code, headers=_NO_STORE)


async def _roster_problems(
    registry: Upstream, caller: Caller, enterprise_id: uuid.UUID, person_ids: dict[uuid.UUID, int]
) -> list[ErrorDetail]:
    """Each person (with their index in the request) must be on this enterprise's active
    roster, as the caller sees it."""
    gate = asyncio.Semaphore(_ROSTER_CHECKS)

    async def check(index: int, pid: uuid.UUID) -> ErrorDetail | None:
        field = f"body.person_ids[{index}]"
        async with gate:
            try:
                person = await registry.json("GET", f"/v1/persons/{pid}", caller)
            except UpstreamError as exc:
                if exc.status_code == 404:
                    return ErrorDetail(field=field, code="person_not_found", message="No such person.")
                raise
        if str(person.get("enterprise_id")) != str(enterprise_id):
            return ErrorDetail(field=field, code="person_not_on_roster", message="Not on this enterprise's roster.")
        if person.get("status", "active") != "active":
            return ErrorDetail(field=field, code="person_not_active", message="No longer on the active roster.")
        return None

    found = await asyncio.gather(*(check(i, pid) for pid, i in person_ids.items()))
    return [d for d in found if d is not None]


@router.post(
    "/enterprises/{enterprise_id}/activation-codes",
    tags=["enterprise"],
    status_code=201,
    response_model=ActivationCodes,
    summary="One-time activation codes for people on the roster (shown once, valid 72 h)",
)
async def issue_activation_codes(
    enterprise_id: uuid.UUID,
    body: ActivationCodesRequest,
    principal: Annotated[Principal, allow("enterprise", "authority", scope=Scope.ENTERPRISE)],
    session: Session,
    hasher: Hasher,
    registry: Registry,
    settings: Settings,
) -> JSONResponse:
    """Each person is checked against the registry as the caller (an enterprise sees only its
    roster; a district authority only its district). A new code replaces a person's unused one."""
    caller = principal.caller()
    if principal.role == "authority":
        # The path names the enterprise; for an authority the registry says whether it is in reach.
        try:
            await registry.json("GET", f"/v1/enterprises/{enterprise_id}", caller)
        except UpstreamError as exc:
            if exc.status_code == 404:
                raise NotFound("No such enterprise.", code="enterprise_not_found") from exc
            raise
    person_ids: dict[uuid.UUID, int] = {}
    for index, pid in enumerate(body.person_ids):
        person_ids.setdefault(pid, index)  # a repeated person gets one code
    problems = await _roster_problems(registry, caller, enterprise_id, person_ids)
    if problems:
        raise Unprocessable("Some people cannot be given a code.", code="person_not_on_roster", details=problems)
    issued = await service.issue_codes(
        session,
        hasher,
        person_ids=list(person_ids),
        enterprise_id=enterprise_id,
        issued_by=principal.subject,
        ttl=timedelta(hours=settings.activation_code_ttl_hours),
    )
    out = ActivationCodes(
        items=[ActivationCodeOut(person_id=i.person_id, code=i.code, expires_at=i.expires_at) for i in issued]
    )
    return _json(out, 201)


def _device_tokens(tokens: TokenService, settings: GatewaySettings, device: Device, refresh_token: str) -> DeviceTokens:
    access, expires_in, scope = tokens.issue(
        subject=f"device:{device.device_id}",
        role="worker",
        typ=TYP_DEVICE,
        ttl_seconds=settings.device_token_ttl_seconds,
        claims={
            "person_id": str(device.person_id),
            "enterprise_id": str(device.enterprise_id),
            "device_id": device.device_id,
            "sid": str(device.session_id),
        },
    )
    return DeviceTokens(
        access_token=access,
        expires_in=expires_in,
        refresh_token=refresh_token,
        refresh_expires_in=settings.refresh_token_ttl_seconds,
        scope=scope,
        person_id=device.person_id,
        enterprise_id=device.enterprise_id,
        device_id=device.device_id,
    )


def _installation(device_id: str, app_id: str, app_version: str, platform: str) -> dict[str, Any]:
    return {"device_id": device_id, "app_id": app_id, "app_version": app_version, "platform": platform}


@router.post(
    "/app/activate",
    tags=["worker app"],
    response_model=DeviceTokens,
    dependencies=[AnonymousLimit],
    responses={429: {"description": "Too many attempts from this address"}},
    summary="Trade an activation code for a device token (the sanctioned app only)",
)
async def activate(
    body: ActivateRequest,
    request: Request,
    session: Session,
    hasher: Hasher,
    registry: Registry,
    tokens: Tokens,
    settings: Settings,
    auth: Auth,
) -> JSONResponse:
    """Order matters: the app is checked before the code, so a refused app spends no code; the
    registry records the installation before the code is spent for good (on any error the
    code stays usable)."""
    await require_sanctioned(
        request,
        endpoint="POST /api/v1/app/activate",
        app_id=body.app_id,
        app_version=body.app_version,
        platform=body.platform,
        device_id=body.device_id,
        subject=None,
    )
    code = await service.redeem_code(session, hasher, body.code, body.device_id)
    worker = Caller(
        subject=f"device:{body.device_id}",
        role="worker",
        person_id=str(code.person_id),
        enterprise_id=str(code.enterprise_id),
    )
    await registry.json(
        "POST",
        "/v1/installations/sync",
        worker,
        json=_installation(body.device_id, body.app_id, body.app_version, body.platform),
    )
    device, revoked = await service.start_session(
        session,
        code,
        device_id=body.device_id,
        app_id=body.app_id,
        app_version=body.app_version,
        platform=body.platform,
    )
    refresh = await service.new_refresh_token(
        session, hasher, device, timedelta(seconds=settings.refresh_token_ttl_seconds)
    )
    for sid in revoked:
        auth.revoke_session(sid)
    return _json(_device_tokens(tokens, settings, device, refresh))


async def _refresh(session: Session, hasher: SecretHasher, token: str, auth: Auth) -> Device:
    try:
        return await service.use_refresh_token(session, hasher, token)
    except service.RefreshReused as exc:
        await session.commit()  # the revocation stands although this request fails
        auth.revoke_session(exc.session_id)
        raise Unauthorized(
            "This refresh token was already used; the device has been revoked.",
            code="refresh_token_reused",
            field="body.refresh_token",
        ) from exc


async def _still_on_roster(registry: Upstream, device: Device) -> bool:
    worker = Caller(
        subject=f"device:{device.device_id}",
        role="worker",
        person_id=str(device.person_id),
        enterprise_id=str(device.enterprise_id),
    )
    try:
        person = await registry.json("GET", f"/v1/persons/{device.person_id}", worker)
    except UpstreamError as exc:
        if exc.status_code == 404:
            return False
        raise
    return bool(person.get("status") == "active" and str(person.get("enterprise_id")) == str(device.enterprise_id))


@router.post(
    "/app/refresh",
    tags=["worker app"],
    response_model=DeviceTokens,
    dependencies=[AnonymousLimit],
    responses={429: {"description": "Too many attempts from this address"}},
    summary="A new device token and refresh token; the old refresh token is spent",
)
async def refresh(
    body: RefreshRequest,
    session: Session,
    hasher: Hasher,
    tokens: Tokens,
    settings: Settings,
    auth: Auth,
    registry: Registry,
) -> JSONResponse:
    """A worker who left the roster (or moved to another enterprise) gets no new token: the
    registry is asked, as the worker, at each refresh, and the device is revoked."""
    device = await _refresh(session, hasher, body.refresh_token, auth)
    if not await _still_on_roster(registry, device):
        device.revoked_at = datetime.now(UTC)
        device.revoked_reason = "left_roster"
        await session.commit()
        auth.revoke_session(str(device.session_id))
        raise Unauthorized(
            "The worker is no longer on the roster this device was activated for.",
            code="worker_not_on_roster",
            field="body.refresh_token",
        )
    new_refresh = await service.new_refresh_token(
        session, hasher, device, timedelta(seconds=settings.refresh_token_ttl_seconds)
    )
    return _json(_device_tokens(tokens, settings, device, new_refresh))


@router.post(
    "/enterprises/{enterprise_id}/app/sync",
    tags=["enterprise"],
    summary="An enterprise account's sync from the sanctioned app",
    response_class=Response,
    responses=SYNC_RESPONSES,
)
async def enterprise_sync(
    enterprise_id: uuid.UUID,
    body: EnterpriseSyncRequest,
    request: Request,
    principal: Annotated[Principal, allow("enterprise", scope=Scope.ENTERPRISE)],
    registry: Registry,
) -> Response:
    """Seeds/000 §2.4: an enterprise has the app installed when at least one of its accounts is
    active in it; this records that account's installation and its last update."""
    await require_sanctioned(
        request,
        endpoint="POST /api/v1/enterprises/{enterprise_id}/app/sync",
        app_id=body.app_id,
        app_version=body.app_version,
        platform=body.platform,
        device_id=body.device_id,
        subject=principal.subject,
    )
    payload = _installation(body.device_id, body.app_id, body.app_version, body.platform)
    return relay(await registry.request("POST", "/v1/installations/sync", principal.caller(), json=payload))


@router.post(
    "/devices/{device_id}/revoke",
    tags=["enterprise"],
    response_model=RevokedDevice,
    summary="Revoke a worker's device: its tokens stop working, its installation is revoked",
)
async def revoke_device(
    device_id: Annotated[str, Path(min_length=16, max_length=128, pattern=DEVICE_ID_PATTERN)],
    principal: Annotated[Principal, allow("enterprise", "authority", scope=Scope.UPSTREAM)],
    session: Session,
    registry: Registry,
    auth: Auth,
) -> RevokedDevice:
    """The registry decides whether the caller may (an enterprise: its own workers' devices; a
    district authority: its district's); then the gateway ends the device's activation."""
    upstream = await registry.request("POST", f"/v1/installations/{device_id}/revoke", principal.caller())
    if upstream.status_code >= 400:
        raise error_from(upstream)
    own = principal.enterprise_id if principal.role == "enterprise" else None
    revoked = await service.revoke_device(session, device_id, enterprise_id=uuid.UUID(own) if own else None)
    for sid in revoked:
        auth.revoke_session(sid)
    return RevokedDevice(device_id=device_id, revoked_sessions=len(revoked))
