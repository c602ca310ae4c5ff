"""The public list and map of safe enterprises through the gateway (seeds/002 §2): no token,
cacheable (ETag, 304, ``Cache-Control: public``), nothing personal."""

from __future__ import annotations

from tests.gateway.conftest import Stack
from tests.gateway.world import DISTRICT_A, enterprise


async def test_the_public_list_needs_no_token_and_is_cacheable(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A, people=2)
    province = stack.province()
    r = await stack.http.patch(
        f"/api/v1/enterprises/{tenant.enterprise_id}", json={"latitude": 21.27, "longitude": 106.19}, headers=province
    )
    assert r.status_code == 200, r.text
    first = await stack.http.get("/api/v1/public/safe-enterprises", params={"district": DISTRICT_A})
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "public, max-age=300"
    assert [e["id"] for e in first.json()["items"]] == [tenant.enterprise_id]
    assert "Nguyễn" not in first.text and "national_id" not in first.text
    again = await stack.http.get(
        "/api/v1/public/safe-enterprises",
        params={"district": DISTRICT_A},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304
    geo = await stack.http.get("/api/v1/public/safe-enterprises.geojson", params={"district": DISTRICT_A})
    assert geo.headers["content-type"].startswith("application/geo+json")
    assert geo.json()["features"][0]["geometry"]["coordinates"] == [106.19, 21.27]
    bad = await stack.http.get("/api/v1/public/safe-enterprises", params={"district": "Atlantis"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "unknown_district")
    r = await stack.http.post(
        f"/api/v1/enterprises/{tenant.enterprise_id}/status",
        json={"status": "suspended", "reason": "F0 at the gate"},
        headers=province,
    )
    assert r.status_code == 200, r.text
    after = await stack.http.get("/api/v1/public/safe-enterprises", params={"district": DISTRICT_A})
    assert after.json()["items"] == []
