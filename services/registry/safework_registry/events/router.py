"""The outbox read by the other services (the system caller only: the gateway's pass
revocation). Facts are read after an id cursor, or from an instant (a consumer starting)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from safework_common.contract.events import OutboxFactPage
from safework_common.internal_auth import require_roles
from safework_common.paging import Limit
from safework_registry.deps import Session
from safework_registry.events import service
from safework_registry.events.models import EVENT_KINDS

router = APIRouter(tags=["events"])


@router.get(
    "/events",
    response_model=OutboxFactPage,
    dependencies=[require_roles()],
    summary="Outbox facts after a cursor (internal: the system caller only)",
)
async def list_events(
    session: Session,
    after: Annotated[int | None, Query(ge=0, description="The last fact id already read.")] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Without `after`: the facts written from this instant on.")
    ] = None,
    kind: Annotated[list[str] | None, Query(description=f"Only these kinds ({', '.join(EVENT_KINDS)}).")] = None,
    limit: Limit = 500,
) -> OutboxFactPage:
    return await service.facts(session, after=after, since=since, kinds=kind, limit=limit)
