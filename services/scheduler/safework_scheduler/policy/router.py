"""Policy routes: the history of versions and the one in force. Any authenticated caller may
read them (the gateway reads ``single_app.sanctioned_app_ids`` from the active one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from safework_common.contract.policies import ActivePolicyOut, PolicyHistoryOut, PolicyVersionOut
from safework_common.metrics import policy_in_force
from safework_common.timezone import now_local
from safework_scheduler.deps import Session
from safework_scheduler.policy import service

router = APIRouter(tags=["policy"])


@router.get("/policies", response_model=PolicyHistoryOut, summary="Every policy version")
async def list_policies(session: Session) -> PolicyHistoryOut:
    """All loaded versions, oldest first, each with the dates it is in force."""
    return PolicyHistoryOut(items=[PolicyVersionOut.model_validate(v) for v in await service.history(session)])


@router.get("/policies/active", response_model=ActivePolicyOut, summary="The policy in force")
async def active_policy(
    session: Session,
    as_of: Annotated[AwareDatetime | None, Query(description="With its time zone (default: now).")] = None,
) -> ActivePolicyOut:
    """The version in force at ``as_of`` (its local date, Asia/Ho_Chi_Minh)."""
    answer = ActivePolicyOut.model_validate(await service.active(session, as_of or now_local()))
    if as_of is None:
        policy_in_force(answer.version)
    return answer
