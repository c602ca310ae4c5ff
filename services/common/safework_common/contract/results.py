"""Lab result batches (single results and pools), per-item outcomes, and result read-backs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag

from safework_common.contract.fields import MAX_BATCH_ITEMS, Instant

TestKind = Literal["PCR", "RAPID_ANTIGEN"]
ResultValue = Literal["NEGATIVE", "POSITIVE", "INVALID"]
# A lab's own sample identifier. '#' is reserved: a negative pool's members get
# ``<pool sample id>#<position>``.
SampleId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]*$")]
NationalIdText = Annotated[str, Field(min_length=1, max_length=32)]
# A generous bound so a malformed body cannot carry millions of members; the pool rule itself
# (1..20, seeds/001) is judged per item as ``pool_too_large``.
MAX_MEMBERS_ACCEPTED = 1000


class PersonRef(BaseModel):
    """A pool member: the person's ID (the QR code the worker's app shows) or national ID."""

    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID | None = None
    national_id: NationalIdText | None = None


class SingleResultIn(BaseModel):
    """One person's sample. Name the person by ``person_id`` or by ``national_id``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["single"] = "single"
    sample_id: SampleId = Field(description="The lab's sample ID: unique per lab, the idempotency key of the result.")
    person_id: uuid.UUID | None = None
    national_id: NationalIdText | None = None
    kind: TestKind
    collected_at: AwareDatetime = Field(description="When the sample was taken: the time that counts for 48 h rules.")
    resulted_at: AwareDatetime
    result: ResultValue


class PoolIn(BaseModel):
    """A pooled PCR sample of 1..20 people (seeds/001: pools of 10 and 20)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["pool"] = "pool"
    pool_sample_id: SampleId
    members: list[PersonRef] = Field(max_length=MAX_MEMBERS_ACCEPTED)
    collected_at: AwareDatetime
    resulted_at: AwareDatetime
    result: ResultValue


def item_type(value: Any) -> str | None:
    """An item's type: ``type`` when given, else ``pool`` when it has ``pool_sample_id`` or
    ``members``, else ``single``."""
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None:
            return "pool" if "pool_sample_id" in value or "members" in value else "single"
        return kind if isinstance(kind, str) else None
    return getattr(value, "type", None)


# The union's tag ("single"/"pool") appears in validation error locations; the results router
# drops it, so an error reads ``body.items[3].collected_at``.
ITEM_TAGS = ("single", "pool")
ResultItem = Annotated[
    Annotated[SingleResultIn, Tag("single")] | Annotated[PoolIn, Tag("pool")],
    Discriminator(item_type),
]


class ResultsBatchIn(BaseModel):
    """Up to ``REGISTRY_MAX_BATCH_ITEMS`` (10,000) single results and pools; each item is
    validated on its own (a bad one is rejected in the answer, the others go ahead)."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[ResultItem], Field(json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH_ITEMS})]


OutcomeStatus = Literal["accepted", "duplicate", "rejected"]


class ItemOutcome(BaseModel):
    index: int = Field(description="Position of the item in the request (a file: among its data rows).")
    sample_id: str | None = Field(
        description="The item's sample ID (a pool's pool sample ID); null for an item rejected without a readable one."
    )
    status: OutcomeStatus
    code: str | None = Field(default=None, description="Why it was rejected (only when rejected).")
    message: str | None = None
    field: str | None = Field(default=None, description="The offending input, e.g. body.items[3].collected_at.")
    row: int | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="A file upload: the spreadsheet row (header = 1); a pool's member row when the field names one.",
    )
    rows: list[int] | None = Field(
        default=None, exclude_if=lambda v: v is None, description="A file upload, a pool: its members' rows."
    )
    column: str | None = Field(
        default=None, exclude_if=lambda v: v is None, description="A file upload: the header of the offending column."
    )


class BatchOutcome(BaseModel):
    lab_id: uuid.UUID
    accepted: int
    duplicate: int
    rejected: int
    items: list[ItemOutcome]


class ResultOut(BaseModel):
    id: int
    person_id: uuid.UUID
    lab_id: uuid.UUID
    sample_id: str
    kind: TestKind
    collected_at: Instant
    resulted_at: Instant
    result: ResultValue
    pooled: bool
    pool_sample_id: str | None
    received_at: Instant
