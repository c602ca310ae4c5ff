"""A person's summary: one read for the app's home screen and the enterprise's roster view.

The status read behind every worker's app: the app serves it ahead of its routers
(:func:`safework_common.app.upstream_route`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime

from safework_common.contract.summary import PersonSummary
from safework_common.internal_auth import Caller
from safework_registry.summary import service

PATH = "/persons/{person_id}/summary"
OPERATION: dict[str, Any] = {
    "summary": "Doses, latest results, recent declarations and travels, risk flags (in scope)",
    "response_model": PersonSummary,
    "tags": ["persons"],
}


async def person_summary(
    person_id: uuid.UUID,
    request: Request,
    as_of: Annotated[AwareDatetime | None, Query(description="The instant to judge at; default now.")] = None,
) -> Response:
    # No docstring: it would become the operation's description. The caller is the one the
    # route's dependency (``internal_caller``) checked, and the reader pool the app's: taken from
    # the request, not through dependencies of their own (each costs FastAPI a resolution per
    # request). The model is serialised once by pydantic: the bytes FastAPI would send for it,
    # without its second validation and serialisation.
    caller: Caller = request.state.caller
    summary = await service.person_summary(request.app.state.reader, caller, person_id, as_of=as_of)
    return Response(summary.model_dump_json(), media_type="application/json")
