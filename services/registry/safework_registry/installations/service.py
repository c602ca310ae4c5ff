"""App installations: register and refresh a device, revoke one, and the counts the single-app
rule needs (seeds/000 §2.4: an enterprise that has not installed the app, or does not update it
regularly, is in violation).

A device belongs to one owner for life: a worker (``person_id``, from the device token) or an
enterprise account (``enterprise_id``). A sync from the same owner refreshes it; from anyone else
it is 409 ``device_owned_by_other``; a revoked device stays revoked (403 ``device_revoked``)."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.installations import (
    AccountDevices,
    InstallationOut,
    InstallationSummary,
    SyncIn,
    WorkerDevices,
)
from safework_common.errors import Conflict, Forbidden, NotFound
from safework_common.internal_auth import Caller
from safework_common.scope import (
    as_uuid,
    caller_enterprise,
    in_district,
    require_enterprise_visible,
    sees_everything,
)
from safework_registry.audit import service as audit
from safework_registry.enterprises.models import Enterprise
from safework_registry.installations.models import AppInstallation
from safework_registry.persons.access import person_not_found
from safework_registry.persons.models import Person


async def _owner(session: AsyncSession, caller: Caller) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(person_id, enterprise_id) of the device's owner: the worker or the enterprise account."""
    if caller.role == "worker":
        person_id = as_uuid(caller.person_id)
        if person_id is None:
            raise Forbidden("Worker token without a person.", code="scope_missing")
        if await session.scalar(select(Person.id).where(Person.id == person_id)) is None:
            raise person_not_found()
        return person_id, None
    if caller.role == "enterprise":
        enterprise_id = caller_enterprise(caller)
        if await session.scalar(select(Enterprise.id).where(Enterprise.id == enterprise_id)) is None:
            raise NotFound("No such enterprise.", code="enterprise_not_found")
        return None, enterprise_id
    raise Forbidden("Only a worker's or an enterprise's app syncs.", code="role_not_allowed")


async def sync(session: AsyncSession, caller: Caller, body: SyncIn) -> tuple[InstallationOut, bool]:
    """Register the device on its first sync (``first_seen_at``), else refresh its app version
    and ``last_sync_at``. One statement, so concurrent first syncs make one row."""
    person_id, enterprise_id = await _owner(session, caller)
    stmt = pg_insert(AppInstallation).values(
        device_id=body.device_id,
        person_id=person_id,
        enterprise_id=enterprise_id,
        app_id=body.app_id,
        app_version=body.app_version,
        platform=body.platform,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[AppInstallation.device_id],
        set_={
            "app_id": stmt.excluded.app_id,
            "app_version": stmt.excluded.app_version,
            "platform": stmt.excluded.platform,
            "last_sync_at": func.now(),
            "updated_at": func.now(),
        },
        where=and_(
            AppInstallation.revoked_at.is_(None),
            AppInstallation.person_id.is_not_distinct_from(stmt.excluded.person_id),
            AppInstallation.enterprise_id.is_not_distinct_from(stmt.excluded.enterprise_id),
        ),
    )
    row = (
        await session.execute(
            stmt.returning(*AppInstallation.__table__.c, literal_column("(xmax = 0)").label("created"))
        )
    ).one_or_none()
    if row is None:
        revoked = await session.scalar(
            select(AppInstallation.revoked_at).where(AppInstallation.device_id == body.device_id)
        )
        if revoked is not None:
            raise Forbidden("This device was revoked.", code="device_revoked", field="body.device_id")
        raise Conflict(
            "This device is registered to someone else.", code="device_owned_by_other", field="body.device_id"
        )
    if row.created:
        await audit.record(session, caller, "register", "app_installation", row.id, {"platform": body.platform})
    return InstallationOut.model_validate(row), bool(row.created)


