"""App installations: sync from the app, revocation, and the enterprise's summary."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from safework_common.contract.installations import DeviceId, InstallationOut, InstallationSummary, SyncIn
from safework_registry.deps import CallerDep, Session
from safework_registry.idempotency.service import Idempotency
from safework_registry.installations import service

router = APIRouter(tags=["installations"])


@router.post(
    "/installations/sync",
    response_model=InstallationOut,
    status_code=200,
    summary="Register or refresh this app installation (worker or enterprise account)",
    description=(
        "First sync of a device registers it (201) for the caller: the worker, or the enterprise account. "
        "Later syncs by the same owner refresh `app_version` and `last_sync_at` (200). A device of another "
        "owner is 409 `device_owned_by_other`; a revoked device 403 `device_revoked`."
    ),
    responses={201: {"model": InstallationOut, "description": "First sync: registered"}},
)
async def sync(body: SyncIn, session: Session, caller: CallerDep, idem: Idempotency) -> Response:
    if (replay := await idem.start()) is not None:
        return replay
    installation, created = await service.sync(session, caller, body)
    return await idem.finish_model(session, 201 if created else 200, installation)


@router.post(
    "/installations/{device_id}/revoke",
    response_model=InstallationOut,
    summary="Revoke a device (authority, or the enterprise for its own and its workers' devices)",
)
async def revoke(
    device_id: Annotated[DeviceId, Path()], session: Session, caller: CallerDep, idem: Idempotency
) -> Response:
    if (replay := await idem.start()) is not None:
        return replay
    return await idem.finish_model(session, 200, await service.revoke(session, caller, device_id))


@router.get(
    "/enterprises/{enterprise_id}/installations",
    summary="The enterprise's installations, counted for the single-app rule (seeds/000 §2.4)",
)
async def installations_summary(enterprise_id: uuid.UUID, session: Session, caller: CallerDep) -> InstallationSummary:
    return await service.summary(session, caller, enterprise_id)
