"""Enterprise request and response bodies (DOMAIN.md: zone type drives vaccine priority,
industry and size pick the testing cadence, seeds/000 §2.1-2.2)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from safework_common.contract.fields import Instant, NotNull
from safework_common.geo import District

ZoneType = Literal["KCN", "CCN", "OUTSIDE"]
Industry = Literal["garment", "shuttlecock", "other"]
OperatingStatus = Literal["cleared", "suspended"]

# A Vietnamese tax code (mã số thuế): 10 digits for the enterprise, plus "-" and 3 digits for a
# dependent unit (branch).
_TAX_CODE = re.compile(r"^[0-9]{10}(-[0-9]{3})?$")


def _tax_code(value: str) -> str:
    value = value.strip()
    if not _TAX_CODE.match(value):
        raise PydanticCustomError(
            "invalid_tax_code", "A tax code is 10 digits, or 10 digits, '-' and 3 digits for a branch."
        )
    return value


TaxCode = Annotated[str, StringConstraints(max_length=14 + 4), AfterValidator(_tax_code)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Headcount = Annotated[int, Field(ge=0, le=1_000_000)]
# WGS84, for the public map of safe enterprises (seeds/002: "công bố sơ đồ"); both or neither.
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]

ENTERPRISE_EXAMPLE: dict[str, Any] = {
    "tax_code": "2400123456",
    "name": "Công ty TNHH May Việt Yên",
    "district": "Việt Yên",
    "zone_type": "KCN",
    "zone_name": "KCN Vân Trung",
    "industry": "garment",
    "headcount": 3200,
}


class EnterpriseCreate(BaseModel):
    """A new enterprise. ``zone_name`` is required in a park (KCN) or cluster (CCN) and must be
    absent outside them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ENTERPRISE_EXAMPLE]})

    tax_code: TaxCode
    name: Name
    district: District
    zone_type: ZoneType
    zone_name: Name | None = None
    industry: Industry = "other"
    headcount: Headcount = 0
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class EnterpriseUpdate(BaseModel):
    """Fields to change; those left out keep their value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"headcount": 3350}]})

    tax_code: NotNull[TaxCode] = None
    name: NotNull[Name] = None
    district: NotNull[District] = None
    zone_type: NotNull[ZoneType] = None
    zone_name: Name | None = None
    industry: NotNull[Industry] = None
    headcount: NotNull[Headcount] = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class EnterpriseStatusChange(BaseModel):
    """Suspend an enterprise (a reason is required) or clear it to operate (seeds/004: unsafe
    enterprises are stopped; seeds/002-003: they resume once workers test negative)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "suspended",
                    "reason": "F0 case in the production line, 2021-05-14",
                    "at": "2021-05-14T18:00:00+07:00",
                }
            ]
        },
    )

    status: OperatingStatus
    reason: Reason | None = None
    at: AwareDatetime | None = Field(default=None, description="When it took effect; default now.")


class EnterpriseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tax_code: str
    name: str
    district: str
    zone_type: ZoneType
    zone_name: str | None
    industry: Industry
    headcount: int
    operating_status: OperatingStatus
    status_reason: str | None
    status_changed_at: Instant | None
    latitude: float | None = None
    longitude: float | None = None
    created_at: Instant
    updated_at: Instant
