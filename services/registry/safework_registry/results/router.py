"""Lab results: batch ingest (single samples and pools) and read-backs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from safework_common.contract.results import BatchOutcome, ResultOut
from safework_common.gcpause import gc_paused_dependency
from safework_common.metrics import count_outcomes
from safework_common.paging import Limit
from safework_registry.deps import CallerDep, Cipher, Session
from safework_registry.idempotency.service import HEADER, IdempotencyGuard, parse_key
from safework_registry.pagination import Page
from safework_registry.results import ingest as ingest_module
from safework_registry.results import service
from safework_registry.settings import RegistrySettings
from safework_registry.uploads.body import read_batch, upload_openapi
from safework_registry.uploads.templates import template_openapi, template_response

router = APIRouter(tags=["results"])


async def registry_settings(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.settings
    return settings


Settings = Annotated[RegistrySettings, Depends(registry_settings)]

_BATCH_DESCRIPTION = """
A batch of up to `REGISTRY_MAX_BATCH_ITEMS` (10,000) items; each is a single result (`type` `single`, or
omitted) or a pool (`type` `pool`, or any item with `pool_sample_id`). Name each person by `person_id`
(the UUID the worker's app shows as a QR code) or by `national_id`.

**Per-item semantics.** Every item gets one outcome, in request order: `accepted` (stored now),
`duplicate` (the same sample was stored before with identical data: a harmless replay) or `rejected`
(`code`, `message`, `field`). Accepted items of a batch that also has rejected items **are kept**;
nothing rejected is written. The answer is sent only after the commit: every `accepted` is durable.
Posting the same batch again writes nothing new and answers `duplicate` where it was `accepted`.

Rejection codes: `duplicate_in_batch`, `collected_in_future`, `resulted_in_future`, `collected_before_1900`,
`resulted_before_collected`, `person_ref_required`, `person_ref_ambiguous`, `invalid_national_id`,
`person_not_found`, `pool_empty`, `pool_too_large` (more than 20 members), `pool_member_repeated`,
`sample_conflict` (this lab already stored the sample ID with different data).

**Who may be named.** A lab (and the province authority) may name any person. A district authority
posting on a lab's behalf names only people of its district's enterprises: anyone else is
`person_not_found`, exactly as an unknown person (a pool naming one such member is rejected whole).

A negative pool gives each member a negative PCR result marked `pooled`, with sample ID
`<pool sample id>#<position>`; a positive or invalid pool stores the pool and its members only
(the scheduler makes them due an individual PCR at once).

An item that does not match the schema (a timestamp without a time zone, an unknown test kind) is that
item's `rejected` outcome, with pydantic's error type as `code` and the item's field; the others go ahead.
A body that is not a batch (not an object with an `items` list, unknown top-level keys) is refused whole
with 422 and the path of the offending field. Send `Idempotency-Key` to make a retry of the whole request
replay the first answer.

**Files.** The same batch as a CSV or XLSX file (raw body with `Content-Type: text/csv` or the XLSX type,
or `multipart/form-data` with the file in the `file` part); the columns are the template's
(`GET .../results/template.csv` or `.xlsx`). Each outcome then also gives the spreadsheet `row` (the header
is row 1) and, where a field is named, its `column`. Times without an offset are local (Asia/Ho_Chi_Minh).
"""


@router.post(
    "/labs/{lab_id}/results",
    summary="Post a batch of results and pools (per-item outcomes); JSON, CSV or XLSX",
    description=_BATCH_DESCRIPTION,
    response_model=BatchOutcome,
    openapi_extra=upload_openapi("ResultsBatchIn", idempotent=True),
)
async def post_results(
    _gc: Annotated[None, Depends(gc_paused_dependency, scope="function")],
    request: Request,
    lab_id: uuid.UUID,
    session: Session,
    caller: CallerDep,
    cipher: Cipher,
    settings: Settings,
) -> Response:
    batch = await read_batch(request, "results", settings.max_batch_items)
    idem = IdempotencyGuard(
        session, caller.subject, parse_key(request.headers.get(HEADER)), request.method, request.url.path,
        batch.fingerprint,
    )  # fmt: skip
    if (replay := await idem.start()) is not None:
        return replay
    outcome = await ingest_module.ingest(
        session, caller, lab_id, batch.items, cipher=cipher, max_items=settings.max_batch_items, file=batch.file
    )
    answer = await idem.finish(session, 200, orjson.dumps(outcome))
    count_outcomes("results", ((k, int(outcome[k])) for k in ("accepted", "duplicate", "rejected")))
    return answer


def _results_template(form: str) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def template(lab_id: uuid.UUID, session: Session, caller: CallerDep) -> Response:
        await ingest_module.lab_for_caller(session, caller, lab_id, posting=False)
        return template_response("results", form)

    return template


for _form in ("csv", "xlsx"):
    router.add_api_route(
        f"/labs/{{lab_id}}/results/template.{_form}",
        _results_template(_form),
        methods=["GET"],
        summary=f"The lab-results upload template ({_form.upper()}, Vietnamese headers, one example row)",
        response_class=Response,
        responses=template_openapi(_form),
    )


@router.get("/labs/{lab_id}/results", summary="The lab's own submissions, in the order received")
async def get_lab_results(
    lab_id: uuid.UUID,
    session: Session,
    caller: CallerDep,
    cursor: str | None = None,
    limit: Limit = 100,
) -> Page[ResultOut]:
    return await service.lab_results(session, caller, lab_id, cursor=cursor, limit=limit)


@router.get("/persons/{person_id}/results", summary="A person's results, newest sample first")
async def get_person_results(
    person_id: uuid.UUID,
    session: Session,
    caller: CallerDep,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[ResultOut]:
    return await service.person_results(session, caller, person_id, cursor=cursor, limit=limit)
