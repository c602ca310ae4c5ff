"""Labs: the province's licensed testing units. The province authority licenses them; every
authority reads them; a lab reads its own record."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.labs import LabCreate, LabUpdate
from safework_common.errors import Conflict, NotFound
from safework_common.internal_auth import Caller
from safework_common.scope import may_see_lab, require_province, require_role
from safework_registry.audit.service import record
from safework_registry.constraints import flush_or_conflict
from safework_registry.labs.models import Lab
from safework_registry.pagination import decode_keys, encode_cursor
from safework_registry.validation import patch_values

LICENCE_UNIQUE = "uq_lab_licence_code"


def licence_code_taken() -> Conflict:
    return Conflict("Another lab has this licence code.", code="licence_code_taken", field="body.licence_code")


def lab_not_found() -> NotFound:
    return NotFound("No such lab.", code="lab_not_found", field="path.lab_id")


def _require_province(caller: Caller) -> None:
    """Licensing is provincial (the Department of Health), not a district's."""
    require_province(caller)


async def _licence_free(session: AsyncSession, licence_code: str) -> None:
    if await session.scalar(select(Lab.id).where(Lab.licence_code == licence_code).limit(1)) is not None:
        raise licence_code_taken()


async def lab_in_scope(session: AsyncSession, caller: Caller, lab_id: uuid.UUID, *, for_update: bool = False) -> Lab:
    """Any authority reads any lab; a lab only itself (others 404)."""
    require_role(caller, "authority", "lab")
    if not may_see_lab(caller, lab_id):
        raise lab_not_found()
    stmt = select(Lab).where(Lab.id == lab_id)
    if for_update:
        stmt = stmt.with_for_update()
    lab = (await session.execute(stmt)).scalar_one_or_none()
    if lab is None:
        raise lab_not_found()
    return lab


async def create_lab(session: AsyncSession, caller: Caller, body: LabCreate) -> Lab:
    _require_province(caller)
    await _licence_free(session, body.licence_code)
    lab = Lab(**body.model_dump())
    session.add(lab)
    await flush_or_conflict(session, {LICENCE_UNIQUE: licence_code_taken()})
    await record(session, caller, "lab.create", "lab", lab.id, {"licence_code": lab.licence_code})
    await session.refresh(lab)
    return lab


async def update_lab(session: AsyncSession, caller: Caller, lab_id: uuid.UUID, body: LabUpdate) -> Lab:
    _require_province(caller)
    values = patch_values(body)
    lab = await lab_in_scope(session, caller, lab_id, for_update=True)
    if "licence_code" in values and values["licence_code"] != lab.licence_code:
        await _licence_free(session, values["licence_code"])
    changed = sorted(k for k, v in values.items() if getattr(lab, k) != v)
    if changed:
        for key in changed:
            setattr(lab, key, values[key])
        await flush_or_conflict(session, {LICENCE_UNIQUE: licence_code_taken()})
        await record(session, caller, "lab.update", "lab", lab.id, {"fields": changed})
        await session.refresh(lab)
    return lab


async def list_labs(
    session: AsyncSession, caller: Caller, *, active: bool | None, cursor: str | None, limit: int
) -> tuple[list[Lab], str | None]:
    """Labs by licence code (keyset on the unique licence code)."""
    require_role(caller, "authority")
    stmt = select(Lab)
    if active is not None:
        stmt = stmt.where(Lab.active.is_(active))
    after = decode_keys(cursor, str)
    if after is not None:
        stmt = stmt.where(Lab.licence_code > after[0])
    rows = list((await session.execute(stmt.order_by(Lab.licence_code).limit(limit + 1))).scalars())
    next_cursor = encode_cursor([rows[limit - 1].licence_code]) if len(rows) > limit else None
    return rows[:limit], next_cursor
