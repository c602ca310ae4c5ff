"""Lab results: batch ingest (single samples and pools) and read-backs."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from safework_common.contract.results import ITEM_TAGS, BatchOutcome, ResultOut, ResultsBatchIn
from safework_common.metrics import count_outcomes
from safework_common.paging import Limit
from safework_registry.deps import CallerDep, Cipher, Session
from safework_registry.idempotency.service import Idempotency
from safework_registry.pagination import Page
from safework_registry.results import ingest as ingest_module
from safework_registry.results import service
from safework_registry.settings import RegistrySettings


def _untagged(loc: Sequence[Any]) -> tuple[Any, ...]:
    """``("body", "items", 3, "single", "collected_at")`` -> ``("body", "items", 3, "collected_at")``."""
    out: list[Any] = []
    for k, part in enumerate(loc):
        if part in ITEM_TAGS and k >= 3 and loc[k - 2] == "items" and isinstance(loc[k - 1], int):
            continue
        out.append(part)
    return tuple(out)


class UntaggedErrorsRoute(APIRoute):
    """Validation errors of a batch name the item's field, not the union member it matched."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = [{**e, "loc": _untagged(e.get("loc", ()))} for e in exc.errors()]
                raise RequestValidationError(errors, body=exc.body) from None

        return route


router = APIRouter(tags=["results"], route_class=UntaggedErrorsRoute)


async def registry_settings(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.settings
    return settings


Settings = Annotated[RegistrySettings, Depends(registry_settings)]

_gc_pauses = 0


async def gc_paused() -> AsyncIterator[None]:
    """Pause CPython's cyclic garbage collector while a batch is handled.

    A 10,000-item batch makes ~100k short-lived objects; the collector would run a few hundred
    collections per request, some of them over the whole heap (measured with bench/bench_ingest.py:
    0.2-0.7 s of a 1.5 s request). The batch's objects are freed by reference counting anyway, so
    collection is simply deferred to after the request. Overlapping batches share the pause."""
    global _gc_pauses
    if _gc_pauses == 0 and not gc.isenabled():  # someone else turned it off: leave it alone
        yield
        return
    _gc_pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()


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

A body that does not match the schema (types, missing fields, timestamps without a time zone) is
refused whole with 422 and the path of the offending field. Send `Idempotency-Key` to make a
retry of the whole request replay the first answer.
"""


@router.post(
    "/labs/{lab_id}/results",
    summary="Post a batch of results and pools (per-item outcomes)",
    description=_BATCH_DESCRIPTION,
    response_model=BatchOutcome,
)
async def post_results(
    _gc: Annotated[None, Depends(gc_paused, scope="function")],
    lab_id: uuid.UUID,
    batch: ResultsBatchIn,
    session: Session,
    caller: CallerDep,
    cipher: Cipher,
    settings: Settings,
    idem: Idempotency,
) -> Response:
    if (replay := await idem.start()) is not None:
        return replay
    outcome = await ingest_module.ingest(
        session, caller, lab_id, batch, cipher=cipher, max_items=settings.max_batch_items
    )
    answer = await idem.finish(session, 200, orjson.dumps(outcome))
    count_outcomes("results", ((k, int(outcome[k])) for k in ("accepted", "duplicate", "rejected")))
    return answer


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
