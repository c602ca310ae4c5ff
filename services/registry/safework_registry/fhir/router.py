"""FHIR R4 routes (issue 16): a person's ``Patient`` and everything, the bulk NDJSON export, and a
lab's ``Bundle`` of ``Observation``s posted through the same ingest as its JSON batch."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from safework_common.contract.fhir import FhirBundle, FhirResource, FhirResultsBundle
from safework_common.contract.results import BatchOutcome
from safework_common.fhir import FHIR_JSON, FHIR_NDJSON
from safework_common.gcpause import gc_paused_dependency
from safework_registry.deps import CallerDep, Cipher, Session
from safework_registry.fhir import service
from safework_registry.idempotency.service import Idempotency
from safework_registry.results import ingest as ingest_module
from safework_registry.results.router import Settings

router = APIRouter(tags=["fhir"])

NDJSON_RESPONSE: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "One FHIR resource a line (types in the order Organization, Patient, Immunization, Observation)",
        "content": {FHIR_NDJSON: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def fhir_json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type=FHIR_JSON)


@router.get("/fhir/Patient/{person_id}", response_model=FhirResource, summary="A person as a FHIR R4 Patient")
async def get_patient(person_id: uuid.UUID, session: Session, caller: CallerDep, cipher: Cipher) -> Response:
    """The national ID as an identifier, in full to the authority and masked to everyone else."""
    return fhir_json(await service.patient(session, caller, cipher, person_id))


@router.get(
    "/fhir/Patient/{person_id}/$everything",
    response_model=FhirBundle,
    summary="A person's Patient, employer, labs, Immunizations and Observations as a FHIR R4 Bundle",
)
async def get_everything(person_id: uuid.UUID, session: Session, caller: CallerDep, cipher: Cipher) -> Response:
    return fhir_json(await service.everything(session, caller, cipher, person_id))


@router.get(
    "/fhir/export",
    response_class=StreamingResponse,
    responses=NDJSON_RESPONSE,
    summary="Everyone in scope as FHIR R4 NDJSON (in the spirit of Bulk Data $export), streamed",
)
async def bulk_export(
    request: Request,
    caller: CallerDep,
    cipher: Cipher,
    type_: Annotated[
        str | None,
        Query(
            alias="_type",
            max_length=200,
            description="Comma-separated resource types: Organization, Patient, Immunization, Observation "
            "(default: all).",
        ),
    ] = None,
) -> StreamingResponse:
    """One synchronous stream rather than the Bulk Data kick-off/poll/download dance: the whole
    export is one GET whose body is NDJSON (``application/fhir+ndjson``), read in one snapshot."""
    export = service.bulk(caller, service.resource_types(type_))
    return StreamingResponse(
        export.lines(request.app.state.sessionmaker, cipher),
        media_type=FHIR_NDJSON,
        headers={"content-disposition": 'attachment; filename="export.ndjson"', "cache-control": "no-store"},
    )


@router.post(
    "/labs/{lab_id}/results/fhir",
    response_model=BatchOutcome,
    summary="Post results as a FHIR R4 Bundle of Observations (per-item outcomes, as the JSON batch)",
)
async def post_fhir_results(
    _gc: Annotated[None, Depends(gc_paused_dependency, scope="function")],
    lab_id: uuid.UUID,
    bundle: FhirResultsBundle,
    session: Session,
    caller: CallerDep,
    cipher: Cipher,
    settings: Settings,
    idem: Idempotency,
) -> Response:
    """Each Observation becomes a single result of ``POST /v1/labs/{lab_id}/results`` (entry *i*
    is item *i*); the same checks, storage, cases and outcomes follow."""
    batch = service.results_batch(bundle.model_dump())
    if (replay := await idem.start()) is not None:
        return replay
    outcome = await ingest_module.ingest(
        session, caller, lab_id, list(batch.items), cipher=cipher, max_items=settings.max_batch_items
    )
    return await idem.finish(session, 200, orjson.dumps(outcome))
