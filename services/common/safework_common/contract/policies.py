"""Response shapes of the policy routes."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from safework_common.contract.fields import Instant
from safework_common.contract.policy_document import PolicyDocument


class ParameterOut(BaseModel):
    """One parameter of a version and where it comes from: a seed clause, or "not in the
    source" (a value the seeds do not give; answers that rest on it say so)."""

    path: str
    value: Any
    source: str
    in_source: bool


class PolicyVersionOut(BaseModel):
    """One loaded version: in force from ``effective_from`` until the next version's date."""

    version: str
    effective_from: date
    effective_until: date | None
    source: str
    sha256: str
    loaded_at: Instant
    document: PolicyDocument
    parameters: list[ParameterOut]


class PolicyHistoryOut(BaseModel):
    items: list[PolicyVersionOut]
    next_cursor: str | None = Field(default=None, description="Always null: the whole list fits one page.")


class ActivePolicyOut(PolicyVersionOut):
    as_of: Instant
