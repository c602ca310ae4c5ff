from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from safework_common.geo import District

ClientRole = Literal["authority", "enterprise", "lab"]


class ClientCreate(BaseModel):
    """A new client. ``enterprise_id`` for an enterprise, ``lab_id`` for a lab; ``district`` only
    for a district authority (none: the province authority)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Công ty TNHH ABC Vân Trung", "role": "enterprise", "enterprise_id": str(uuid.UUID(int=1))},
                {"name": "CDC Bắc Giang lab", "role": "lab", "lab_id": str(uuid.UUID(int=2))},
                {"name": "Việt Yên steering committee", "role": "authority", "district": "Việt Yên"},
            ]
        },
    )

    name: str = Field(min_length=1, max_length=255)
    role: ClientRole
    district: District | None = Field(default=None, description="A district authority's district; none: the province.")
    enterprise_id: uuid.UUID | None = None
    lab_id: uuid.UUID | None = None


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    role: ClientRole
    district: str | None
    enterprise_id: uuid.UUID | None
    lab_id: uuid.UUID | None
    active: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class ClientWithSecret(ClientOut):
    """The secret is shown here once and never again; only its argon2 hash is kept."""

    client_secret: str


class ClientPage(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 successful access token response."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    scope: str
