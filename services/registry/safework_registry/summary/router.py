"""A person's summary: one read for the app's home screen and the enterprise's roster view."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from safework_common.contract.summary import PersonSummary
from safework_registry.deps import CallerDep, Session
from safework_registry.summary import service

router = APIRouter(tags=["persons"])


@router.get(
    "/persons/{person_id}/summary",
    summary="Doses, latest results, recent declarations and travels, risk flags (in scope)",
)
async def person_summary(
    person_id: uuid.UUID,
    session: Session,
    caller: CallerDep,
    as_of: Annotated[AwareDatetime | None, Query(description="The instant to judge at; default now.")] = None,
) -> PersonSummary:
    return await service.person_summary(session, caller, person_id, as_of=as_of)
