"""Wire shapes of the vaccine queue and plan. No national IDs or names ever leave here."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, WithJsonSchema

from safework_common.contract.fields import Instant
from safework_common.geo import DISTRICT_SCHEMA


class QueueItem(BaseModel):
    person_id: uuid.UUID
    enterprise_id: uuid.UUID
    district: str
    tier: int
    dose: int
    product_code: str | None = Field(description="The product of the series being continued; null for dose 1.")
    eligible_since: dt.date


class QueuePage(BaseModel):
    as_of: Instant
    date: dt.date = Field(description="The local date (Asia/Ho_Chi_Minh) the queue is computed for.")
    policy_version: str
    dose2_ranking: str
    items: list[QueueItem]
    next_cursor: str | None = None


class PlanRequest(BaseModel):
    """A capacity plan: a daily dose capacity, province-wide (a number) or per district (a map
    of district to doses a day), simulated from ``start`` to ``end``."""

    model_config = ConfigDict(extra="forbid")

    daily_capacity: StrictInt | dict[Annotated[str, WithJsonSchema(DISTRICT_SCHEMA)], StrictInt] = Field(
        description="Doses a day: province-wide (a number) or per district (district: number; a district "
        "authority names its own only)."
    )
    start: dt.date | None = Field(default=None, description="Default: the local date of as_of.")
    end: dt.date | None = Field(default=None, description="Inclusive. Default: 30 days past the last deadline.")
    as_of: AwareDatetime | None = Field(
        default=None, description="When the rules and records are read. Default: the start of `start`, else now."
    )
    product_code: str | None = Field(
        default=None,
        description="Product for new dose 1s. Default: the active product most given as dose 1 by as_of.",
    )


class PlanCapacity(BaseModel):
    total: int | None = None
    by_district: dict[str, int] | None = None


class PlanDoseTotal(BaseModel):
    dose: int
    people: int = Field(description="People who still need this dose as of as_of, eligible now or later.")
    projected_completion: dt.date | None = Field(
        description="When the last of them gets it. Null: not within the horizon, or no one needs it."
    )
    deadline: dt.date | None
    held_to_deadline: int = Field(
        description="How many of them the deadline holds: everyone with a series under way and everyone"
        " whose dose 1 opens by the first deadline (later hires are planned, not held)."
    )
    held_completion: dt.date | None = Field(description="When the last of those gets it.")
    met: bool | None = Field(description="held_completion <= deadline; null when the policy sets no deadline.")


class PlanGroup(PlanDoseTotal):
    tier: int


class MinimalCapacity(BaseModel):
    """The smallest capacity meeting every deadline, found by bisection over the simulation."""

    total: int | None = None
    scale_percent: int | None = Field(default=None, description="Per-district plans: the uniform scaling.")
    by_district: dict[str, int] | None = None
    reason: str | None = Field(
        default=None, description="Why there is none: no_deadlines, unreachable, district_without_capacity."
    )


class PlanResponse(BaseModel):
    as_of: Instant
    policy_version: str
    dose2_ranking: str
    start: dt.date
    end: dt.date
    product_code: str
    capacity: PlanCapacity
    groups: list[PlanGroup]
    totals: list[PlanDoseTotal]
    doses_needed: int
    doses_given: int
    all_deadlines_met: bool | None
    districts_without_capacity: list[str]
    minimal_capacity: MinimalCapacity
