"""``/v1/persons`` and ``/v1/enterprises/{id}/roster``: people, one at a time or as a roster."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from safework_common.contract.persons import (
    NEW_HIRE_EXAMPLE,
    PERSON_EXAMPLE,
    JobRole,
    LookupRequest,
    PersonCreate,
    PersonOut,
    PersonStatus,
    PersonUpdate,
    RosterResult,
)
from safework_common.metrics import count_outcomes
from safework_common.paging import Limit
from safework_common.scope import require_role
from safework_registry.deps import CallerDep, Cipher, Session
from safework_registry.enterprises.service import enterprise_in_scope
from safework_registry.idempotency.service import HEADER, IdempotencyGuard, parse_key
from safework_registry.pagination import Page
from safework_registry.persons import roster, service
from safework_registry.persons.access import person_in_scope
from safework_registry.settings import RegistrySettings
from safework_registry.uploads.body import read_batch, upload_openapi
from safework_registry.uploads.templates import template_openapi, template_response

router = APIRouter(tags=["persons"])

CREATE_EXAMPLES: dict[str, Any] = {
    "worker": {"summary": "A worker of an enterprise", "value": PERSON_EXAMPLE},
    "new_hire": {"summary": "A new hire from another province (seeds/000 §2.2 (2))", "value": NEW_HIRE_EXAMPLE},
}
UPDATE_EXAMPLES: dict[str, Any] = {
    "high_risk": {
        "summary": "Flag as high-risk (F1) for 14 days",
        "value": {
            "high_risk": True,
            "high_risk_reason": "F1 of a case",
            "high_risk_until": "2021-09-25T00:00:00+07:00",
        },
    },
    "left": {"summary": "Left the enterprise", "value": {"status": "left", "left_at": "2021-09-30T17:00:00+07:00"}},
}


ROSTER_EXAMPLES: dict[str, Any] = {
    "roster": {
        "summary": "Two people: one known, one new hire",
        "value": {
            "items": [
                PERSON_EXAMPLE,
                NEW_HIRE_EXAMPLE,
                {**PERSON_EXAMPLE, "national_id": "024188007777", "employee_code": "VY-00007", "status": "left"},
            ]
        },
    }
}


def _reveal(caller: Any) -> bool:
    return service.reveals_national_id(caller)


@router.post(
    "/persons",
    status_code=201,
    response_model=PersonOut,
    summary="Register one person (authority, enterprise: its own roster)",
    description="409 `national_id_taken` when the national ID is registered; 409 `employee_code_taken` when the "
    "enterprise already uses the employee code. The new person joins the smaller test cohort of the enterprise.",
)
async def create_person(
    session: Session,
    caller: CallerDep,
    cipher: Cipher,
    body: Annotated[PersonCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> PersonOut:
    person = await service.create_person(session, caller, cipher, body)
    return service.person_out(person, cipher, _reveal(caller))


@router.post(
    "/persons/lookup",
    response_model=PersonOut,
    summary="Find a person by national ID (authority)",
    description="Exact match by keyed hash; 404 `person_not_found` when unknown or outside the caller's district.",
)
async def lookup_person(
    session: Session,
    caller: CallerDep,
    cipher: Cipher,
    body: Annotated[
        LookupRequest,
        Body(openapi_examples={"cccd": {"summary": "A citizen ID", "value": {"national_id": "024190001234"}}}),
    ],
) -> PersonOut:
    person = await service.lookup(session, caller, cipher, body.national_id)
    return service.person_out(person, cipher, _reveal(caller))


@router.get(
    "/persons/{person_id}",
    response_model=PersonOut,
    summary="Read one person (in scope; a worker only themself)",
)
async def get_person(session: Session, caller: CallerDep, cipher: Cipher, person_id: uuid.UUID) -> PersonOut:
    person = await person_in_scope(session, caller, person_id)
    return service.person_out(person, cipher, _reveal(caller))


@router.patch(
    "/persons/{person_id}",
    response_model=PersonOut,
    summary="Update one person (authority, enterprise: its own roster)",
    description="Only the fields sent change. Changing `enterprise_id` is the authority's.",
)
async def update_person(
    session: Session,
    caller: CallerDep,
    cipher: Cipher,
    person_id: uuid.UUID,
    body: Annotated[PersonUpdate, Body(openapi_examples=UPDATE_EXAMPLES)],
) -> PersonOut:
    person = await service.update_person(session, caller, cipher, person_id, body)
    return service.person_out(person, cipher, _reveal(caller))


@router.put(
    "/enterprises/{enterprise_id}/roster",
    response_model=RosterResult,
    summary="Upsert the enterprise's roster (enterprise: own; authority); JSON, CSV or XLSX",
    description=(
        "Up to `REGISTRY_MAX_BATCH_ITEMS` (10,000) people, matched by `employee_code` within the enterprise. "
        "Each item gets an outcome: `created`, `updated`, `unchanged` or `rejected` (with `code`, `message`, "
        "`field`); a rejected item does not stop the others, and the accepted ones are stored. On an update only "
        "the fields sent change. A national ID of someone who has `left` another enterprise moves that person "
        "here (`created`, `moved: true`); of an active person elsewhere it is rejected `national_id_taken`. "
        "Empty: 422 `batch_empty`; too many: 413 `batch_too_large`. "
        "The same roster may be sent as a CSV or XLSX file (raw, or `multipart/form-data` with the `file` part) "
        "with the template's columns (`GET .../roster/template.csv` or `.xlsx`): an empty cell is a field not "
        "sent, and each outcome also gives the spreadsheet `row` (header = row 1) and the offending `column`. "
        "Send `Idempotency-Key` to make a retry replay the first answer (a file: the same file's bytes)."
    ),
    openapi_extra=upload_openapi("RosterUpsert", idempotent=True, examples=ROSTER_EXAMPLES),
)
async def upsert_roster(
    request: Request, session: Session, caller: CallerDep, cipher: Cipher, enterprise_id: uuid.UUID
) -> Response:
    settings: RegistrySettings = request.app.state.settings
    batch = await read_batch(request, "roster", settings.max_batch_items)
    idem = IdempotencyGuard(
        session, caller.subject, parse_key(request.headers.get(HEADER)), request.method, request.url.path,
        batch.fingerprint,
    )  # fmt: skip
    if (replay := await idem.start()) is not None:
        return replay
    result = await roster.upsert_roster(
        session, caller, cipher, enterprise_id, batch.items, max_items=settings.max_batch_items, file=batch.file
    )
    count_outcomes("roster", result.counts.model_dump().items())
    return await idem.finish_model(session, 200, result)


def _roster_template(form: str) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def template(enterprise_id: uuid.UUID, session: Session, caller: CallerDep) -> Response:
        require_role(caller, "authority", "enterprise")
        await enterprise_in_scope(session, caller, enterprise_id)
        return template_response("roster", form)

    return template


for _form in ("csv", "xlsx"):
    router.add_api_route(
        f"/enterprises/{{enterprise_id}}/roster/template.{_form}",
        _roster_template(_form),
        methods=["GET"],
        summary=f"The roster upload template ({_form.upper()}, Vietnamese headers, one example row)",
        response_class=Response,
        responses=template_openapi(_form),
    )


@router.get(
    "/enterprises/{enterprise_id}/roster",
    response_model=Page[PersonOut],
    summary="List the enterprise's people (enterprise: own; authority)",
    description="Ordered by employee code; keyset `cursor`. `q` matches a name (any case), an employee code "
    "prefix, or an exact national ID.",
)
async def list_roster(
    session: Session,
    caller: CallerDep,
    cipher: Cipher,
    enterprise_id: uuid.UUID,
    status: PersonStatus | None = None,
    job_role: JobRole | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 100,
) -> Page[PersonOut]:
    rows, next_cursor = await service.list_roster(
        session, caller, cipher, enterprise_id, status=status, job_role=job_role, q=q, cursor=cursor, limit=limit
    )
    reveal = _reveal(caller)
    return Page[PersonOut](items=[service.person_out(r, cipher, reveal) for r in rows], next_cursor=next_cursor)
