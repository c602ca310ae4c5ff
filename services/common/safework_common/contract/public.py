"""The public list and map of enterprises declared safe (seeds/002 §2: "Ngành Y tế công bố sơ đồ các
doanh nghiệp đảm bảo an toàn phòng, chống dịch"): cleared to operate, by district and zone. Nothing
personal and nothing about any worker: name, district, zone and position only. No token needed."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from safework_common.contract.enterprises import ZoneType
from safework_common.contract.fields import Instant, Page


class SafeEnterprise(BaseModel):
    id: uuid.UUID
    name: str
    district: str
    zone_type: ZoneType
    zone_name: str | None
    latitude: float | None = Field(description="WGS84; null when the enterprise has no position on the map.")
    longitude: float | None
    cleared_since: Instant | None = Field(description="When it was last cleared to operate (null: never suspended).")


SafeEnterprisePage = Page[SafeEnterprise]

# [longitude, latitude] (RFC 7946 §3.1.1: easting first).
Position = Annotated[list[float], Field(min_length=2, max_length=2)]


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: Position = Field(description="[longitude, latitude], WGS84 (RFC 7946).")


class SafeEnterpriseProperties(BaseModel):
    name: str
    district: str
    zone_type: ZoneType
    zone_name: str | None


class SafeEnterpriseFeature(BaseModel):
    type: Literal["Feature"]
    id: uuid.UUID
    geometry: PointGeometry
    properties: SafeEnterpriseProperties


class SafeEnterpriseMap(BaseModel):
    """An RFC 7946 FeatureCollection of the safe enterprises that have a position; ``next_cursor``
    is a foreign member (pass it as ``cursor`` for the next page)."""

    type: Literal["FeatureCollection"]
    features: list[SafeEnterpriseFeature]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null: no more.")
