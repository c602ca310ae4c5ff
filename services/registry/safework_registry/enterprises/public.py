"""The public list and map of enterprises declared safe (seeds/002 §2: "Ngành Y tế công bố sơ đồ các
doanh nghiệp đảm bảo an toàn phòng, chống dịch"): cleared to operate, by district and zone.
Nothing personal and nothing about any worker: name, district, zone and position only. Any
internal caller may read it (the gateway serves it without a token)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from safework_common.contract.enterprises import ZoneType
from safework_common.contract.public import (
    PointGeometry,
    SafeEnterprise,
    SafeEnterpriseFeature,
    SafeEnterpriseMap,
    SafeEnterprisePage,
    SafeEnterpriseProperties,
)
from safework_common.geo import canonical_district
from safework_common.paging import Limit
from safework_common.scope import unknown_district
from safework_registry.deps import Session
from safework_registry.enterprises.models import Enterprise
from safework_registry.pagination import decode_keys, encode_cursor

router = APIRouter(tags=["public"])

# The only columns ever read: adding one here is a decision about what the public sees.
PUBLIC_COLUMNS = (
    Enterprise.id,
    Enterprise.name,
    Enterprise.district,
    Enterprise.zone_type,
    Enterprise.zone_name,
    Enterprise.latitude,
    Enterprise.longitude,
    Enterprise.status_changed_at,
)


async def _safe(
    session: AsyncSession, district: str | None, zone_type: str | None, cursor: str | None, limit: int, located: bool
) -> tuple[list[SafeEnterprise], str | None]:
    stmt = select(*PUBLIC_COLUMNS).where(Enterprise.operating_status == "cleared")
    if district is not None:
        wanted = canonical_district(district)
        if wanted is None:
            raise unknown_district("query.district")
        stmt = stmt.where(Enterprise.district == wanted)
    if zone_type is not None:
        stmt = stmt.where(Enterprise.zone_type == zone_type)
    if located:
        stmt = stmt.where(Enterprise.latitude.is_not(None))
    after = decode_keys(cursor, uuid.UUID)
    if after is not None:
        stmt = stmt.where(Enterprise.id > after[0])
    rows = (await session.execute(stmt.order_by(Enterprise.id).limit(limit + 1))).mappings().all()
    items = [SafeEnterprise(**{**r, "cleared_since": r["status_changed_at"]}) for r in rows[:limit]]
    return items, (encode_cursor([str(rows[limit - 1]["id"])]) if len(rows) > limit else None)


Cursor = Annotated[str | None, Query(max_length=512)]


@router.get("/public/safe-enterprises", summary="Enterprises declared safe (public)")
async def safe_enterprises(
    session: Session,
    district: str | None = None,
    zone_type: ZoneType | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> SafeEnterprisePage:
    items, nxt = await _safe(session, district, zone_type, cursor, limit, located=False)
    return SafeEnterprisePage(items=items, next_cursor=nxt)


@router.get("/public/safe-enterprises.geojson", summary="The map of enterprises declared safe (GeoJSON, public)")
async def safe_enterprises_geojson(
    session: Session,
    district: str | None = None,
    zone_type: ZoneType | None = None,
    cursor: Cursor = None,
    limit: Limit = 1000,
) -> SafeEnterpriseMap:
    """RFC 7946 FeatureCollection of the located ones; ``next_cursor`` is a foreign member."""
    items, nxt = await _safe(session, district, zone_type, cursor, limit, located=True)
    features = [
        SafeEnterpriseFeature(
            type="Feature",
            id=e.id,
            geometry=PointGeometry(type="Point", coordinates=[e.longitude, e.latitude]),
            properties=SafeEnterpriseProperties(
                name=e.name, district=e.district, zone_type=e.zone_type, zone_name=e.zone_name
            ),
        )
        for e in items
    ]
    return SafeEnterpriseMap(type="FeatureCollection", features=features, next_cursor=nxt)
