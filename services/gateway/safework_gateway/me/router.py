"""The worker's app: own status (merged from the registry and the scheduler) and sync."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from starlette.responses import Response

from safework_common.contract.due import DueReason, Kind, NotClearedReason, ReasonCode
from safework_common.contract.fields import Instant
from safework_common.contract.summary import (
    DeclarationBrief,
    DoseBrief,
    Flag,
    PoolBrief,
    ResultBrief,
    TravelBrief,
    Vaccination,
)
from safework_common.errors import ERROR_RESPONSES
from safework_common.timezone import now_local
from safework_gateway.auth.access import Scope, allow
from safework_gateway.auth.principal import Principal
from safework_gateway.deps import Registry, Scheduler, Session
from safework_gateway.devices import service as devices
from safework_gateway.devices.sanctioned import require_sanctioned
from safework_gateway.devices.schemas import SYNC_RESPONSES, SyncRequest
from safework_gateway.upstream import relay

router = APIRouter(prefix="/me", tags=["worker app"], responses=ERROR_RESPONSES)

Worker = Annotated[Principal, allow("worker", scope=Scope.SELF)]


class NextTest(BaseModel):
    due_at: Instant
    kind: Kind | None
    overdue: bool
    reasons: list[DueReason] = Field(description="Why the test is due (policy reason codes).")
    window_start: Instant | None = Field(
        default=None, description="A round's test: the first instant of its window (any day of it will do)."
    )
    window_end: Instant | None = Field(default=None, description="A round's test: the end of its window.")


class MyStatus(BaseModel):
    """What the app shows the worker: the registry's record and the scheduler's verdict."""

    person_id: str
    as_of: Instant | None
    policy_version: str | None
    cleared_to_work: bool
    reasons: list[NotClearedReason] = Field(description="Why not cleared to work (empty when cleared).")
    flags: list[Flag | ReasonCode] = Field(
        description="The registry's flags on the record, then findings of the rules that outlast what they block."
    )
    next_due_test: NextTest | None
    contact_case_id: uuid.UUID | None = Field(
        default=None,
        description="Traced as a contact (reason CONTACT): the case traced from, by id only (never who the case is).",
    )
    doses: list[DoseBrief]
    vaccination: Vaccination | None
    results: list[ResultBrief] = Field(description="The latest results, newest sample first.")
    recent_declarations: list[DeclarationBrief]
    travels: list[TravelBrief]
    pending_pools: list[PoolBrief]
    assumptions: list[str] = Field(
        default=[],
        description='Policy parameters the verdict rests on that the seeds do not give ("not in the source").',
    )


@router.get(
    "/status",
    response_model=MyStatus,
    summary="My doses, results, next due test, and whether I am cleared to work, with reasons",
)
async def status(
    principal: Worker,
    registry: Registry,
    scheduler: Scheduler,
    as_of: Annotated[
        AwareDatetime | None,
        Query(
            description="The instant to judge at, with its time zone (default: now); the same verdict "
            "`GET /persons/{id}/due` gives then."
        ),
    ] = None,
) -> MyStatus:
    caller = principal.caller()
    pid = principal.person_id
    # One instant for both halves: the record as it stood then and the verdict then.
    params = {"as_of": (as_of or now_local()).isoformat()}
    summary, due = await asyncio.gather(
        registry.json("GET", f"/v1/persons/{pid}/summary", caller, params=params),
        scheduler.json("GET", f"/v1/persons/{pid}/due", caller, params=params),
    )
    return merge_status(str(pid), summary, due)


def merge_status(person_id: str, summary: dict[str, Any], due: dict[str, Any]) -> MyStatus:
    """One answer for the app from the registry's summary and the scheduler's due verdict."""
    next_test = None
    if due.get("due_at"):
        first: dict[str, Any] = next((r for r in due.get("requirements", []) if r.get("due_at") == due["due_at"]), {})
        next_test = NextTest(
            due_at=due["due_at"],
            kind=due.get("kind"),
            overdue=bool(due.get("overdue")),
            reasons=due.get("reasons", []),
            window_start=first.get("window_start"),
            window_end=first.get("window_end"),
        )
    return MyStatus(
        person_id=person_id,
        as_of=due.get("as_of"),
        policy_version=due.get("policy_version"),
        cleared_to_work=bool(due.get("cleared_to_work")),
        reasons=due.get("not_cleared", []),
        next_due_test=next_test,
        contact_case_id=due.get("contact_case_id"),
        doses=summary.get("doses", []),
        vaccination=summary.get("vaccination"),
        results=summary.get("latest_results", []),
        recent_declarations=summary.get("recent_declarations", []),
        travels=summary.get("travels", []),
        pending_pools=summary.get("pending_pools", []),
        flags=[*summary.get("flags", []), *due.get("flags", [])],
        assumptions=due.get("assumptions", []),
    )


@router.post(
    "/sync",
    summary="The app's periodic sync (the sanctioned app only)",
    response_class=Response,
    responses=SYNC_RESPONSES,
)
async def sync(
    body: SyncRequest, request: Request, principal: Worker, registry: Registry, session: Session
) -> Response:
    """Seeds/000 §2.4: each sync by the sanctioned app refreshes the installation the compliance
    of the worker's enterprise is judged on; any other app is refused and recorded."""
    await require_sanctioned(
        request,
        endpoint="POST /api/v1/me/sync",
        app_id=body.app_id,
        app_version=body.app_version,
        platform=body.platform,
        device_id=principal.device_id,
        subject=principal.subject,
    )
    payload = {
        "device_id": principal.device_id,
        "app_id": body.app_id,
        "app_version": body.app_version,
        "platform": body.platform,
    }
    upstream = await registry.request("POST", "/v1/installations/sync", principal.caller(), json=payload)
    if upstream.status_code < 400 and principal.session_id is not None:
        await devices.touch(session, principal.session_id)
    return relay(upstream)
