"""Gate passes, their revocation list and the vaccination card (SMART Health Card)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safework_common.contract.due import NotClearedReason
from safework_common.contract.fields import Instant
from safework_common.contract.persons import PersonStatus

PassOutcome = Literal[
    "pass_valid",
    "pass_invalid",
    "pass_unknown_key",
    "pass_expired",
    "pass_not_yet_valid",
    "pass_revoked",
    "revocation_list_stale",
]
RevocationReason = Literal["positive_result", "contact", "enterprise_suspended", "left_enterprise", "not_cleared"]


class PassOut(BaseModel):
    """A cleared-to-work pass: the compact JWS the QR carries, and its validity."""

    pass_id: str
    enterprise_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime = Field(description="The earlier of the next due window's end and the policy maximum.")
    kid: str = Field(description="The pass key that signed it, published in /.well-known/jwks.json.")
    token: str = Field(description="Compact JWS (EdDSA, typ safework-pass+jwt): the QR's content.")


class PassVerdictOut(BaseModel):
    """What issuing a gate pass needs, in one answer (issue 17; the scheduler's ``GET
    /v1/persons/{id}/pass-verdict``): the verdict at ``as_of``, read from the primary, and the
    facts the pass is signed with. No national ID, no results; the name masked."""

    person_id: uuid.UUID
    enterprise_id: uuid.UUID | None
    status: PersonStatus = Field(description="`left`: no pass, whatever the verdict.")
    as_of: Instant
    policy_version: str
    cleared_to_work: bool
    not_cleared: list[NotClearedReason] = Field(description="Why not, when not cleared (the verdict's reasons).")
    masked_name: str = Field(description="Each word's first letter, the rest starred (`N***** T** H**`).")
    next_window_end: Instant | None = Field(
        description="The end of the person's next due window after `as_of` (a round's window end; a cadence's "
        "test: when it would turn overdue; else its due instant); null when nothing is due. A pass expires by it."
    )


class PassVerifyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"token": "eyJhbGciOiJFZERTQSIsImtpZCI6InBhc3MtLi4uIn0..."}]}
    )

    token: str = Field(min_length=1, max_length=2048, description="The text read from the pass's QR code.")


class PassHolder(BaseModel):
    """Whose pass it is: told only to the holder's own enterprise (and the authority)."""

    person_id: uuid.UUID
    full_name: str
    employee_code: str | None


class PassVerifyOut(BaseModel):
    valid: bool
    outcome: PassOutcome
    pass_id: str | None
    enterprise_id: uuid.UUID | None
    expires_at: datetime | None
    revoked_reason: RevocationReason | None = None
    holder: PassHolder | None = None


class RevocationListOut(BaseModel):
    """Revoked passes still inside their validity, signed with the pass key: gate devices verify
    it with the JWKS and keep it until the next refresh."""

    issued_at: datetime
    expires_at: datetime
    count: int
    token: str = Field(description="Compact JWS (EdDSA, typ safework-revocations+jwt); claims iat, exp, revoked.")


class HealthCardOut(BaseModel):
    """A SMART Health Card file (``.smart-health-card``): one JWS per card."""

    model_config = ConfigDict(populate_by_name=True)

    verifiable_credential: list[str] = Field(alias="verifiableCredential")


class HealthCardJwks(BaseModel):
    keys: list[dict[str, Any]]
