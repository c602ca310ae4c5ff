"""Vaccine products (the province authority writes, anyone reads) and a person's doses."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from safework_common.contract.vaccines import DoseIn, DoseOut, VaccineProductIn, VaccineProductOut, VaccineProductPatch
from safework_registry.deps import CallerDep, Session
from safework_registry.idempotency.service import Idempotency
from safework_registry.pagination import Page
from safework_registry.vaccines import service

router = APIRouter(tags=["vaccines"])

CodePath = Annotated[str, Path(min_length=1, max_length=32)]


@router.post(
    "/vaccine-products",
    status_code=201,
    response_model=VaccineProductOut,
    summary="Add a vaccine product (province authority)",
)
async def create_product(body: VaccineProductIn, session: Session, caller: CallerDep, idem: Idempotency) -> Response:
    if (replay := await idem.start()) is not None:
        return replay
    return await idem.finish_model(session, 201, await service.create_product(session, caller, body))


@router.get("/vaccine-products", summary="Vaccine products (any caller)")
async def list_products(session: Session, active: bool | None = None) -> Page[VaccineProductOut]:
    return Page(items=await service.list_products(session, active=active))


@router.get("/vaccine-products/{code}", summary="One vaccine product (any caller)")
async def get_product(code: CodePath, session: Session) -> VaccineProductOut:
    return await service.get_product(session, code)


@router.patch("/vaccine-products/{code}", summary="Change a vaccine product (province authority)")
async def patch_product(
    code: CodePath, body: VaccineProductPatch, session: Session, caller: CallerDep
) -> VaccineProductOut:
    product = await service.patch_product(session, caller, code, body)
    await session.commit()  # before the answer: what is acknowledged is durable
    return product


@router.post(
    "/persons/{person_id}/doses",
    status_code=201,
    response_model=DoseOut,
    summary="Record a dose (authority)",
    description=(
        "Dose n needs dose n-1 (409 `previous_dose_missing`) given at least the minimum interval of "
        "dose n-1's product earlier, in local calendar days (422 `dose_interval_too_short`); no future "
        "time (422 `administered_in_future`). The same dose number again: identical data answers 200 "
        "with the stored dose (a harmless replay), other data 409 `dose_conflict`."
    ),
    responses={200: {"model": DoseOut, "description": "Identical replay of a stored dose"}},
)
async def add_dose(
    person_id: uuid.UUID, body: DoseIn, session: Session, caller: CallerDep, idem: Idempotency
) -> Response:
    if (replay := await idem.start()) is not None:
        return replay
    dose, created = await service.add_dose(session, caller, person_id, body)
    return await idem.finish_model(session, 201 if created else 200, dose)


@router.get("/persons/{person_id}/doses", summary="A person's doses (in scope)")
async def list_doses(person_id: uuid.UUID, session: Session, caller: CallerDep) -> Page[DoseOut]:
    return Page(items=await service.list_doses(session, caller, person_id))
