from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safework_common.contract import InstallationOut

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_\-]+$"
DeviceId = Annotated[
    str,
    Field(min_length=16, max_length=128, pattern=DEVICE_ID_PATTERN, description="Random ID the app made at install."),
]
AppId = Annotated[str, Field(min_length=1, max_length=128, examples=["vn.gov.bluezone"])]
AppVersion = Annotated[str, Field(min_length=1, max_length=32, examples=["4.2.1"])]
Platform = Literal["android", "ios", "web", "other"]
# Each person is checked against the registry before a code is issued: a bounded batch.
MAX_CODES_PER_REQUEST = 500


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The registry registers a device at its first sync (201) and refreshes it at later ones (200).
SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A later sync: the installation refreshed", "model": InstallationOut},
    201: {"description": "The first sync of this device: the installation registered", "model": InstallationOut},
}


class AppInfo(_Strict):
    app_id: AppId
    app_version: AppVersion
    platform: Platform


class ActivateRequest(AppInfo):
    """A worker's app trades a one-time code for a device token."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "7KQ2M-9XD4T",
                    "device_id": "android-5f1c2a7e9b04d3e1",
                    "app_id": "vn.gov.bluezone",
                    "app_version": "4.2.1",
                    "platform": "android",
                }
            ]
        },
    )

    code: str = Field(min_length=4, max_length=64)
    device_id: DeviceId


class DeviceTokens(BaseModel):
    """RFC 6749 §5.1, with the refresh token and who the device belongs to."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    scope: str
    person_id: uuid.UUID
    enterprise_id: uuid.UUID
    device_id: str


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=16, max_length=256)


class SyncRequest(AppInfo):
    """The app's periodic sync; the device is the token's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"app_id": "vn.gov.bluezone", "app_version": "4.2.1", "platform": "ios"}]},
    )


class EnterpriseSyncRequest(AppInfo):
    """An enterprise account's sync from the app (so "app installed" is known, seeds/000 §2.4)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "web-hr-desk-0001-5a9c",
                    "app_id": "vn.gov.bluezone",
                    "app_version": "4.2.1",
                    "platform": "web",
                }
            ]
        },
    )

    device_id: DeviceId


class ActivationCodesRequest(_Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"person_ids": ["5b0c8f0e-7a51-4c4e-9d3e-2f4a1b6c8d90"]}]}
    )

    person_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_CODES_PER_REQUEST)


class ActivationCodeOut(BaseModel):
    person_id: uuid.UUID
    code: str = Field(description="Shown once; give it to the worker. Only its keyed hash is stored.")
    expires_at: datetime


class ActivationCodes(BaseModel):
    items: list[ActivationCodeOut]


class RevokedDevice(BaseModel):
    device_id: str
    revoked_sessions: int
