"""``/v1/fhir``: FHIR R4 reads (a person's Bundle, the bulk NDJSON export)."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.responses import StreamingResponse

from safework_common.errors import Unprocessable
from safework_registry.deps import CallerDep, Cipher, Session
from safework_registry.fhir import service

router = APIRouter(prefix="/fhir", tags=["FHIR"])
FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"


@router.get(
    "/persons/{person_id}",
    summary="A person as a FHIR R4 Bundle (Patient, Immunization, Observation, Organization)",
    response_class=Response,
    responses={200: {"description": "A collection Bundle", "content": {FHIR_JSON: {"schema": {"type": "object"}}}}},
)
async def person_bundle(person_id: uuid.UUID, session: Session, caller: CallerDep, cipher: Cipher) -> Response:
    """In scope (authority, enterprise: its roster); the national ID masked except to the authority."""
    bundle = await service.person_bundle(session, caller, cipher, person_id)
    return Response(orjson.dumps(bundle), media_type=FHIR_JSON)


@router.get(
    "/$export",
    summary="Bulk FHIR export (NDJSON): Organization, Patient, Immunization, Observation",
    response_class=StreamingResponse,
    responses={200: {"description": "One resource a line", "content": {NDJSON: {"schema": {"type": "string"}}}}},
)
async def bulk_export(
    request: Request,
    session: Session,
    caller: CallerDep,
    cipher: Cipher,
    type_: Annotated[
        str | None,
        Query(alias="_type", max_length=200, description="Comma-separated resource types (default: all four)."),
    ] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    enterprise_id: Annotated[uuid.UUID | None, Query()] = None,
) -> StreamingResponse:
    """Everything in the caller's reach, by type (organizations, patients, immunizations,
    observations), streamed. Authority (a district authority: its district), enterprise (its own)."""
    types = service.TYPES if type_ is None else tuple(t.strip() for t in type_.split(",") if t.strip())
    unknown = [t for t in types if t not in service.TYPES]
    if unknown or not types:
        raise Unprocessable(
            f"_type takes {', '.join(service.TYPES)}.", code="unknown_resource_type", field="query._type"
        )
    reach = await service.export_reach(session, caller, district, enterprise_id)
    lines = service.bulk_ndjson(request.app.state.sessionmaker, caller, cipher, reach, types)
    return StreamingResponse(lines, media_type=NDJSON, headers={"Cache-Control": "no-store"})
