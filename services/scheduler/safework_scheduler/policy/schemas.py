"""Response shapes of the policy routes."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from safework_scheduler.policy.document import PolicyDocument


class PolicyVersionOut(BaseModel):
    """One loaded version: in force from ``effective_from`` until the next version's date."""

    version: str
    effective_from: date
    effective_until: date | None
    source: str
    sha256: str
    loaded_at: datetime
    document: PolicyDocument


class PolicyHistoryOut(BaseModel):
    items: list[PolicyVersionOut]


class ActivePolicyOut(PolicyVersionOut):
    as_of: datetime
