"""Vaccine products and the dose rules (seeds/000 §2.1, seeds/003: dose 2 after the vaccine's
minimum interval)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.vaccines import (
    DoseIn,
    DoseOut,
    VaccineProductIn,
    VaccineProductOut,
    VaccineProductPatch,
)
from safework_common.errors import Conflict, NotFound, Unprocessable
from safework_common.internal_auth import Caller
from safework_common.scope import require_province, require_role
from safework_common.timezone import local_date
from safework_registry.audit import service as audit
from safework_registry.persons.access import person_in_scope
from safework_registry.vaccines.models import Dose, VaccineProduct
from safework_registry.validation import not_in_future, patch_values


def _require_province_authority(caller: Caller) -> None:
    """Reference data is the province's: a district authority reads it but does not change it."""
    require_province(caller)


def _product_not_found(field: str) -> NotFound:
    return NotFound("No such vaccine product.", code="vaccine_product_not_found", field=field)


async def create_product(session: AsyncSession, caller: Caller, body: VaccineProductIn) -> VaccineProductOut:
    _require_province_authority(caller)
    row = (
        await session.execute(
            pg_insert(VaccineProduct)
            .values(**body.model_dump())
            .on_conflict_do_nothing(index_elements=[VaccineProduct.code])
            .returning(VaccineProduct)
        )
    ).scalar_one_or_none()
    if row is None:
        raise Conflict("A vaccine product with this code exists.", code="vaccine_product_exists", field="body.code")
    await audit.record(session, caller, "create", "vaccine_product", body.code)
    return VaccineProductOut.model_validate(row)


async def list_products(session: AsyncSession, *, active: bool | None) -> list[VaccineProductOut]:
    stmt = select(VaccineProduct).order_by(VaccineProduct.code)
    if active is not None:
        stmt = stmt.where(VaccineProduct.active == active)
    return [VaccineProductOut.model_validate(p) for p in (await session.execute(stmt)).scalars()]


async def get_product(session: AsyncSession, code: str) -> VaccineProductOut:
    row = await session.get(VaccineProduct, code)
    if row is None:
        raise _product_not_found("path.code")
    return VaccineProductOut.model_validate(row)


async def patch_product(
    session: AsyncSession, caller: Caller, code: str, body: VaccineProductPatch
) -> VaccineProductOut:
    _require_province_authority(caller)
    values = patch_values(body)
    stmt = update(VaccineProduct).where(VaccineProduct.code == code).returning(VaccineProduct)
    if values:
        row = (await session.execute(stmt.values(**values))).scalar_one_or_none()
    else:
        row = await session.get(VaccineProduct, code)
    if row is None:
        raise _product_not_found("path.code")
    if values:
        await audit.record(session, caller, "update", "vaccine_product", code, {"fields": sorted(values)})
    return VaccineProductOut.model_validate(row)


async def add_dose(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID, body: DoseIn, *, now: datetime | None = None
) -> tuple[DoseOut, bool]:
    """Record dose n. Dose n needs dose n-1, given at least the minimum interval of dose n-1's
    product earlier (in local calendar days); the same dose again with identical data is a
    harmless replay (``created`` False), with other data a 409 ``dose_conflict``."""
    require_role(caller, "authority")
    # Locking the person serialises dose writes for them: the n-1 check cannot race.
    await person_in_scope(session, caller, person_id, for_update=True)
    product = await session.get(VaccineProduct, body.product_code)
    if product is None:
        raise Unprocessable("No such vaccine product.", code="vaccine_product_not_found", field="body.product_code")
    doses = {
        d.dose_number: d
        for d in (
            await session.execute(
                select(Dose).where(
                    Dose.person_id == person_id, Dose.dose_number.in_([body.dose_number, body.dose_number - 1])
                )
            )
        ).scalars()
    }
    same = doses.get(body.dose_number)
    if same is not None:
        if (same.product_code, same.administered_at, same.site, same.lot) == (
            body.product_code,
            body.administered_at,
            body.site,
            body.lot,
        ):
            return DoseOut.model_validate(same), False
        raise Conflict(
            f"Dose {body.dose_number} of this person is recorded with other data.",
            code="dose_conflict",
            field="body.dose_number",
        )
    not_in_future(body.administered_at, code="administered_in_future", field="body.administered_at", now=now)
    if not product.active:
        raise Unprocessable(
            "This vaccine product is no longer in use.", code="vaccine_product_inactive", field="body.product_code"
        )
    if body.dose_number > 1:
        previous = doses.get(body.dose_number - 1)
        if previous is None:
            raise Conflict(
                f"Dose {body.dose_number - 1} must be recorded before dose {body.dose_number}.",
                code="previous_dose_missing",
                field="body.dose_number",
            )
        prev_product = await session.get(VaccineProduct, previous.product_code)
        assert prev_product is not None  # foreign key
        days = (local_date(body.administered_at) - local_date(previous.administered_at)).days
        if days < prev_product.min_interval_days:
            raise Unprocessable(
                f"Dose {body.dose_number} is {days} days after dose {body.dose_number - 1}; "
                f"{prev_product.code} needs at least {prev_product.min_interval_days}.",
                code="dose_interval_too_short",
                field="body.administered_at",
            )
    row = (
        await session.execute(insert(Dose).values(person_id=person_id, **body.model_dump()).returning(Dose))
    ).scalar_one()
    await audit.record(session, caller, "create", "dose", row.id)
    return DoseOut.model_validate(row), True


async def list_doses(session: AsyncSession, caller: Caller, person_id: uuid.UUID) -> list[DoseOut]:
    await person_in_scope(session, caller, person_id)
    rows = (await session.execute(select(Dose).where(Dose.person_id == person_id).order_by(Dose.dose_number))).scalars()
    return [DoseOut.model_validate(d) for d in rows]