async def revoke(session: AsyncSession, caller: Caller, device_id: str) -> InstallationOut:
    """Revoke a device: the authority (its district's), or the enterprise for its account's and
    its workers' devices. Revoking twice changes nothing."""
    if caller.role not in ("authority", "enterprise", "system"):
        raise Forbidden(f"Role {caller.role!r} may not do this.", code="role_not_allowed")
    owner_enterprise = func.coalesce(AppInstallation.enterprise_id, Person.enterprise_id)
    stmt = (
        select(AppInstallation, Enterprise.district, owner_enterprise.label("owner_enterprise"))
        .outerjoin(Person, Person.id == AppInstallation.person_id)
        .outerjoin(Enterprise, Enterprise.id == owner_enterprise)
        .where(AppInstallation.device_id == device_id)
        .with_for_update(of=AppInstallation)
    )
    found = (await session.execute(stmt)).one_or_none()
    not_found = NotFound("No such device.", code="device_not_found", field="path.device_id")
    if found is None:
        raise not_found
    installation, district, owner = found
    visible = (
        sees_everything(caller)
        or (caller.role == "enterprise" and owner is not None and owner == caller_enterprise(caller))
        or (caller.role == "authority" and in_district(caller, district))
    )
    if not visible:
        raise not_found
    if installation.revoked_at is None:
        installation = (
            await session.execute(
                update(AppInstallation)
                .where(AppInstallation.id == installation.id)
                .values(revoked_at=func.now(), updated_at=func.now())
                .returning(AppInstallation)
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        await audit.record(session, caller, "revoke", "app_installation", installation.id)
    return InstallationOut.model_validate(installation)


_SUMMARY = text(
    """
    SELECT
      (SELECT count(*) FROM app_installation a
        WHERE a.enterprise_id = :e AND a.person_id IS NULL AND a.revoked_at IS NULL) AS account_devices,
      (SELECT max(a.last_sync_at) FROM app_installation a
        WHERE a.enterprise_id = :e AND a.person_id IS NULL AND a.revoked_at IS NULL) AS account_last_sync,
      (SELECT count(*) FROM person p WHERE p.enterprise_id = :e AND p.status = 'active') AS active_workers,
      (SELECT count(*) FROM person p WHERE p.enterprise_id = :e AND p.status = 'active'
         AND EXISTS (SELECT 1 FROM app_installation a WHERE a.person_id = p.id AND a.revoked_at IS NULL))
        AS workers_with_device,
      (SELECT max(a.last_sync_at) FROM app_installation a JOIN person p ON p.id = a.person_id
        WHERE p.enterprise_id = :e AND p.status = 'active' AND a.revoked_at IS NULL) AS workers_last_sync,
      (SELECT count(*) FROM app_installation a WHERE a.revoked_at IS NOT NULL
         AND (a.enterprise_id = :e OR a.person_id IN (SELECT id FROM person WHERE enterprise_id = :e)))
        AS revoked_devices
    """
)


async def summary(session: AsyncSession, caller: Caller, enterprise_id: uuid.UUID) -> InstallationSummary:
    """The counts for the single-app rule, in one query."""
    district = await session.scalar(select(Enterprise.district).where(Enterprise.id == enterprise_id))
    if district is None:
        raise NotFound("No such enterprise.", code="enterprise_not_found", field="path.enterprise_id")
    require_enterprise_visible(caller, enterprise_id, district)
    row = (await session.execute(_SUMMARY, {"e": enterprise_id})).one()
    syncs = [t for t in (row.account_last_sync, row.workers_last_sync) if t is not None]
    return InstallationSummary(
        enterprise_id=enterprise_id,
        accounts=AccountDevices(active_devices=row.account_devices, last_sync_at=row.account_last_sync),
        workers=WorkerDevices(
            active=row.active_workers, with_active_device=row.workers_with_device, last_sync_at=row.workers_last_sync
        ),
        revoked_devices=row.revoked_devices,
        last_sync_at=max(syncs) if syncs else None,
    )
