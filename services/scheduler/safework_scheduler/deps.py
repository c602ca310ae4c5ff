"""Annotated dependencies used by the scheduler's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from safework_common.db import SessionDep
from safework_common.internal_auth import Caller, internal_caller
from safework_scheduler.policy.repository import PolicyStore

Session = SessionDep
CallerDep = Annotated[Caller, Depends(internal_caller)]


async def policy_store(request: Request) -> PolicyStore:
    store: PolicyStore = request.app.state.policies
    return store


Policies = Annotated[PolicyStore, Depends(policy_store)]
