"""App installations (the single-app mandate, seeds/000 §2.4)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from safework_common.contract.fields import Instant

Platform = Literal["android", "ios", "web", "other"]
DeviceId = Annotated[str, Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: DeviceId = Field(description="Random ID the app generated at install.")
    app_id: str = Field(min_length=1, max_length=128, description="Stored as sent; the gateway checks it.")
    app_version: str = Field(min_length=1, max_length=32)
    platform: Platform


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class InstallationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: str
    person_id: uuid.UUID | None
    enterprise_id: uuid.UUID | None
    app_id: str
    app_version: str
    platform: str
    first_seen_at: Instant
    last_sync_at: Instant
    revoked_at: Instant | None


class AccountDevices(BaseModel):
    active_devices: int = Field(description="The enterprise account's own devices, not revoked.")
    last_sync_at: Instant | None


class WorkerDevices(BaseModel):
    active: int = Field(description="Active people on the roster.")
    with_active_device: int = Field(description="Active people with at least one device not revoked.")
    last_sync_at: Instant | None


class InstallationSummary(BaseModel):
    """What the single-app rule needs: is the app installed (by the enterprise and its workers)
    and is it updated regularly (the latest sync)."""

    enterprise_id: uuid.UUID
    accounts: AccountDevices
    workers: WorkerDevices
    revoked_devices: int
    last_sync_at: Instant | None = Field(description="Latest sync of any active device of the enterprise.")
